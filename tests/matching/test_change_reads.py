"""Reading bank changes in (change_seq, id) order: every server's live index follows them,
and a shared bank's feed serves them. Each page must cost its own rows, not the bank's: the
statements must walk an index in that order (no sort, no other index), and paging must not
lose or repeat a row when one change (one transaction) holds many pages of rows.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import event, select
from sqlalchemy.engine import Connection

from shieldwall.banks import service as banks
from shieldwall.banks.changes import current_seq
from shieldwall.banks.models import BankEntry
from shieldwall.banks.schemas import BankCreate, EntryIn
from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.exchanges import repository
from shieldwall.matching import index as index_module
from shieldwall.matching.index import MatchIndex
from tests.conftest import SYSTEM


def pdq(i: int) -> str:
    return hashlib.sha256(f"change-reads:{i}".encode()).hexdigest()


def add(db: Database, values: list[str], bank: str = "KNOWN") -> list[int]:
    with db.session() as session:  # one transaction: one change_seq for all of them
        added = banks.add_entries(
            session, bank, [EntryIn(signal_type="pdq", value=v) for v in values], actor=SYSTEM
        )
    return [item.id for item in added.items]


@pytest.fixture
def index(db: Database, settings: Settings) -> Iterator[MatchIndex]:
    with db.session() as session:
        banks.create_bank(session, BankCreate(name="KNOWN"), actor=SYSTEM)
        banks.create_bank(session, BankCreate(name="OTHER"), actor=SYSTEM)
    built = MatchIndex(db, settings)
    yield built
    built.stop(save=False)


def statements_of(db: Database, call: Callable[[], Any], table: str) -> list[tuple[str, Any]]:
    """The SELECTs on ``table`` that ``call`` ran, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def spy(conn: Connection, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT") and f"FROM {table}" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", spy)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", spy)
    assert seen, f"no SELECT on {table} was run"
    return seen


def plan_of(db: Database, statement: str, parameters: Any, index_name: str) -> str:
    """The plan, as the database would run it. PostgreSQL is told to prefer indexes and
    plans without a sort: its test tables are too small for its costs to choose between
    them (with sorting allowed, a three-row table was once read through another index and
    sorted, depending on what earlier tests had left in the table's pages), and what is
    asked here is whether an index serves the statement in order (no Sort node, which it
    still uses when nothing else can give the order), not which is cheaper."""
    with db.engine.connect() as conn:
        raw = conn.connection.driver_connection
        cursor = raw.cursor()
        if db.engine.dialect.name == "postgresql":
            cursor.execute("SET enable_seqscan = off")
            cursor.execute("SET enable_bitmapscan = off")
            cursor.execute("SET enable_sort = off")
            cursor.execute("EXPLAIN " + statement, parameters)
            lines = [row[0] for row in cursor.fetchall()]
            cursor.execute("RESET ALL")
            plan = "\n".join(lines)
            assert index_name in plan, plan
            assert "Sort" not in plan, plan
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            plan = "\n".join(str(row[-1]) for row in cursor.fetchall())
            assert f"USING INDEX {index_name}" in plan or (
                index_name == "PRIMARY KEY" and "USING INTEGER PRIMARY KEY" in plan
            ), plan
            assert "TEMP B-TREE" not in plan, plan
        cursor.close()
        conn.rollback()
    return plan


def test_the_live_index_reads_changes_in_index_order(db: Database, index: MatchIndex) -> None:
    add(db, [pdq(i) for i in range(3)])
    index.load()
    add(db, [pdq(i) for i in range(3, 6)])
    for statement, parameters in statements_of(db, index.sync, "bank_entries"):
        if "change_seq" in statement:
            plan_of(db, statement, parameters, "ix_bank_entries_change")


def test_building_the_index_reads_entries_in_id_order(db: Database, index: MatchIndex) -> None:
    """A server starting without a saved index reads every live PDQ/vPDQ entry, page by
    page after the last id: each page must walk the primary key, not every PDQ entry."""
    add(db, [pdq(i) for i in range(3)])
    read = statements_of(db, index.load, "bank_entries")
    pages = [
        (sql, params) for sql, params in read if re.search(r"ORDER BY bank_entries.id\s+LIMIT", sql)
    ]
    assert pages
    expected = "pk_bank_entries" if db.engine.dialect.name == "postgresql" else "PRIMARY KEY"
    for statement, parameters in pages:
        plan = plan_of(db, statement, parameters, expected)
        # the unique (signal_type, value_key, bank_id) index; SQLite names it autoindex
        assert "uq_bank_entries_value" not in plan, plan
        assert "autoindex_bank_entries" not in plan, plan


def test_a_feed_page_reads_one_banks_changes_in_index_order(
    db: Database, index: MatchIndex
) -> None:
    add(db, [pdq(i) for i in range(3)])
    add(db, [pdq(i) for i in range(3, 6)], bank="OTHER")
    with db.session() as session:
        bank_id = banks.get_bank(session, "KNOWN").id
        head = current_seq(session)

    def page() -> None:
        with db.session() as session:
            repository.feed_rows(session, bank_id, after_seq=0, after_id=0, upto_seq=head, limit=2)

    for statement, parameters in statements_of(db, page, "bank_entries"):
        plan_of(db, statement, parameters, "ix_bank_entries_feed")


def test_the_live_index_pages_through_one_large_change_without_losing_rows(
    db: Database, index: MatchIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "_BATCH", 3)
    first = add(db, [pdq(i) for i in range(4)])
    index.load()
    assert len(index.pdq) == 4
    many = add(db, [pdq(i) for i in range(4, 14)])  # one change_seq, four pages of three
    few = add(db, [pdq(i) for i in range(14, 16)], bank="OTHER")
    assert index.sync() == 12
    assert len(index.pdq) == 16
    for entry_id, value in zip([*first, *many, *few], [pdq(i) for i in range(16)], strict=True):
        assert [e for e, _ in index.query_pdq(bytes.fromhex(value), 0)] == [entry_id]
    assert index.sync() == 0  # nothing new: nothing read again
    with db.session() as session:
        banks.remove_entry(session, "KNOWN", many[5], actor=SYSTEM)
    assert index.sync() == 1
    assert index.query_pdq(bytes.fromhex(pdq(9)), 0) == []
    assert len(index.pdq) == 15


def test_feed_pages_through_one_large_change_without_losing_rows(
    db: Database, index: MatchIndex
) -> None:
    ids = add(db, [pdq(i) for i in range(10)])  # one change_seq
    add(db, [pdq(i) for i in range(10, 13)], bank="OTHER")
    ids += add(db, [pdq(i) for i in range(13, 15)])
    with db.session() as session:
        bank_id = banks.get_bank(session, "KNOWN").id
        head = current_seq(session)
        seen: list[int] = []
        after_seq, after_id = 0, 0
        while True:
            rows = repository.feed_rows(
                session, bank_id, after_seq=after_seq, after_id=after_id, upto_seq=head, limit=3
            )
            if not rows:
                break
            seen += [row[0] for row in rows]
            after_seq, after_id = rows[-1][5], rows[-1][0]
    assert seen == ids


def test_a_plan_check_fails_for_a_sorting_statement(db: Database, index: MatchIndex) -> None:
    """The check above can fail: a statement ordered against its index is caught."""
    add(db, [pdq(i) for i in range(3)])
    statement = "SELECT id FROM bank_entries WHERE change_seq >= 0 ORDER BY value, id"
    with pytest.raises(AssertionError):
        plan_of(
            db,
            statement,
            {} if db.engine.dialect.name == "postgresql" else (),
            "ix_bank_entries_change",
        )


def sync_with_a_new_bank(db: Database, index: MatchIndex, name: str, value: str, at: int) -> int:
    """Run one sync; just before its ``at``-th SELECT, another thread commits bank ``name``
    with one entry ``value`` in one transaction (as hash-on-confirm does). Returns how
    many SELECTs the sync ran."""
    sync_thread = threading.get_ident()
    selects = 0

    def commit_new_bank() -> None:
        with db.session() as session:
            banks.create_bank(session, BankCreate(name=name), actor=SYSTEM)
            banks.add_entries(
                session, name, [EntryIn(signal_type="pdq", value=value)], actor=SYSTEM
            )

    def before(conn: Connection, cursor: Any, statement: str, *_: Any) -> None:
        nonlocal selects
        if threading.get_ident() != sync_thread or not statement.lstrip().startswith("SELECT"):
            return
        if selects == at:  # from another thread: the sync's transaction stays open
            writer = threading.Thread(target=commit_new_bank)
            writer.start()
            writer.join()
        selects += 1

    event.listen(db.engine, "before_cursor_execute", before)
    try:
        index.sync()
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
    return selects


def test_a_bank_made_while_the_index_syncs_is_known_once_its_entries_count(
    db: Database, index: MatchIndex
) -> None:
    """A new bank and its first entry, committed between any two statements of a sync:
    once the watermark says the index holds that change, the index must know the bank
    too, or a scan drops the match as "no such bank" until the next poll (seen in CI).
    (On SQLite a sync reads one snapshot: what commits meanwhile waits for the next.)"""
    index.load()
    at = 0
    while at < sync_with_a_new_bank(db, index, f"MADE_{at}", pdq(1000 + at), at):
        with db.session() as session:
            made = banks.get_bank(session, f"MADE_{at}")
            (seq,) = session.scalars(
                select(BankEntry.change_seq).where(BankEntry.bank_id == made.id)
            ).all()
        if index.watermark >= seq:
            assert made.id in index.bank_snapshot(), f"committed before SELECT {at}"
        index.sync()  # settle: the next point starts from a caught-up index
        assert made.id in index.bank_snapshot()
        assert index.query_pdq(bytes.fromhex(pdq(1000 + at)), 0)
        at += 1
    assert at >= 4  # the head, a page of entries, an empty page, the banks


def test_the_live_index_polls_often_while_banks_change_and_slowly_otherwise(
    db: Database, index: MatchIndex, settings: Settings
) -> None:
    # the fixture's index made the banks; this one polls every 2 s (the tests' 0.1 s is
    # shorter than FOLLOW_SECONDS)
    poll = 2.0
    follower = MatchIndex(db, settings.model_copy(update={"index_poll_seconds": poll}))
    follower.sync()
    assert follower.poll_delay() == poll  # nothing changed yet
    add(db, [pdq(1)])
    assert follower.sync() == 1
    assert follower.poll_delay() == index_module.FOLLOW_SECONDS  # a fetch may stream in
    assert follower.sync() == 0  # a quiet poll in between keeps it following closely
    assert follower.poll_delay() == index_module.FOLLOW_SECONDS
    follower.last_change -= index_module.ACTIVE_SECONDS + 1  # long quiet
    assert follower.poll_delay() == poll
