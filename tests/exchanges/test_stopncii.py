"""StopNCII through the real client against the local fake, over real HTTP."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from threatexchange.exchanges.clients.stopncii import api as pytx_api
from threatexchange.exchanges.impl import stop_ncii_api as pytx_impl

from shieldwall.banks.models import Bank, BankEntry
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_http import Fault
from shieldwall.devtools.fake_stopncii import FakeStopNcii, pdq_for, record
from shieldwall.exchanges import repository, service
from shieldwall.exchanges.models import Exchange
from shieldwall.integrations.exchanges.base import LOOKBACK_SECONDS
from tests.exchanges.conftest import (
    STOPNCII_CREDENTIALS,
    Fetch,
    MakeExchange,
    checkpoint_of,
    live_values,
)

Stop = tuple[FakeStopNcii, str]


def make(make_exchange: MakeExchange, url: str, **fields: Any) -> str:
    page_size = fields.pop("page_size", 10)
    return make_exchange(
        "stopncii",
        "stop_ncii",
        {"base_url": url, "page_size": page_size},
        credentials=STOPNCII_CREDENTIALS,
        **fields,
    )


def records(n: int, *, ts: int = 1_700_000_000, same_second: bool = False) -> list[dict]:
    return [record(pdq_for(i), ts=ts if same_second else ts + i) for i in range(n)]


def test_a_full_fetch_brings_every_hash_with_provenance(
    stopncii: Stop, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = stopncii
    fake.set_records(records(25))
    name = make(make_exchange, url, labels=["ncii"])
    run = fetch(name)
    assert run.status == "succeeded", run.error
    assert (run.pages, run.records, run.added, run.quarantined) == (3, 25, 25, 0)
    values = live_values(db, bank.id)
    assert set(values) == {("pdq", pdq_for(i)) for i in range(25)}
    assert all(labels == ["ncii"] for labels in values.values())
    with db.session() as session:
        entry = session.scalars(select(BankEntry).where(BankEntry.bank_id == bank.id)).first()
        exchange = repository.get_exchange_by_name(session, name)
        assert entry is not None
        assert exchange is not None
        assert entry.source == "exchange"
        assert entry.added_by == f"exchange:{exchange.id}"
        # a StopNCII record is named after its hash: the name is kept once, spelled out
        # from the entry where provenance is shown
        assert entry.source_record_id is None
        ((_, exchange_id, record_id, _),) = repository.items_for_entries(session, [entry.id])
        assert (exchange_id, record_id) == (exchange.id, f"ImagePDQ:{entry.value}")
        assert exchange.checkpoint == {"start": 1_700_000_024}
    # caught up: a second run asks from the checkpoint, less the look-back (records it
    # reads again change nothing), and keeps the checkpoint where it was
    again = fetch(name)
    assert (again.status, again.added, again.removed) == ("succeeded", 0, 0)
    assert fake.requests[-1].query["startTimestamp"] == str(1_700_000_024 - LOOKBACK_SECONDS)
    assert checkpoint_of(db, name) == {"start": 1_700_000_024}


def test_withdrawn_and_deleted_hashes_leave_the_bank(
    stopncii: Stop, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = stopncii
    fake.set_records(records(5))
    name = make(make_exchange, url)
    assert fetch(name).added == 5
    fake.upsert(record(pdq_for(1), ts=1_800_000_000, status="Withdrawn"))
    fake.upsert(record(pdq_for(3), ts=1_800_000_001, status="Deleted"))
    run = fetch(name)
    assert (run.status, run.removed) == ("succeeded", 2)
    assert set(live_values(db, bank.id)) == {("pdq", pdq_for(i)) for i in (0, 2, 4)}
    # the removal is soft and moves change_seq, so every server's index drops it
    with db.session() as session:
        gone = session.scalars(
            select(BankEntry).where(BankEntry.value == pdq_for(1), BankEntry.bank_id == bank.id)
        ).one()
        assert gone.removed_at is not None
        newest = session.scalar(select(BankEntry.change_seq).order_by(BankEntry.change_seq.desc()))
        assert gone.change_seq == newest
    # re-activated at the source: back in the bank
    fake.upsert(record(pdq_for(1), ts=1_800_000_002, status="Active"))
    assert fetch(name).added == 1
    assert ("pdq", pdq_for(1)) in live_values(db, bank.id)


def test_pytx_never_deletes_withdrawn_hashes_which_is_why_we_read_hash_status() -> None:
    """The bug our adapter fixes: pytx compares the hash value with the status."""
    withdrawn = pytx_api.StopNCIIHashRecord(
        lastModtimestamp=1,
        signalType=pytx_api.StopNCIISignalType.ImagePDQ,
        hashValue=pdq_for(1),
        hashStatus=pytx_api.StopNCIICaseStatus.Withdrawn,
        caseNumbers={},
    )
    _key, metadata = pytx_impl._get_delta_mapping(withdrawn)
    assert metadata is not None  # pytx keeps it as a live signal


def test_malformed_records_are_quarantined_and_the_rest_applied(
    stopncii: Stop, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = stopncii
    good = records(12)
    bad: list[Any] = [
        record("abc123", ts=1_700_000_003),  # a "PDQ" of the wrong length
        record(pdq_for(99)[:32], ts=1_700_000_004),  # a corrupt 32-character PDQ
        {**record(pdq_for(98), ts=1_700_000_005), "hashStatus": "Exploded"},
        {**record(pdq_for(97), ts=1_700_000_005), "signalType": "Martian"},
        "not an object",
        record(pdq_for(96), ts=1_700_000_006, kind="URL"),  # a type we do not use: skipped
    ]
    fake.set_records(good + bad)
    name = make_exchange(
        "stopncii",
        "stop_ncii",
        {"base_url": url, "page_size": 10, "start_timestamp": 0},
        credentials=STOPNCII_CREDENTIALS,
    )
    run = fetch(name)
    assert run.status == "succeeded", run.error
    assert (run.added, run.quarantined, run.skipped) == (12, 5, 1)
    assert set(live_values(db, bank.id)) == {("pdq", pdq_for(i)) for i in range(12)}
    with db.session() as session:
        status = service.status(session, name)
    reasons = sorted(q.reason for q in status.quarantine)
    assert len(reasons) == 5
    assert any("64 hex characters, got 32" in r for r in reasons)
    assert any("hashStatus" in r for r in reasons)
    assert any("signalType" in r for r in reasons)
    assert status.exchange.quarantined == 5
    # reasons never quote the hash values (the record id is the source's own: for
    # StopNCII, the signal type and the hash)
    for item in status.quarantine:
        assert pdq_for(99)[:32] not in item.reason
    # a second pass over the same bad records refreshes, not duplicates, the quarantine
    with db.session() as session:
        session.get(Exchange, status.exchange.id).checkpoint = None  # type: ignore[union-attr]
    fetch(name)
    with db.session() as session:
        again = service.status(session, name)
    assert len(again.quarantine) == 5
    assert all(q.times == 2 for q in again.quarantine)


def test_a_page_with_an_unreadable_records_list_is_skipped_not_stalled(
    stopncii: Stop, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = stopncii
    fake.set_records(records(20))
    name = make(make_exchange, url)
    original = fake._fetch

    def second_page_broken(request: Any) -> Any:
        reply = original(request)
        if request.query.get("nextPageToken") and not getattr(fake, "_broke", False):
            import json

            body = json.loads(reply.body)
            body["hashRecords"] = {"oops": True}
            reply.body = json.dumps(body).encode()
            fake._broke = True  # type: ignore[attr-defined]
        return reply

    fake._fetch = second_page_broken  # type: ignore[method-assign]
    run = fetch(name)
    assert run.status == "succeeded"
    assert (run.added, run.quarantined) == (10, 1)
    with db.session() as session:
        assert "hashRecords is not a list" in service.status(session, name).quarantine[0].reason


def test_an_unreadable_page_fails_the_run_in_plain_words_and_keeps_progress(
    stopncii: Stop, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = stopncii
    fake.set_records(records(30))
    name = make(make_exchange, url)
    fake._fetches = 0
    # the first page is fine; the second is garbage, then garbage again
    original = fake.dispatch
    calls = {"n": 0}

    def garbled(request: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            fake.faults.append(Fault("garbage"))
        return original(request)

    fake.dispatch = garbled  # type: ignore[method-assign]
    run = fetch(name)
    assert run.status == "failed"
    assert run.error is not None
    assert "not JSON" in run.error
    assert run.added == 10  # the first page was committed
    fake.dispatch = original  # type: ignore[method-assign]
    resumed = fetch(name)
    assert (resumed.status, resumed.added) == ("succeeded", 20)
    assert len(live_values(db, bank.id)) == 30


def test_429_and_5xx_are_retried_with_backoff(
    stopncii: Stop, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = stopncii
    fake.set_records(records(15))
    name = make(make_exchange, url)
    fake.faults.extend(
        [Fault("status", 429, retry_after="7"), Fault("status", 503), Fault("status", 502)]
    )
    waits: list[float] = []
    run = fetch(name, sleep=waits.append)
    assert run.status == "succeeded", run.error
    assert run.added == 15
    assert waits[0] == 7.0  # the source's Retry-After
    assert len(waits) == 3
    assert waits[2] > 0
    assert waits[1] < waits[2] * 2 + 1


def test_a_source_that_stays_busy_fails_the_run_with_the_reason(
    stopncii: Stop, make_exchange: MakeExchange, fetch: Fetch
) -> None:
    fake, url = stopncii
    fake.set_records(records(5))
    name = make(make_exchange, url)
    fake.faults.extend([Fault("status", 503)] * 10)
    run = fetch(name)
    assert run.status == "failed"
    assert run.error is not None
    assert "503 Service Unavailable" in run.error
    fake.faults.clear()
    fake.faults.append(Fault("status", 429, retry_after="86400"))
    run = fetch(name)
    assert run.status == "failed"
    assert "longer than this run has left" in (run.error or "")


def test_wrong_credentials_are_named(
    stopncii: Stop, make_exchange: MakeExchange, fetch: Fetch
) -> None:
    _fake, url = stopncii
    name = make_exchange(
        "stopncii-bad",
        "stop_ncii",
        {"base_url": url},
        credentials={"subscription_key": "nope", "fetch_function_key": "nope"},
    )
    run = fetch(name)
    assert run.status == "failed"
    # the gateway's own words come along: which key is wrong
    assert run.error == (
        "StopNCII FetchHashes: the source answered 401 Unauthorized: check the exchange's "
        "credentials (it says: Access denied due to invalid subscription key. Make sure to "
        "provide a valid key for an active subscription.)"
    )
    good_subscription = {**STOPNCII_CREDENTIALS, "fetch_function_key": "nope"}
    bad_function_key = make_exchange(
        "stopncii-bad-fn", "stop_ncii", {"base_url": url}, credentials=good_subscription
    )
    run = fetch(bad_function_key)
    assert run.error == (
        "StopNCII FetchHashes: the source answered 401 Unauthorized: check the exchange's "
        "credentials"
    )  # a function key refused says nothing more


def test_pages_that_never_end_stop_at_the_time_limit(
    stopncii: Stop, make_exchange: MakeExchange, fetch: Fetch
) -> None:
    fake, url = stopncii
    fake.endless = True
    name = make(make_exchange, url)
    run = fetch(name, time_limit=1.0)
    assert run.status == "partial", run.error
    assert "time limit" in (run.error or "")
    assert run.pages > 1


def test_a_body_that_never_ends_stops_at_the_time_limit(
    stopncii: Stop, make_exchange: MakeExchange, fetch: Fetch
) -> None:
    fake, url = stopncii
    fake.faults.append(Fault("endless"))
    name = make(make_exchange, url)
    run = fetch(name, time_limit=1.5)
    assert run.status in ("partial", "failed")
    assert "time limit" in (run.error or "") or "larger than" in (run.error or "")


def test_many_records_in_one_second_never_stall_the_cursor(
    stopncii: Stop, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = stopncii
    fake.set_records(records(35, same_second=True))
    name = make(make_exchange, url)
    added = [fetch(name, max_pages=1).added for _ in range(4)]  # each run: one page
    assert added == [10, 10, 10, 5]
    assert len(live_values(db, bank.id)) == 35
    assert fetch(name).status == "succeeded"


def test_an_expired_page_token_restarts_the_pass_without_losing_records(
    stopncii: Stop, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = stopncii
    fake.set_records(records(30, same_second=True))
    name = make(make_exchange, url)
    assert fetch(name, max_pages=1).status == "partial"
    fake.token_ttl_requests = 1  # a token is good for the next request only
    fake._fetches += 5  # so the stored one is stale
    run = fetch(name, time_limit=30)
    assert run.status == "succeeded"
    assert len(live_values(db, bank.id)) == 30


def test_a_resumed_fetch_continues_from_the_checkpoint(
    stopncii: Stop, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = stopncii
    fake.set_records(records(40))
    name = make(make_exchange, url)
    first = fetch(name, max_pages=2)
    assert (first.status, first.added) == ("partial", 20)
    checkpoint = checkpoint_of(db, name)
    assert checkpoint is not None
    assert checkpoint["token"]
    before = len(fake.requests)
    second = fetch(name)
    assert (second.status, second.added) == ("succeeded", 20)
    assert fake.requests[before].query["nextPageToken"] == checkpoint["token"]
    assert len(live_values(db, bank.id)) == 40


@pytest.mark.parametrize("field", ["subscription_key", "fetch_function_key"])
def test_credentials_are_required(make_exchange: MakeExchange, field: str) -> None:
    from shieldwall.core.errors import InvalidInput

    creds = {k: v for k, v in STOPNCII_CREDENTIALS.items() if k != field}
    with pytest.raises(InvalidInput, match=field):
        make_exchange("x", "stop_ncii", {}, credentials=creds)


def test_json_nested_past_the_recursion_limit_fails_in_plain_words(
    stopncii: Stop, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = stopncii
    fake.set_records(records(5))
    name = make(make_exchange, url)
    fake.faults.append(Fault("deep"))  # the first page (a body that is read is not retried)
    run = fetch(name)
    assert run.status == "failed"
    assert "nested too deeply" in (run.error or ""), run.error
    assert "internal error" not in (run.error or "")
    assert not fake.faults
    assert fetch(name).added == 5  # the source mends: the next run reads it all


def test_records_in_the_shapes_stopncii_sends_are_all_used(
    stopncii: Stop, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    """Shapes python-threatexchange's own tests record from the API: ``caseNumbers`` as an
    empty list, ``hashRegions``, ``Received`` hashes, and other platforms' ``CSPFeedbacks``
    with values pytx's enum does not know. pytx drops a record whose feedbacks carry such a
    value (its test expects one record of three); the hash is still StopNCII's, so we keep
    it: we read the fields we use and nothing else."""
    fake, url = stopncii
    t0 = 1_700_000_000
    fake.set_records(
        [
            {**record(pdq_for(1), ts=t0, status="Received"), "caseNumbers": []},
            {
                **record(pdq_for(2), ts=t0 + 1),
                "caseNumbers": {"case-a": "Active", "case-b": "Received"},
                "hashRegions": ["UK"],
                "CSPFeedbacks": [
                    {"source": "Platform A", "feedbackValue": "Undefined", "tags": ["t1"]},
                    {"source": "Platform B", "feedbackValue": "SomethingNew", "tags": []},
                ],
            },
            {
                **record(pdq_for(3), ts=t0 + 2),
                "CSPFeedbacks": [
                    {"source": "Platform C", "feedbackValue": "Blocked", "tags": ["Nude"]}
                ],
            },
        ]
    )
    run = fetch(make(make_exchange, url))
    assert run.status == "succeeded", run.error
    assert (run.added, run.quarantined, run.skipped) == (3, 0, 0)
    assert set(live_values(db, bank.id)) == {("pdq", pdq_for(i)) for i in (1, 2, 3)}


def test_a_record_that_shows_up_behind_the_checkpoint_is_read_by_the_next_pass(
    stopncii: Stop, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    # StopNCII lists by lastModtimestamp; a record that becomes visible after the pass that
    # went past its timestamp (written late, or stamped by a lagging server) is read by the
    # next pass, which starts LOOKBACK_SECONDS earlier
    fake, url = stopncii
    fake.set_records([record(pdq_for(i), ts=1_700_000_000 + 100 * i) for i in range(5)])
    name = make_exchange("late", "stop_ncii", {"base_url": url}, credentials=STOPNCII_CREDENTIALS)
    assert fetch(name).added == 5
    fake.upsert(record(pdq_for(9), ts=1_700_000_400 - 30))
    run = fetch(name)
    assert (run.status, run.added) == ("succeeded", 1), run.error
    assert ("pdq", pdq_for(9)) in live_values(db, bank.id)
    assert checkpoint_of(db, name) == {"start": 1_700_000_400}
