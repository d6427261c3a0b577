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
from tests.banks.conftest import md5_of, pdq_of
from tests.exchanges.conftest import Fetch, MakeExchange, live_values

TOKEN = "1234567890|abcdefghijklmnopqrstuvwxyz"


class FakeThreatExchange(FakeService):
    """``/<group>/threat_updates/`` pages of 2, linked by ``paging.next``."""

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
        start = int(request.query.get("after", "0"))
        page = self.updates[start : start + 2]
        body: dict[str, Any] = {"data": page}
        if start + 2 < len(self.updates):
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
    name = make_exchange(
        "te",
        "fb_threatexchange",
        {"privacy_group": 77, "base_url": url},
        credentials={"access_token": TOKEN},
    )
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
    fake.updates = [update(1, "HASH_PDQ", pdq_of(1), delete=True)]
    assert fetch(name).removed == 1
    assert ("pdq", pdq_of(1)) not in live_values(db, bank.id)


def test_a_bad_token_fails_in_plain_words(
    te: tuple[FakeThreatExchange, str], make_exchange: MakeExchange, fetch: Fetch
) -> None:
    _fake, url = te
    name = make_exchange(
        "te",
        "fb_threatexchange",
        {"privacy_group": 77, "base_url": url},
        credentials={"access_token": "nope-not-a-token"},
    )
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
    name = make_exchange(
        "te",
        "fb_threatexchange",
        {"privacy_group": 77, "base_url": url},
        credentials={"access_token": TOKEN},
    )
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
    """pytx sends the first request's parameters, the access token among them, with every
    paging link: a link that leads away from the exchange's address must not be followed."""
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
        name = make_exchange(
            "te",
            "fb_threatexchange",
            {"privacy_group": 77, "base_url": url},
            credentials={"access_token": TOKEN},
        )
        run = fetch(name)
    assert other.requests == []
    assert run.status == "failed"
    assert "leads away from the exchange's address" in (run.error or ""), run.error
    assert len(fake.requests) == 1
    assert len(live_values(db, bank.id)) == 2  # the first page was applied
