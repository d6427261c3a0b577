"""NCMEC hash sharing through pytx's client (wrapped) against the local fake, over HTTP."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
from threatexchange.exchanges.clients.ncmec import hash_api as pytx_api

from shieldwall.banks.models import Bank
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_http import Fault, Running
from shieldwall.devtools.fake_ncmec import FakeNcmec, entry, md5_for, parse_time, pdq_for
from shieldwall.exchanges import service
from shieldwall.integrations.exchanges.ncmec import ncmec_time
from tests.exchanges.conftest import (
    NCMEC_CREDENTIALS,
    Fetch,
    MakeExchange,
    checkpoint_of,
    live_values,
)

Ncmec = tuple[FakeNcmec, str]
T0 = 1_700_000_000


def make(make_exchange: MakeExchange, url: str, **settings: Any) -> str:
    return make_exchange(
        "ncmec",
        "ncmec",
        {"environment": "test_Industry", "base_url": url, **settings},
        credentials=NCMEC_CREDENTIALS,
    )


def image(i: int, *, ts: int | None = None, **kw: Any) -> dict[str, Any]:
    kw.setdefault("fingerprints", {"md5": md5_for(i), "pdq": pdq_for(i), "pdna": "x" * 20})
    return entry(f"image{i}", ts=T0 + i if ts is None else ts, **kw)


def test_a_full_fetch_maps_fingerprints_and_classifications(
    ncmec: Ncmec, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = ncmec
    fake.add(*(image(i) for i in range(23)))
    fake.add(
        entry(
            "video1",
            ts=T0 + 50,
            kind="video",
            classification="B2",
            fingerprints={"md5": md5_for(900), "sha1": "a" * 40, "tmk_pdqf": "zz"},
        ),
        entry("image-pdna-only", ts=T0 + 51, fingerprints={"pdna": "y" * 20}),
    )
    name = make(make_exchange, url)
    run = fetch(name)
    assert run.status == "succeeded", run.error
    assert (run.records, run.skipped, run.quarantined) == (25, 1, 0)
    assert run.added == 23 * 2 + 2
    values = live_values(db, bank.id)
    assert values[("md5", md5_for(3))] == ["A1"]
    assert values[("pdq", pdq_for(3))] == ["A1"]
    assert values[("video_md5", md5_for(900))] == ["B2"]
    assert values[("sha1", "a" * 40)] == ["B2"]
    # every request carried the credentials, and windows are in UTC
    assert all(r.headers.get("authorization", "").startswith("Basic ") for r in fake.requests)
    assert fake.windows[0][0] == 0


def test_deleted_entries_leave_the_bank_unless_another_entry_still_carries_the_hash(
    ncmec: Ncmec, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = ncmec
    shared = md5_for(7)
    fake.add(
        image(1), image(2), entry("image3", ts=T0 + 3, member=43, fingerprints={"md5": shared})
    )
    fake.add(entry("image4", ts=T0 + 4, fingerprints={"md5": shared}))
    name = make(make_exchange, url)
    assert fetch(name, wall_clock=lambda: T0 + 1000).status == "succeeded"
    assert len(live_values(db, bank.id)) == 5
    fake.add(
        entry("image1", ts=T0 + 2000, deleted=True),
        entry("image3", ts=T0 + 2000, member=43, deleted=True),
    )
    run = fetch(name, wall_clock=lambda: T0 + 3000)
    assert run.status == "succeeded", run.error
    assert run.removed == 2  # image1's md5 and pdq; the shared md5 stays (image4 has it)
    values = live_values(db, bank.id)
    assert ("md5", md5_for(1)) not in values
    assert ("pdq", pdq_for(1)) not in values
    assert ("md5", shared) in values
    fake.add(entry("image4", ts=T0 + 3500, deleted=True))
    assert fetch(name, wall_clock=lambda: T0 + 4000).removed == 1
    assert ("md5", shared) not in live_values(db, bank.id)


def test_a_record_that_changes_its_fingerprints_or_classification_is_updated(
    ncmec: Ncmec, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = ncmec
    fake.add(image(1))
    name = make(make_exchange, url)
    fetch(name, wall_clock=lambda: T0 + 1000)
    fake.add(
        entry(
            "image1",
            ts=T0 + 2000,
            classification="A2",
            fingerprints={"md5": md5_for(1), "sha1": "b" * 40},
        )
    )
    run = fetch(name, wall_clock=lambda: T0 + 3000)
    assert (run.added, run.removed, run.updated) == (1, 1, 1)
    values = live_values(db, bank.id)
    assert values == {("md5", md5_for(1)): ["A2"], ("sha1", "b" * 40): ["A2"]}


def test_malformed_entries_are_quarantined_and_the_rest_applied(
    ncmec: Ncmec, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = ncmec
    fake.add(image(1), image(2))
    fake.add(
        {"ts": T0 + 3, "raw": "<image><member id='42'/><fingerprints/></image>"},  # no id
        {"ts": T0 + 4, "raw": "<image><id>nomember</id></image>"},
        {"ts": T0 + 5, "raw": "<sculpture><id>s1</id><member id='42'/></sculpture>"},
        image(6, fingerprints={"pdq": pdq_for(6)[:32], "md5": md5_for(6)}),  # corrupt PDQ
        image(7, fingerprints={"pdq": "zz" * 32}),
        image(8, classification="not a label!"),
    )
    name = make(make_exchange, url)
    run = fetch(name)
    assert run.status == "succeeded", run.error
    values = live_values(db, bank.id)
    assert ("md5", md5_for(6)) in values  # the good half of image6
    assert ("pdq", pdq_for(6)[:32]) not in values
    assert not any(v == "zz" * 32 for _, v in values)
    with db.session() as session:
        quarantine = {q.record_id: q.reason for q in service.status(session, name).quarantine}
    assert len(quarantine) == 6
    assert any("no <id>" in r for r in quarantine.values())
    assert "no <member>" in quarantine["-nomember"]
    assert any("unknown entry type" in r for r in quarantine.values())
    assert "other signals were used" in quarantine["42-image6"]
    assert "non-hex" in quarantine["42-image7"]
    assert "malformed" in quarantine["42-image8"]


def test_a_page_that_is_not_xml_is_skipped_by_position_and_reported(
    ncmec: Ncmec, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = ncmec
    fake.add(*(image(i) for i in range(30)))  # three pages of ten
    name = make(make_exchange, url)
    # page 2 is garbage twice in a row (first answer and the one retry)
    fake.faults.extend([Fault("garbage", path=None)])
    original = fake.dispatch
    calls = {"n": 0}

    def garble_second_page(request: Any) -> Any:
        if "start=11" in str(request.query) or request.query.get("start") == "11":
            calls["n"] += 1
            if calls["n"] <= 2:
                fake.faults.appendleft(Fault("garbage"))
        return original(request)

    fake.faults.clear()
    fake.dispatch = garble_second_page  # type: ignore[method-assign]
    run = fetch(name)
    assert run.status == "succeeded", run.error
    assert run.quarantined == 1
    values = live_values(db, bank.id)
    assert len(values) == 40  # pages 1 and 3: 20 entries x (md5, pdq)
    with db.session() as session:
        (item,) = service.status(session, name).quarantine
    assert "not readable XML" in item.reason
    assert "skipped" in item.reason


def test_many_entries_in_one_second_are_fetched_across_time_limited_runs(
    ncmec: Ncmec, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = ncmec
    fake.add(*(image(i, ts=T0) for i in range(35)))  # all in the same second
    name = make(make_exchange, url)
    added = [fetch(name, max_pages=1).added for _ in range(4)]
    assert added == [20, 20, 20, 10]  # md5 + pdq per entry, ten entries a page
    checkpoint = checkpoint_of(db, name)
    assert checkpoint is not None
    assert "next" not in checkpoint  # the window is complete
    assert len(live_values(db, bank.id)) == 70


def test_429_and_5xx_are_retried_and_pages_that_never_end_are_bounded(
    ncmec: Ncmec, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = ncmec
    fake.add(*(image(i) for i in range(12)))
    name = make(make_exchange, url)
    fake.faults.extend([Fault("status", 429, retry_after="3"), Fault("status", 500)])
    waits: list[float] = []
    run = fetch(name, sleep=waits.append)
    assert run.status == "succeeded", run.error
    assert waits[0] == 3.0
    assert len(waits) == 2
    fake.endless = True
    with db.session() as session:
        exchange = service.get_exchange(session, name)
        exchange.checkpoint = None
    run = fetch(name, time_limit=1.0)
    assert run.status == "partial"
    assert "time limit" in (run.error or "")


def test_wrong_credentials_fail_with_a_plain_reason(
    ncmec: Ncmec, make_exchange: MakeExchange, fetch: Fetch
) -> None:
    _fake, url = ncmec
    name = make_exchange(
        "ncmec-bad",
        "ncmec",
        {"base_url": url},
        credentials={"username": "someone", "password": "wrong"},
    )
    run = fetch(name)
    assert run.status == "failed"
    assert "401" in (run.error or "")
    assert "credentials" in (run.error or "")


def test_member_filter_keeps_only_the_chosen_members(
    ncmec: Ncmec, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = ncmec
    fake.add(image(1, member=42), image(2, member=43))
    name = make(make_exchange, url, member_ids=[43])
    run = fetch(name)
    assert (run.skipped, run.added) == (1, 2)
    assert set(live_values(db, bank.id)) == {("md5", md5_for(2)), ("pdq", pdq_for(2))}


@pytest.fixture
def new_york() -> Iterator[None]:
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("TZ", None)
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.mark.usefixtures("new_york")
def test_windows_are_utc_whatever_the_servers_time_zone(
    ncmec: Ncmec, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    # pytx formats local time with a Z: five hours off in New York
    assert pytx_api._date_format(T0) != ncmec_time(T0)
    assert ncmec_time(T0) == "2023-11-14T22:13:20Z"
    fake, url = ncmec
    # an entry from the last minute: a window ending in local time "Z" would miss it
    fake.add(image(1, ts=int(time.time()) - 30))
    name = make(make_exchange, url)
    run = fetch(name)
    assert run.added == 2
    _start, end = fake.windows[-1]
    assert abs(end - time.time()) < 60


def test_large_windows_are_narrowed_before_they_are_read(
    ncmec: Ncmec,
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shieldwall.integrations.exchanges import ncmec as adapter

    monkeypatch.setattr(adapter, "WINDOW_MAX_ENTRIES", 30)
    monkeypatch.setattr(adapter, "WINDOW_TARGET_ENTRIES", 20)
    fake, url = ncmec
    # 200 entries, one every 10 seconds
    fake.add(*(image(i, ts=T0 + 10 * i) for i in range(200)))
    name = make(make_exchange, url)
    run = fetch(name, wall_clock=lambda: T0 + 3000)
    assert run.status == "succeeded", run.error
    assert len(live_values(db, bank.id)) == 400
    # the first window (everything) was only probed; every window read after that held at
    # most WINDOW_MAX_ENTRIES entries by NCMEC's count
    assert fake.windows[0] == (0, T0 + 3000 - 5)

    def held(query: dict[str, str]) -> int:
        lo, hi = parse_time(query["from"]), parse_time(query["to"])
        return sum(lo <= T0 + 10 * i <= hi for i in range(200))

    entries = [r.query for r in fake.requests if r.path.endswith("/v2/entries")]
    # only the first page of a window that holds too many is asked for; every page past
    # the first is of a window of at most WINDOW_MAX_ENTRIES
    assert any(held(q) > 30 for q in entries)
    assert all(held(q) <= 30 for q in entries if "start" in q)
    assert any("start" in q for q in entries)
    # the windows whose pages were read tile the range: each entry read once (or twice, on
    # the edge two windows share; applying it again changes nothing)
    assert 200 <= run.records <= 200 + len(fake.windows)
    too_big = [
        w for w in fake.windows if held({"from": ncmec_time(w[0]), "to": ncmec_time(w[1])}) > 30
    ]
    assert 1 <= len(too_big) <= 20  # shrink fast: each probe cuts a window tenfold


def test_windows_widen_again_after_quiet_stretches(
    ncmec: Ncmec,
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from shieldwall.integrations.exchanges import ncmec as adapter

    monkeypatch.setattr(adapter, "WINDOW_MAX_ENTRIES", 30)
    monkeypatch.setattr(adapter, "WINDOW_TARGET_ENTRIES", 20)
    fake, url = ncmec
    # a dense first stretch, then ten entries over a long quiet one
    fake.add(*(image(i, ts=T0 + i) for i in range(100)))
    fake.add(*(image(100 + i, ts=T0 + 100 + 10_000 * i) for i in range(10)))
    name = make(make_exchange, url)
    run = fetch(name, wall_clock=lambda: T0 + 100_005)
    assert run.status == "succeeded", run.error
    assert len(live_values(db, bank.id)) == 220
    spans = [end - start for start, end in fake.windows]
    narrowest = min(spans)
    assert spans[-1] >= 8 * narrowest  # widened again, instead of crawling the quiet years
    assert len(fake.windows) < 120


@pytest.mark.parametrize("link", ["user info", "absolute"])
def test_a_paging_link_to_another_address_is_not_followed(
    ncmec: Ncmec, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank, link: str
) -> None:
    """Paging links are paths under the exchange's address, and every request carries the
    exchange's credentials: a link that would take them elsewhere is refused, before it is
    kept in the checkpoint. (Here the address has no path, so ``@host`` after it would
    become the host.)"""
    fake, url = ncmec
    fake.add(*(image(i) for i in range(15)))
    other = FakeNcmec(page_size=10)
    with Running(other) as server:
        here = url.removesuffix("/hashsharing")
        fake.link_prefix = {
            "user info": "@" + server.url.split("://", 1)[1],
            "absolute": server.url,
        }[link]
        name = make(make_exchange, here)
        run = fetch(name)
    assert other.requests == []
    assert run.status == "failed"
    assert "leads away from the exchange's address" in (run.error or ""), run.error
    with db.session() as session:
        assert "next" not in (service.get_exchange(session, name).checkpoint or {})
    assert live_values(db, bank.id) == {}


def test_a_kept_paging_link_is_checked_again_before_it_is_followed(
    ncmec: Ncmec, make_exchange: MakeExchange, fetch: Fetch, db: Database
) -> None:
    fake, url = ncmec
    fake.add(*(image(i) for i in range(15)))
    other = FakeNcmec(page_size=10)
    with Running(other) as server:
        here = url.removesuffix("/hashsharing")
        name = make(make_exchange, here)
        with db.session() as session:
            service.get_exchange(session, name).checkpoint = {
                "from": T0,
                "to": T0 + 100,
                "next": "@" + server.url.split("://", 1)[1] + "/v2/entries?start=11",
                "next_at": int(time.time()),
            }
        run = fetch(name)
    assert other.requests == []
    assert run.status == "failed"
    assert "leads away from the exchange's address" in (run.error or ""), run.error


# A page in the shape NCMEC's v2 documentation gives (values are ours): entries carry a
# <feedback> block with members of its own, large video fingerprints are links (href) to
# fetch separately, and deletions are <deletedImage>/<deletedVideo>.
DOCUMENTED_PAGE = f"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2">
  <images count="2" maxTimestamp="2024-03-02T10:00:00Z">
    <image>
      <member id="42">Example ESP</member>
      <timestamp>2024-03-02T09:00:00Z</timestamp>
      <id>doc-image-1</id>
      <classification>A1</classification>
      <fingerprints>
        <md5>{md5_for(501)}</md5>
        <sha1>{"c" * 40}</sha1>
        <pdq>{pdq_for(501)}</pdq>
        <pdna>{"d" * 40}...</pdna>
      </fingerprints>
      <feedback lastUpdateTimestamp="2024-03-01T12:00:00Z">
        <affirmativeFeedback type="Md5" lastUpdateTimestamp="2024-03-01T12:00:00Z">
          <members timestamp="2024-03-01T12:00:00Z"><member id="7">Another ESP</member></members>
        </affirmativeFeedback>
        <negativeFeedback type="Sha1" lastUpdateTimestamp="2024-03-01T12:00:00Z">
          <reasons>
            <reason guid="fp-guid-9" name="Not CSAM" type="Sha1"/>
            <members timestamp="2024-03-01T12:00:00Z"><member id="8">Third ESP</member></members>
          </reasons>
        </negativeFeedback>
      </feedback>
    </image>
    <deletedImage>
      <member id="43">Other ESP</member>
      <id>doc-image-2</id>
      <timestamp>2024-03-02T10:00:00Z</timestamp>
    </deletedImage>
  </images>
  <videos count="2" maxTimestamp="2024-03-02T10:30:00Z">
    <video>
      <member id="42">Example ESP</member>
      <timestamp>2024-03-02T10:00:00Z</timestamp>
      <id>doc-video-1</id>
      <classification>B2</classification>
      <fingerprints>
        <md5>{md5_for(502)}</md5>
        <tmk-pdqf rel="self" href="/v2/entries/1/fingerprints/TMK_PDQF"/>
        <videntifier rel="self" href="/v2/entries/1/fingerprints/VIDENTIFIER"/>
      </fingerprints>
      <feedback />
    </video>
    <deletedVideo>
      <member id="42">Example ESP</member>
      <id>doc-video-2</id>
      <timestamp>2024-03-02T10:30:00Z</timestamp>
    </deletedVideo>
  </videos>
  <paging>
    <next>/v2/entries?from=2024-03-01T00%3A00%3A00.000Z&amp;to=2024-03-03T00%3A00%3A00.000Z&amp;start=1001&amp;size=1000&amp;max=1004</next>
  </paging>
</queryResult>"""


def test_a_page_in_the_documented_shape_is_read_whole() -> None:
    """Feedback blocks (whose <member>s are not the entry's), fingerprints given as links,
    and deletions of both kinds: every entry is read, none is refused."""
    from shieldwall.integrations.exchanges.ncmec import parse_entries, parse_xml

    records, rejected, skipped = parse_entries(parse_xml(DOCUMENTED_PAGE.encode()))
    assert rejected == []
    assert skipped == 0
    by_id = {r.record_id: r for r in records}
    assert set(by_id) == {"42-doc-image-1", "43-doc-image-2", "42-doc-video-1", "42-doc-video-2"}
    image = by_id["42-doc-image-1"]
    assert dict(image.signals) == {"md5": md5_for(501), "sha1": "c" * 40, "pdq": pdq_for(501)}
    assert image.labels == ("A1",)
    assert by_id["42-doc-video-1"].signals == (("video_md5", md5_for(502)),)
    assert by_id["42-doc-video-1"].labels == ("B2",)
    assert by_id["43-doc-image-2"].deleted
    assert by_id["42-doc-video-2"].deleted
    # only the entries' own member counts for the member filter
    records, _, skipped = parse_entries(parse_xml(DOCUMENTED_PAGE.encode()), frozenset({7, 8}))
    assert (records, skipped) == ([], 4)


def test_an_entry_stamped_behind_our_clock_is_still_read_by_the_next_pass(
    ncmec: Ncmec, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    # NCMEC's clock runs two minutes behind ours: an entry it records just after our pass
    # carries a time that pass had already gone past. The next pass starts a little
    # earlier than the last one ended, and reads it.
    fake, url = ncmec
    fake.add(*(image(i) for i in range(3)))
    name = make(make_exchange, url)
    ours = T0 + 1000
    assert fetch(name, wall_clock=lambda: ours).added == 6
    fake.add(image(7, ts=ours - 120 + 10))  # its "now", a moment after our pass
    run = fetch(name, wall_clock=lambda: ours + 60)
    assert run.status == "succeeded", run.error
    assert run.added == 2
    assert ("pdq", pdq_for(7)) in live_values(db, bank.id)
    assert fake.windows[-1][0] == ours - 5 - 600  # where the last pass ended, less 10 min
