"""Several workers, one queue: each item is held by one worker at a time and delivered once;
a worker keeps running through a database outage."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import pytest
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.jobs import handlers
from shieldwall.jobs.models import OutboxItem, OutboxStatus
from shieldwall.jobs.outbox import OutboxWorker
from tests.jobs.helpers import Clock, events, item_of, request, wait_until
from tests.jobs.receiver import Receiver

pytestmark = pytest.mark.db


def test_an_item_in_hand_is_not_claimed_by_a_second_worker(
    db: Database, settings: Settings, receiver: Receiver
) -> None:
    action = request(db, settings)
    in_hand = threading.Event()
    go_on = threading.Event()
    sent: list[str] = []

    def slow(item: OutboxItem) -> None:
        in_hand.set()
        go_on.wait(30)
        sent.append(item.key)

    first_db = Database(settings.effective_database_url)
    second_db = Database(settings.effective_database_url)
    try:
        first = handlers.build_worker(first_db, settings, overrides={"webhook": slow}, name="a")
        second = handlers.build_worker(second_db, settings, name="b")
        results: dict[str, int] = {}
        thread = threading.Thread(target=lambda: results.update(first.run_once()))
        thread.start()
        assert in_hand.wait(30)
        assert second.run_once()["claimed"] == 0
        go_on.set()
        thread.join(30)
        assert results["sent"] == 1
        assert sent == [f"webhook:{action.key}"]
        assert receiver.deliveries == []  # only the slow stand-in "sent" it
        assert item_of(db, action).status == OutboxStatus.SENT
    finally:
        first_db.dispose()
        second_db.dispose()


def test_two_workers_drain_one_queue_delivering_each_item_once(
    db: Database, settings: Settings, receiver: Receiver
) -> None:
    made = [request(db, settings, key=f"case:{n}:content.remove", case_id=n + 1) for n in range(40)]
    barrier = threading.Barrier(2)
    totals: list[dict[str, int]] = []
    errors: list[BaseException] = []

    def drain(name: str) -> None:
        own = Database(settings.effective_database_url)
        try:
            worker = handlers.build_worker(own, settings, name=name)
            barrier.wait()
            total = dict.fromkeys(("claimed", "sent"), 0)
            while True:
                counts = worker.run_once(5)
                total["claimed"] += counts["claimed"]
                total["sent"] += counts["sent"]
                if counts["claimed"] == 0:
                    break
            totals.append(total)
        except BaseException as exc:
            errors.append(exc)
        finally:
            own.dispose()

    threads = [threading.Thread(target=drain, args=(f"w{n}",)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert sum(t["sent"] for t in totals) == 40
    assert sum(t["claimed"] for t in totals) == 40  # no item claimed twice
    keys = [d.key for d in receiver.wait_for(40)]
    assert sorted(keys) == sorted(a.key for a in made)  # each exactly once
    assert len(events(db, "webhook.delivered")) == 40


class FlakyDatabase:
    """A database whose sessions fail while ``down`` is set (connection refused)."""

    def __init__(self, real: Database) -> None:
        self.real = real
        self.down = True
        self.failures = 0

    @contextmanager
    def session(self) -> Iterator[Session]:
        if self.down:
            self.failures += 1
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused"))
        with self.real.session() as session:
            yield session


def test_the_worker_keeps_running_while_the_database_is_down(
    db: Database, settings: Settings, receiver: Receiver
) -> None:
    unreachable = Database("postgresql+psycopg://nobody:nothing@127.0.0.1:1/none")
    worker = handlers.build_worker(unreachable, settings)
    worker.start()
    try:
        wait_until(lambda: worker.last_error is not None, what="a failed poll")
        assert "OperationalError" in (worker.last_error or "")
        assert worker._thread is not None
        assert worker._thread.is_alive()
        action = request(db, settings)  # the database is back
        worker.db = db
        worker.wake()
        (delivery,) = receiver.wait_for(1)
        assert delivery.key == action.key
        wait_until(lambda: item_of(db, action).status == OutboxStatus.SENT, what="sent")
        wait_until(lambda: worker.last_error is None, what="the error cleared by a good poll")
    finally:
        worker.stop()
        unreachable.dispose()


def test_an_outcome_lost_to_an_outage_is_sent_again_with_the_same_key(
    db: Database, settings: Settings, receiver: Receiver
) -> None:
    """The receiver got it, then the database went away before the outcome was written."""
    action = request(db, settings)
    clock = Clock()
    flaky = FlakyDatabase(db)
    flaky.down = False
    worker = handlers.build_worker(cast(Any, flaky), settings, clock=clock)
    real_handler = worker.handlers["webhook"]

    def then_outage(item: OutboxItem) -> None:
        real_handler(item)
        flaky.down = True

    worker.handlers["webhook"] = then_outage
    first = worker.run_once(1)
    assert first["errors"] == 1, first
    item = item_of(db, action)
    assert item.status == OutboxStatus.SENDING
    assert len(receiver.deliveries) == 1
    with pytest.raises(OperationalError):
        worker.run_once()  # still down: claiming fails loudly for the loop to retry
    clock.set(item.lease_until)  # type: ignore[arg-type]
    again = OutboxWorker(db, settings, {"webhook": real_handler}, clock=clock)
    assert again.run_once()["sent"] == 1
    deliveries = receiver.wait_for(2)
    assert deliveries[0].key == deliveries[1].key == action.key
    assert deliveries[0].body == deliveries[1].body
    assert receiver.acted_on() == [action.key]
