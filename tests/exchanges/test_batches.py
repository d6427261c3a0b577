"""How a fetch groups its writes: a batch is one transaction over several chunks; what the
source has sent is committed as soon as it keeps the next page waiting; records are checked
on the fetching thread under a snapshot of the labels, and checked again if those change;
fetching ahead is bounded by records, not only by pages."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select, text

from shieldwall.banks.models import Bank
from shieldwall.db.engine import Database
from shieldwall.devtools import fake_stopncii
from shieldwall.devtools.fake_http import Reply, Request, Running
from shieldwall.exchanges import ingest, repository, runner, service
from shieldwall.exchanges.models import Exchange
from shieldwall.integrations.exchanges.base import SourceRecord
from tests.exchanges.conftest import (
    STOPNCII_CREDENTIALS,
    Fetch,
    MakeExchange,
    count_entries,
    live_values,
)


def records(n: int) -> list[dict[str, Any]]:
    return [
        fake_stopncii.record(fake_stopncii.pdq_for(i, "batches"), ts=1_700_000_000 + i)
        for i in range(n)
    ]


class Stalling(fake_stopncii.FakeStopNcii):
    """Keeps its ``stall_on``-th FetchHashes answer waiting until ``ready()`` holds (or ten
    seconds pass), and remembers whether it did."""

    def __init__(self, items: list[dict[str, Any]], stall_on: int, ready: Any) -> None:
        super().__init__(items)
        self.stall_on = stall_on
        self.ready = ready
        self.calls = 0
        self.saw_ready: bool | None = None

    def handle(self, request: Request) -> Reply:
        if request.path.endswith("/FetchHashes"):
            with self.lock:
                self.calls += 1
                call = self.calls
            if call == self.stall_on:
                deadline = time.monotonic() + 10
                while not self.ready() and time.monotonic() < deadline:
                    time.sleep(0.02)
                self.saw_ready = bool(self.ready())
        return super().handle(request)


def stopncii_exchange(make_exchange: MakeExchange, url: str, name: str = "sn") -> str:
    return make_exchange(
        name,
        "stop_ncii",
        {"base_url": url, "page_size": 10},
        credentials=STOPNCII_CREDENTIALS,
    )


def test_what_arrived_is_committed_while_the_source_keeps_the_next_page_waiting(
    make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    # 40 records in pages of 10: the fourth page waits until the first 30 are committed
    # (another connection sees them) -- they are far fewer than a batch, and the five
    # seconds of a batch never pass, so only the source's silence commits them
    fake = Stalling(records(40), stall_on=4, ready=lambda: count_entries(db, bank.id) >= 30)
    with Running(fake) as server:
        name = stopncii_exchange(make_exchange, server.url + "/v1")
        run = fetch(name)
    assert fake.saw_ready is True
    assert run.status == "succeeded"
    assert run.added == 40
    assert len(live_values(db, bank.id)) == 40


def test_the_chunks_of_one_batch_are_one_transaction(
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
    stopncii: tuple[fake_stopncii.FakeStopNcii, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake, url = stopncii
    fake.set_records(records(50))
    name = stopncii_exchange(make_exchange, url)
    monkeypatch.setattr(runner, "CHUNK_RECORDS", 10)
    monkeypatch.setattr(runner, "IDLE_SECONDS", 30.0)  # never commit on a quiet moment here
    real = ingest.apply_records
    calls = [0]

    def third_chunk_fails(*args: Any, **kwargs: Any) -> ingest.Applied:
        calls[0] += 1
        if calls[0] == 3:
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest, "apply_records", third_chunk_fails)
    run = fetch(name, batch_records=100)
    assert run.status == "failed"
    assert calls[0] == 3
    # the two chunks applied before the failure were never committed, nor their checkpoint
    assert count_entries(db, bank.id) == 0
    with db.session() as session:
        exchange = session.scalars(select(Exchange).where(Exchange.name == name)).one()
        assert exchange.checkpoint is None

    monkeypatch.setattr(ingest, "apply_records", real)
    again = fetch(name, batch_records=100)
    assert again.status == "succeeded"
    assert again.added == 50
    assert count_entries(db, bank.id) == 50


def test_records_checked_under_old_labels_are_checked_again(
    db: Database, bank: Bank, make_exchange: MakeExchange
) -> None:
    name = make_exchange("lists", "local_file", {"path": "/nonexistent"})
    record = SourceRecord(
        record_id="r1", signals=(("pdq", fake_stopncii.pdq_for(1)),), labels=("B2",)
    )
    with db.session() as session:
        exchange = service.get_exchange(session, name)
        stored = session.get(Bank, bank.id)
        assert stored is not None
        checked = ingest.check_records(ingest.Rules.of(stored, exchange), [record])
        assert [c.record_id for c in checked.records] == ["r1"]
        # the bank gets a label set without B2 while the record waited to be applied
        stored.labels = ["A1", "A2"]
        session.flush()
        applied = ingest.apply_records(
            session,
            exchange,
            stored,
            [record],
            seq=1,
            now=stored.created_at,
            run_id=None,
            prechecked=checked,
        )
    assert (applied.added, applied.quarantined) == (0, 1)
    assert count_entries(db, bank.id) == 0


def test_fetching_ahead_is_bounded_by_records() -> None:
    produced: list[int] = []
    consumed = [0]
    ahead: list[int] = []

    def items() -> Iterator[int]:
        for i in range(30):
            produced.append(i)
            ahead.append(len(produced) - consumed[0])
            yield i

    out = []
    for item in runner.prefetched(items(), 100, 5.0, weight=lambda _: 10, budget=25):
        out.append(item)
        consumed[0] += 1
        time.sleep(0.01)  # the producer gets every chance to run ahead
    assert out == list(range(30))
    # two items of weight 10 wait at most (a third would pass the budget of 25), plus the
    # one being handed over and the one being produced
    assert max(ahead) <= 4
    assert max(ahead) >= 2  # it did fetch ahead


def test_an_idle_callback_runs_on_the_consumers_thread_while_the_source_is_silent() -> None:
    release = threading.Event()
    idle_threads: list[str] = []

    def items() -> Iterator[int]:
        yield 1
        release.wait(5)
        yield 2

    def on_idle() -> None:
        idle_threads.append(threading.current_thread().name)
        release.set()

    out = list(runner.prefetched(items(), 4, 5.0, on_idle=on_idle))
    assert out == [1, 2]
    assert idle_threads == [threading.current_thread().name]


def test_stale_items_come_in_id_order_after_a_cursor(
    tmp_path: Any, make_exchange: MakeExchange, fetch: Fetch, db: Database
) -> None:
    from shieldwall.exchanges import repository

    path = tmp_path / "list.txt"
    path.write_text("".join(f"pdq {fake_stopncii.pdq_for(i, 'stale')}\n" for i in range(12)))
    name = make_exchange("file", "local_file", {"path": str(path)})
    assert fetch(name).added == 12
    with db.session() as session:
        exchange = service.get_exchange(session, name)
        later = exchange.created_at.replace(year=9999)
        first = repository.stale_items(session, exchange.id, later, 5)
        ids = [i for i, _ in first]
        assert ids == sorted(ids)
        assert len(ids) == 5
        rest = repository.stale_items(session, exchange.id, later, 100, after_id=ids[-1])
        assert len(rest) == 7
        assert min(i for i, _ in rest) > ids[-1]
        # nothing was seen before the exchange existed
        assert repository.stale_items(session, exchange.id, exchange.created_at, 100) == []


def test_a_first_load_reads_the_items_only_of_records_the_bank_already_holds(
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
    stopncii: tuple[fake_stopncii.FakeStopNcii, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A StopNCII record's id names its hash, so on an exchange's first fetch a record can
    only have the item this run wrote for that hash: items are read only for records whose
    hash the bank holds (sent again, added by hand) or that are deleted. The result must be
    the same as reading them all."""
    from shieldwall.banks import service as banks
    from shieldwall.banks.models import BankEntry
    from shieldwall.banks.schemas import EntryIn
    from shieldwall.core.access import Principal
    from shieldwall.exchanges import ingest
    from shieldwall.exchanges.models import ExchangeItem

    pdqs = [fake_stopncii.pdq_for(i, "first-load") for i in range(30)]
    feed = [fake_stopncii.record(p, ts=1_700_000_000 + i) for i, p in enumerate(pdqs)]
    feed += [
        fake_stopncii.record(pdqs[7], ts=1_700_000_100),  # sent again, in a later batch
        fake_stopncii.record(pdqs[5], ts=1_700_000_101, status="Deleted"),
    ]
    fake, url = stopncii
    fake.set_records(feed)
    with db.session() as session:  # one hash the bank already holds, added by hand
        banks.add_entries(
            session,
            bank.name,
            [EntryIn(signal_type="pdq", value=pdqs[3])],
            actor=Principal.system("test"),
        )
    name = stopncii_exchange(make_exchange, url)
    probed: list[list[str]] = []
    real = ingest._items_of

    def spy(session: Any, exchange_id: int, bank_id: int, records: list[Any]) -> Any:
        probed.append([c.record_id for c in records])
        return real(session, exchange_id, bank_id, records)

    monkeypatch.setattr(ingest, "_items_of", spy)
    looked_first: list[bool] = []
    real_add = banks.add_new_entries

    def add_spy(*args: Any, look_first: bool = False, **kwargs: Any) -> Any:
        looked_first.append(look_first)
        return real_add(*args, look_first=look_first, **kwargs)

    monkeypatch.setattr(banks, "add_new_entries", add_spy)
    monkeypatch.setattr(runner, "CHUNK_RECORDS", 10)
    run = fetch(name, batch_records=10)
    assert run.status == "succeeded", run.error
    assert sorted(r for batch in probed for r in batch) == sorted(
        f"ImagePDQ:{pdqs[i]}" for i in (3, 5, 7)
    )
    # the first batch met the hash added by hand: the later ones look their values up
    # before inserting them (on PostgreSQL; SQLite's insert skips held values either way)
    assert looked_first[0] is False
    assert len(looked_first) > 1
    assert all(looked_first[1:])
    assert run.added == 29  # 30 hashes, one already in the bank
    assert run.removed == 1
    live = live_values(db, bank.id)
    assert set(live) == {("pdq", p) for i, p in enumerate(pdqs) if i != 5}
    with db.session() as session:
        items = session.execute(
            select(ExchangeItem.record_id, BankEntry.value, ExchangeItem.removed_at.is_(None)).join(
                BankEntry, BankEntry.id == ExchangeItem.entry_id
            )
        ).all()
    # one item per record, none twice; each record is named after its hash, so its item
    # keeps no record id of its own
    assert sorted(items) == sorted(("", p, i != 5) for i, p in enumerate(pdqs))

    # the next run is no first load: a record new to the bank has its items read too
    fresh = fake_stopncii.pdq_for(99, "first-load")
    fake.set_records([*feed, fake_stopncii.record(fresh, ts=1_700_000_200)])
    probed.clear()
    again = fetch(name, batch_records=10)
    assert again.status == "succeeded", again.error
    assert f"ImagePDQ:{fresh}" in {r for batch in probed for r in batch}
    assert ("pdq", fresh) in live_values(db, bank.id)


def test_batches_share_one_tuned_connection_that_goes_back_to_the_pool_as_it_was(
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """SQLite: every batch of a fetch is applied on one connection with the large page
    cache, and that connection goes back to the pool with its own settings -- left tuned, it
    would give whoever took it next (and in time every pooled connection) a 256 MiB cache.
    PostgreSQL: nothing is tuned; batches take pooled connections."""
    sqlite = db.engine.dialect.name == "sqlite"
    seen: list[tuple[int, int | None]] = []
    real = ingest.apply_records

    def spy(session: Any, *args: Any, **kwargs: Any) -> ingest.Applied:
        driver = session.connection().connection.driver_connection
        size = session.execute(text("PRAGMA cache_size")).scalar() if sqlite else None
        seen.append((id(driver), size))
        return real(session, *args, **kwargs)

    monkeypatch.setattr(ingest, "apply_records", spy)
    monkeypatch.setattr(runner, "CHUNK_RECORDS", 10)
    with Running(fake_stopncii.FakeStopNcii(records(50))) as server:
        name = stopncii_exchange(make_exchange, server.url + "/v1")
        run = fetch(name, batch_records=20)
    assert run.status == "succeeded"
    assert run.added == 50
    assert len(seen) >= 3  # several batches (20 records each, in chunks of 10)
    if not sqlite:
        return
    assert len({driver for driver, _ in seen}) == 1
    assert {size for _, size in seen} == {-repository.BULK_CACHE_KIB}
    idle = [db.engine.raw_connection() for _ in range(db.engine.pool.checkedin())]
    try:
        assert idle  # the fetch's connections are back in the pool
        for connection in idle:
            driver = connection.driver_connection
            assert driver.execute("PRAGMA cache_size").fetchone()[0] != -repository.BULK_CACHE_KIB
            checkpoint = driver.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
            assert checkpoint != repository.BULK_CHECKPOINT_PAGES
    finally:
        for connection in idle:
            connection.close()
