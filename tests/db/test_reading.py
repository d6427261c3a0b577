"""Reading sessions (``Database.reading``): a snapshot that neither waits for a writer's
transaction nor holds writers up, and never keeps what it wrote."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from shieldwall.banks import service as banks
from shieldwall.banks.models import Bank
from shieldwall.banks.schemas import BankCreate, EntryIn
from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.matching.index import MatchIndex
from tests.banks.conftest import pdq_of
from tests.conftest import SYSTEM

#: Long enough for any honest wait here, well below SQLite's 30-second busy timeout: a
#: session that waited for the lock would still be waiting when the join gives up.
JOIN_SECONDS = 15


def count_banks(db: Database) -> int:
    with db.reading() as session:
        return int(session.scalar(select(func.count()).select_from(Bank)) or 0)


def in_thread(work: Callable[[], Any]) -> Any:
    """``work()`` on another thread; its result, or AssertionError if it did not finish."""
    out: list[Any] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            out.append(work())
        except BaseException as exc:  # handed back to the test
            failed.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(JOIN_SECONDS)
    assert not thread.is_alive(), "it waited for the other transaction"
    if failed:
        raise failed[0]
    return out[0]


def test_a_reader_reads_the_committed_state_while_a_writer_holds_its_transaction(
    db: Database,
) -> None:
    with db.session() as session:
        banks.create_bank(session, BankCreate(name="COMMITTED"), actor=SYSTEM)
    writer = db.sessionmaker()
    try:
        banks.create_bank(writer, BankCreate(name="PENDING"), actor=SYSTEM)
        writer.flush()  # the writer holds its transaction (on SQLite, the write lock)
        assert in_thread(lambda: count_banks(db)) == 1
    finally:
        writer.rollback()
        writer.close()


def test_a_writer_commits_while_a_reader_holds_its_snapshot(db: Database) -> None:
    def write() -> None:
        with db.session() as session:
            banks.create_bank(session, BankCreate(name="NEW"), actor=SYSTEM)

    with db.reading() as reader:
        assert reader.scalar(select(func.count()).select_from(Bank)) == 0
        in_thread(write)
    assert count_banks(db) == 1


def test_what_a_reading_session_writes_is_never_kept(db: Database) -> None:
    with db.reading() as session:
        banks.create_bank(session, BankCreate(name="NOT_KEPT"), actor=SYSTEM)
        session.flush()
    assert count_banks(db) == 0


def test_the_live_index_follows_the_database_while_a_writer_holds_its_transaction(
    db: Database, settings: Settings
) -> None:
    """A server's index reads every bank change every few seconds (and all of them when it
    starts): it must not wait for (or hold up) an exchange fetch's batch transaction."""
    with db.session() as session:
        banks.create_bank(session, BankCreate(name="B"), actor=SYSTEM)
        banks.add_entries(session, "B", [EntryIn(signal_type="pdq", value=pdq_of(1))], actor=SYSTEM)
    index = MatchIndex(db, settings)
    writer = db.sessionmaker()
    try:
        banks.add_entries(writer, "B", [EntryIn(signal_type="pdq", value=pdq_of(2))], actor=SYSTEM)
        writer.flush()
        in_thread(index.load)
        assert len(index.pdq) == 1  # what was committed, not what is pending
        in_thread(index.sync)
        assert len(index.pdq) == 1
    finally:
        writer.rollback()
        writer.close()
