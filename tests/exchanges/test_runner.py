"""The fetch runner: one fetcher per exchange across processes, crash safety, schedules."""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update

from shieldwall.audit.models import Event
from shieldwall.banks.models import Bank
from shieldwall.config import Settings
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_ncmec import FakeNcmec, entry, md5_for
from shieldwall.exchanges import ingest, repository, runner, service
from shieldwall.exchanges.models import Exchange, ExchangeItem, ExchangeRun
from tests.exchanges.conftest import NCMEC_CREDENTIALS, Fetch, MakeExchange, live_values

Ncmec = tuple[FakeNcmec, str]
T0 = 1_700_000_000


def make(make_exchange: MakeExchange, url: str, n: int, fake: FakeNcmec, **fields: Any) -> str:
    fake.add(*(entry(f"e{i}", ts=T0 + i, fingerprints={"md5": md5_for(i)}) for i in range(n)))
    return make_exchange(
        "ncmec", "ncmec", {"base_url": url}, credentials=NCMEC_CREDENTIALS, **fields
    )


def test_a_second_fetcher_is_refused_while_the_lease_is_held(
    ncmec: Ncmec, make_exchange: MakeExchange, fetch: Fetch, db: Database
) -> None:
    fake, url = ncmec
    name = make(make_exchange, url, 5, fake)
    with db.session() as session:
        exchange = service.get_exchange(session, name)
        assert repository.take_lease(
            session, exchange.id, "elsewhere", now=utcnow(), until=utcnow() + timedelta(minutes=5)
        )
    with pytest.raises(runner.FetchBusy, match="being fetched by another process"):
        fetch(name)
    assert fake.requests == []


def test_an_expired_lease_is_taken_over_and_the_dead_run_marked_failed(
    ncmec: Ncmec, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = ncmec
    name = make(make_exchange, url, 5, fake)
    with db.session() as session:
        exchange = service.get_exchange(session, name)
        repository.take_lease(
            session, exchange.id, "dead", now=utcnow(), until=utcnow() - timedelta(seconds=1)
        )
        session.add(
            ExchangeRun(exchange_id=exchange.id, trigger="schedule", status="running", owner="dead")
        )
    run = fetch(name)
    assert run.status == "succeeded"
    with db.session() as session:
        dead = session.scalars(select(ExchangeRun).where(ExchangeRun.owner == "dead")).one()
        assert dead.status == "failed"
        assert "crashed or was killed" in (dead.error or "")
        exchange = service.get_exchange(session, name)
        assert exchange.lease_owner is None


def test_a_fetcher_that_lost_its_lease_writes_nothing_more(
    ncmec: Ncmec, make_exchange: MakeExchange, fetch: Fetch, db: Database, bank: Bank
) -> None:
    fake, url = ncmec
    name = make(make_exchange, url, 30, fake)
    original = fake.dispatch

    def steal_on_second_page(request: Any) -> Any:
        if request.query.get("start") == "11":
            with db.session() as session:
                session.execute(update(Exchange).values(lease_owner="thief"))
        return original(request)

    fake.dispatch = steal_on_second_page  # type: ignore[method-assign]
    run = fetch(name, batch_records=10, prefetch=0)
    assert run.status == "failed"
    assert "took over" in (run.error or "")
    assert len(live_values(db, bank.id)) == 10  # only the batch committed before the theft


def test_progress_is_committed_in_batches_with_one_event_each(
    ncmec: Ncmec, make_exchange: MakeExchange, fetch: Fetch, db: Database
) -> None:
    fake, url = ncmec
    name = make(make_exchange, url, 30, fake)
    run = fetch(name, batch_records=10)
    assert run.status == "succeeded"
    with db.session() as session:
        kinds = session.scalars(
            select(Event.kind).where(Event.kind.like("exchange.%")).order_by(Event.id)
        ).all()
        fetched = session.scalars(select(Event).where(Event.kind == "exchange.fetched")).all()
    assert kinds == ["exchange.created"] + ["exchange.fetched"] * 3 + ["exchange.fetch_finished"]
    assert [e.payload["added"] for e in fetched] == [10, 10, 10]
    assert all(set(e.payload) >= {"run_id", "records", "removed"} for e in fetched)
    assert all(md5_for(1) not in str(e.payload) for e in fetched)  # counts only


def test_a_killed_fetcher_loses_nothing_and_the_next_run_resumes(
    ncmec: Ncmec,
    make_exchange: MakeExchange,
    fetch: Fetch,
    db: Database,
    bank: Bank,
    settings: Settings,
    tmp_path: Path,
) -> None:
    fake, url = ncmec
    name = make(make_exchange, url, 40, fake)
    hold = threading.Event()
    original = fake.dispatch

    def hang_on_page_three(request: Any) -> Any:
        if request.query.get("start") == "21" and not hold.is_set():
            hold.wait(60)
        return original(request)

    fake.dispatch = hang_on_page_three  # type: ignore[method-assign]
    env = {
        **os.environ,
        "SHIELDWALL_DATABASE_URL": settings.effective_database_url,
        "SHIELDWALL_DATA_DIR": str(tmp_path),
        "SHIELDWALL_SECRET_KEY": "test-secret-key-not-for-production",
        "SHIELDWALL_EXCHANGE_ALLOW_PRIVATE_ADDRESSES": "true",
        "SHIELDWALL_EXCHANGE_BATCH_RECORDS": "10",
    }
    code = (
        "from shieldwall.config import load_settings\n"
        "from shieldwall.db.engine import Database\n"
        "from shieldwall.exchanges import runner\n"
        "s = load_settings()\n"
        f"runner.run_fetch(Database(s.effective_database_url), s, {name!r})\n"
    )
    child = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + 60
        while True:
            with db.session() as session:
                items = session.scalar(select(func.count()).select_from(ExchangeItem))
            if items == 20 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert items == 20  # two pages committed; the third is hanging
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        hold.set()
        if child.poll() is None:
            child.kill()
    with db.session() as session:
        exchange = service.get_exchange(session, name)
        assert exchange.lease_owner is not None  # the dead process still holds it...
        checkpoint = dict(exchange.checkpoint or {})
    assert "start=21" in checkpoint["next"]
    with pytest.raises(runner.FetchBusy):
        fetch(name)
    with db.session() as session:  # ...until it expires
        session.execute(update(Exchange).values(lease_until=utcnow() - timedelta(seconds=1)))
    before = len(fake.requests)
    run = fetch(name)
    assert run.status == "succeeded", run.error
    assert run.added == 20
    assert fake.requests[before].query.get("start") == "21"  # resumed, not restarted
    values = live_values(db, bank.id)
    assert set(values) == {("md5", md5_for(i)) for i in range(40)}
    with db.session() as session:
        runs = session.scalars(select(ExchangeRun).order_by(ExchangeRun.id)).all()
        assert [r.status for r in runs] == ["failed", "succeeded"]
        assert session.scalar(select(func.count()).select_from(ExchangeItem)) == 40


def test_the_schedule_runs_due_exchanges_once_across_schedulers(
    ncmec: Ncmec, make_exchange: MakeExchange, db: Database, settings: Settings
) -> None:
    fake, url = ncmec
    name = make(make_exchange, url, 5, fake, schedule_minutes=60)
    first = runner.ExchangeScheduler(db, settings)
    second = runner.ExchangeScheduler(Database(settings.effective_database_url), settings)
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda s=s: results.append(s.run_due())) for s in (first, second)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    runs = [r for batch in results for r in batch]
    assert len(runs) == 1
    assert runs[0].trigger == "schedule"
    with db.session() as session:
        exchange = service.get_exchange(session, name)
        assert exchange.next_run_at is not None
        assert exchange.next_run_at > utcnow() + timedelta(minutes=59)
    assert first.run_due() == []  # not due again for an hour
    second.db.dispose()


def test_disabled_and_unscheduled_exchanges_are_not_run(
    ncmec: Ncmec, make_exchange: MakeExchange, db: Database, settings: Settings
) -> None:
    fake, url = ncmec
    make(make_exchange, url, 2, fake, schedule_minutes=60, enabled=False)
    make_exchange("manual", "ncmec", {"base_url": url}, credentials=NCMEC_CREDENTIALS)
    assert runner.ExchangeScheduler(db, settings).run_due() == []


def test_a_batch_pauses_the_garbage_collector_and_it_runs_again_whatever_happens(
    tmp_path: Path, make_exchange: MakeExchange, fetch: Fetch, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cyclic garbage collector is paused while a batch transaction is open (see the
    runner's _pause_gc) and runs again after it commits -- or fails half-way."""
    path = tmp_path / "list.txt"
    path.write_text(f"md5 {md5_for(1)}\n")
    name = make_exchange("file", "local_file", {"path": str(path)})
    real = ingest.apply_records
    seen: list[bool] = []

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest, "apply_records", spy)
    assert gc.isenabled()
    assert fetch(name).status == "succeeded"
    assert (seen, gc.isenabled()) == ([False], True)

    def broken(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        raise RuntimeError("a bug half-way through a batch")

    monkeypatch.setattr(ingest, "apply_records", broken)
    path.write_text(f"md5 {md5_for(2)}\n")
    os.utime(path, ns=(1, 1))
    assert fetch(name).status == "failed"
    assert (seen, gc.isenabled()) == ([False, False], True)
