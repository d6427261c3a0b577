"""ThreatExchange through pytx's client (wrapped) against a small local fake over HTTP."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from shieldwall.banks.models import Bank
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_http import FakeService, Fault, Reply, Request, Running
from shieldwall.integrations.exchanges.base import LOOKBACK_SECONDS
from tests.banks.conftest import md5_of, pdq_of
from tests.exchanges.conftest import Fetch, MakeExchange, checkpoint_of, live_values

TOKEN = "1234567890|abcdefghijklmnopqrstuvwxyz"


class FakeThreatExchange(FakeService):
    """``/<group>/threat_updates/`` pages of 2, linked by ``paging.next``; updates whose
    ``last_updated`` is from ``start_time`` to ``stop_time`` (ThreatExchange's clock)."""

    def __init__(self) -> None:
        super().__init__()
        self.updates: list[dict[str, Any]] = []
        self.base = ""

    def handle(self, request: Request) -> Reply:
        token = request.query.get("access_token", "")
        if token != TOKEN:
            # the Graph API's shape; this one repeats the token it was given
            error = {
                "message": f"Invalid OAuth access token - Cannot parse access token {token}",
                "type": "OAuthException",
                "code": 190,
                "fbtrace_id": "AbCdEf",
            }
            return Reply(400, json.dumps({"error": error}).encode())
        # as ThreatExchange: updates last changed from start_time to stop_time
        since = int(request.query.get("start_time") or 0)
        until = int(request.query.get("stop_time") or 2**62)
        found = [u for u in self.updates if since <= u["last_updated"] <= until]
        start = int(request.query.get("after", "0"))
        page = found[start : start + 2]
        body: dict[str, Any] = {"data": page}
        if start + 2 < len(found):
            query = {**request.query, "after": str(start + 2)}
            body["paging"] = {"next": f"{self.base}{request.path}?{urlencode(query)}"}
        return Reply(200, json.dumps(body).encode(), {"Content-Type": "application/json"})


def update(i: int, kind: str, value: str, *, delete: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "id": str(1000 + i),
        "indicator": value,
        "type": kind,
        "should_delete": delete,
        "last_updated": 1_700_000_000 + i,
        "tags": [],
        "descriptors": {},
        **extra,
    }


@pytest.fixture
def te() -> Iterator[tuple[FakeThreatExchange, str]]:
    fake = FakeThreatExchange()
    with Running(fake) as server:
        fake.base = server.url
        yield fake, server.url


def te_exchange(make_exchange: MakeExchange, url: str, token: str = TOKEN) -> str:
    """The exchange "te": privacy group 77 at the fake's ``url``."""
    return make_exchange(
        "te",
        "fb_threatexchange",
        {"privacy_group": 77, "base_url": url},
        credentials={"access_token": token},
    )


def test_threat_updates_are_fetched_mapped_and_deleted(
    te: tuple[FakeThreatExchange, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
) -> None:
    fake, url = te
    fake.updates = [
        update(1, "HASH_PDQ", pdq_of(1)),
        update(2, "HASH_MD5", md5_of(2), tags=["media_type_video"]),
        update(3, "HASH_VIDEO_MD5", md5_of(3)),
        update(4, "URI", "http://example.invalid/x"),  # not a signal we use
        update(5, "HASH_PDQ", "zz"),
    ]
    name = te_exchange(make_exchange, url)
    fake.faults.append(Fault("status", 503))
    run = fetch(name)
    assert run.status == "succeeded", run.error
    assert (run.added, run.skipped, run.quarantined) == (3, 1, 1)
    assert set(live_values(db, bank.id)) == {
        ("pdq", pdq_of(1)),
        ("video_md5", md5_of(2)),
        ("video_md5", md5_of(3)),
    }
    assert all(r.path == "/77/threat_updates/" for r in fake.requests)
    # the deletion is an update of its own, newer than those before it
    fake.updates = [update(1, "HASH_PDQ", pdq_of(1), delete=True, last_updated=1_700_000_100)]
    assert fetch(name).removed == 1
    assert ("pdq", pdq_of(1)) not in live_values(db, bank.id)


def test_a_bad_token_fails_in_plain_words(
    te: tuple[FakeThreatExchange, str], make_exchange: MakeExchange, fetch: Fetch
) -> None:
    _fake, url = te
    name = te_exchange(make_exchange, url, "nope-not-a-token")
    run = fetch(name)
    assert run.status == "failed"
    assert run.error == (
        "ThreatExchange: the source answered 400 Bad Request (it says: OAuthException 190 "
        "Invalid OAuth access token - Cannot parse access token ***)"
    )


@pytest.mark.parametrize("fault", ["garbage", "deep"])
def test_a_page_that_cannot_be_read_fails_in_plain_words_and_keeps_progress(
    te: tuple[FakeThreatExchange, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
    fault: str,
) -> None:
    """Not JSON, or JSON nested past the decoder's recursion limit: either is the source's
    fault, said as such (not an internal error), and the pages before it are kept."""
    fake, url = te
    fake.updates = [update(i, "HASH_PDQ", pdq_of(i)) for i in range(4)]
    name = te_exchange(make_exchange, url)
    original = fake.dispatch

    def second_page_bad(request: Request) -> Reply:
        reply = original(request)
        if len(fake.requests) == 1:  # the first page is fine; the next one is not
            fake.faults.append(Fault(fault))
        return reply

    fake.dispatch = second_page_bad  # type: ignore[method-assign]
    run = fetch(name)
    assert run.status == "failed"
    expected = "nested too deeply" if fault == "deep" else "is not JSON"
    assert expected in (run.error or ""), run.error
    assert "internal error" not in (run.error or "")
    assert len(live_values(db, bank.id)) == 2


@pytest.mark.parametrize("elsewhere", ["another port", "user info naming us", "user info"])
def test_a_paging_link_to_another_address_is_not_followed(
    te: tuple[FakeThreatExchange, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
    elsewhere: str,
) -> None:
    """pytx requests whatever paging link the server sends, and the Graph API's links carry
    the access token in their query (the fake's too): a link that leads away from the
    exchange's address must not be followed."""
    fake, url = te
    fake.updates = [update(i, "HASH_PDQ", pdq_of(i)) for i in range(4)]
    other = FakeThreatExchange()
    with Running(other) as server:
        ours = url.split("://", 1)[1]
        fake.base = {
            "another port": server.url,
            # http://<our host:port>@<their host:port>: the host is theirs
            "user info naming us": server.url.replace("://", f"://{ours}@", 1),
            "user info": url.replace("://", "://someone@", 1),
        }[elsewhere]
        name = te_exchange(make_exchange, url)
        run = fetch(name)
    assert other.requests == []
    assert run.status == "failed"
    assert "leads away from the exchange's address" in (run.error or ""), run.error
    assert len(fake.requests) == 1
    assert len(live_values(db, bank.id)) == 2  # the first page was applied


T_TE = 1_700_000_000  # "now" on ThreatExchange's clock in these tests


def test_progress_follows_threatexchanges_clock_not_ours(
    te: tuple[FakeThreatExchange, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
) -> None:
    # our clock runs an hour ahead of ThreatExchange's; what it records after our first
    # pass (at its own time, still before ours) must reach the second pass
    fake, url = te
    fake.updates = [update(i, "HASH_PDQ", pdq_of(i)) for i in range(3)]
    name = te_exchange(make_exchange, url)
    ahead = float(T_TE + 3600)
    assert fetch(name, wall_clock=lambda: ahead).added == 3
    fake.updates.append(update(10, "HASH_PDQ", pdq_of(10)))  # last_updated T_TE + 10
    second = fetch(name, wall_clock=lambda: ahead + 60)
    assert second.status == "succeeded", second.error
    assert second.added == 1
    assert ("pdq", pdq_of(10)) in live_values(db, bank.id)
    checkpoint = checkpoint_of(db, name)
    assert checkpoint == {"since": T_TE + 10, "fetched_at": int(ahead) + 60}


def test_a_checkpoint_older_than_threatexchange_keeps_deletions_is_fetched_afresh(
    te: tuple[FakeThreatExchange, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
) -> None:
    # ThreatExchange keeps deletions for 90 days: after a longer pause an update deleted in
    # between is simply absent, tombstone and all. A pass from the start, as a snapshot,
    # removes it; an incremental pass could not know.
    fake, url = te
    fake.updates = [update(i, "HASH_PDQ", pdq_of(i)) for i in range(3)]
    name = te_exchange(make_exchange, url)
    assert fetch(name, wall_clock=lambda: float(T_TE + 100)).added == 3
    del fake.updates[1]  # deleted, and its tombstone since expired

    soon = fetch(name, wall_clock=lambda: float(T_TE + 86_400))
    assert soon.status == "succeeded", soon.error
    assert ("pdq", pdq_of(1)) in live_values(db, bank.id)  # an incremental pass: kept
    assert "start_time" in fake.requests[-1].query

    later = fetch(name, wall_clock=lambda: float(T_TE + 87 * 86_400))
    assert later.status == "succeeded", later.error
    assert later.removed == 1
    assert set(live_values(db, bank.id)) == {("pdq", pdq_of(0)), ("pdq", pdq_of(2))}
    assert "start_time" not in fake.requests[-1].query  # from the start


@pytest.mark.parametrize(
    "body",
    [
        b"[1, 2]",
        b'{"data": [], "paging": "next"}',
        b'{"paging": {"next": 5}}',
    ],
)
def test_a_page_of_the_wrong_shape_fails_in_plain_words(
    te: tuple[FakeThreatExchange, str], make_exchange: MakeExchange, fetch: Fetch, body: bytes
) -> None:
    fake, url = te
    fake.handle = lambda request: Reply(200, body, {"Content-Type": "application/json"})  # type: ignore[method-assign]
    run = fetch(te_exchange(make_exchange, url))
    assert run.status == "failed"
    assert "a ThreatExchange page" in (run.error or "")
    assert "internal error" not in (run.error or "")


def test_a_page_whose_data_is_not_a_list_is_skipped_and_the_pass_goes_on(
    te: tuple[FakeThreatExchange, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
) -> None:
    fake, url = te
    fake.updates = [update(i, "HASH_PDQ", pdq_of(i)) for i in range(4)]  # two pages
    real = fake.handle

    def first_page_mangled(request: Request) -> Reply:
        reply = real(request)
        if "after" not in request.query:
            body = json.loads(reply.body)
            body["data"] = {"not": "a list"}
            return Reply(200, json.dumps(body).encode(), reply.headers)
        return reply

    name = te_exchange(make_exchange, url)
    assert fetch(name, wall_clock=lambda: float(T_TE + 100)).added == 4
    fake.handle = first_page_mangled  # type: ignore[method-assign]
    # long after: a pass from the start (a snapshot) whose first page is unreadable
    run = fetch(name, wall_clock=lambda: float(T_TE + 100 * 86_400))
    assert run.status == "succeeded", run.error
    assert (run.quarantined, run.removed) == (1, 0)  # nothing removed for what went unread
    assert len(live_values(db, bank.id)) == 4
    assert checkpoint_of(db, name) == {
        "since": T_TE + 3,
        "fetched_at": T_TE + 100 * 86_400,
    }


def test_an_update_that_shows_up_behind_the_checkpoint_is_read_by_the_next_pass(
    te: tuple[FakeThreatExchange, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
) -> None:
    fake, url = te
    fake.updates = [update(i, "HASH_PDQ", pdq_of(i)) for i in (0, 1, 50)]
    name = te_exchange(make_exchange, url)
    assert fetch(name, wall_clock=lambda: float(T_TE + 100)).added == 3
    fake.updates.append(update(20, "HASH_PDQ", pdq_of(20)))  # visible only now, stamped +20
    run = fetch(name, wall_clock=lambda: float(T_TE + 200))
    assert (run.status, run.added) == ("succeeded", 1), run.error
    assert ("pdq", pdq_of(20)) in live_values(db, bank.id)


def failing_after(fake: FakeThreatExchange, pages: int) -> None:
    """The fake answers ``pages`` requests, then 403s (a run cut short after them)."""
    real, served = fake.handle, [0]

    def handle(request: Request) -> Reply:
        served[0] += 1
        return real(request) if served[0] <= pages else Reply(403, b"{}")

    fake.handle = handle  # type: ignore[method-assign]


def test_a_pass_cut_short_resumes_where_it_stopped(
    te: tuple[FakeThreatExchange, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
) -> None:
    # updates come in last_updated order, two a page: progress is kept page by page
    fake, url = te
    fake.updates = [update(100 * i, "HASH_PDQ", pdq_of(i)) for i in range(6)]
    name = te_exchange(make_exchange, url)
    failing_after(fake, 2)
    cut = fetch(name, wall_clock=lambda: float(T_TE + 10_000))
    assert (cut.status, cut.added) == ("failed", 4)
    checkpoint = checkpoint_of(db, name)
    assert checkpoint is not None
    assert checkpoint["since"] == T_TE + 300  # the newest of the pages applied
    assert checkpoint["snapshot_at"] == T_TE + 10_000  # a first pass is a snapshot
    del fake.handle  # answers again
    before = len(fake.requests)
    rest = fetch(name, wall_clock=lambda: float(T_TE + 10_100))
    assert (rest.status, rest.added) == ("succeeded", 2), rest.error
    assert fake.requests[before].query["start_time"] == str(T_TE + 300 - LOOKBACK_SECONDS)
    assert len(live_values(db, bank.id)) == 6


def test_a_snapshot_pass_cut_short_sweeps_by_the_time_it_began(
    te: tuple[FakeThreatExchange, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
) -> None:
    fake, url = te
    fake.updates = [update(100 * i, "HASH_PDQ", pdq_of(i)) for i in range(6)]
    name = te_exchange(make_exchange, url)
    assert fetch(name, wall_clock=lambda: float(T_TE + 1_000)).added == 6
    del fake.updates[5]  # gone, tombstone expired
    stale = float(T_TE + 100 * 86_400)
    failing_after(fake, 1)  # the snapshot pass stops after its first page
    assert fetch(name, wall_clock=lambda: stale).status == "failed"
    checkpoint = checkpoint_of(db, name) or {}
    assert "snapshot" in checkpoint
    del fake.handle  # answers again
    done = fetch(name, wall_clock=lambda: stale + 3600)
    assert (done.status, done.removed) == ("succeeded", 1), done.error
    # the first page's updates, seen by the first run of the pass, are kept
    assert {v for _, v in live_values(db, bank.id)} == {pdq_of(i) for i in range(5)}
    assert checkpoint_of(db, name) == {
        "since": T_TE + 400,
        "fetched_at": int(stale) + 3600,
    }


def test_a_first_pass_over_old_updates_that_lost_a_page_resumes_not_restarts(
    te: tuple[FakeThreatExchange, str],
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
) -> None:
    # updates last changed long ago (ThreatExchange's clock); a first pass whose first page
    # is unreadable is no snapshot any more, and is cut short after its second page: the
    # next run resumes from the newest update seen, it does not take that old time for an
    # old pass and start again
    fake, url = te
    fake.updates = [update(100 * i, "HASH_PDQ", pdq_of(i)) for i in range(6)]
    name = te_exchange(make_exchange, url)
    real = fake.handle
    served = [0]

    def mangled_then_cut(request: Request) -> Reply:
        served[0] += 1
        if served[0] == 1:
            reply = real(request)
            body = json.loads(reply.body)
            body["data"] = "not a list"
            return Reply(200, json.dumps(body).encode(), reply.headers)
        return real(request) if served[0] == 2 else Reply(403, b"{}")

    fake.handle = mangled_then_cut  # type: ignore[method-assign]
    now = float(T_TE + 200 * 86_400)
    cut = fetch(name, wall_clock=lambda: now)
    assert (cut.status, cut.added, cut.quarantined) == ("failed", 2, 1)
    del fake.handle
    before = len(fake.requests)
    rest = fetch(name, wall_clock=lambda: now + 60)
    assert rest.status == "succeeded", rest.error
    assert fake.requests[before].query["start_time"] == str(T_TE + 300 - LOOKBACK_SECONDS)
