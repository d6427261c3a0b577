"""All SQL for banks and their entries.

Bulk paths (import, many entries in one call) use SQLAlchemy Core statements on the session's
connection, never one ORM object per row.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Table,
    and_,
    bindparam,
    case,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable, TextClause, TextualSelect

from shieldwall.banks.models import Bank, BankEntry
from shieldwall.db import bulk

_entries = cast(Table, BankEntry.__table__)

#: The columns a bulk insert fills, in this order; every row must carry all of them.
INSERT_COLUMNS = (
    "bank_id",
    "signal_type",
    "value",
    "value_key",
    "quality",
    "labels",
    "source",
    "source_record_id",
    "added_at",
    "added_by",
    "updated_at",
    "disabled_until",
    "removed_at",
    "change_seq",
)


# ---- banks ---------------------------------------------------------------------------------


def get_bank(session: Session, bank_id: int) -> Bank | None:
    return session.get(Bank, bank_id)


def get_bank_by_name(session: Session, name: str) -> Bank | None:
    """The live (not deleted) bank called ``name``."""
    return session.scalar(select(Bank).where(Bank.name == name, Bank.deleted_at.is_(None)))


def list_banks(session: Session) -> list[Bank]:
    return list(session.scalars(select(Bank).where(Bank.deleted_at.is_(None)).order_by(Bank.name)))


def count_banks(session: Session) -> int:
    stmt = select(func.count()).select_from(Bank).where(Bank.deleted_at.is_(None))
    return int(session.scalar(stmt) or 0)


# ---- counts --------------------------------------------------------------------------------


def entry_counts(
    session: Session, bank_ids: Sequence[int], now: datetime
) -> list[tuple[int, str, int, int, int]]:
    """(bank_id, signal_type, active, disabled, removed) for the given banks."""
    if not bank_ids:
        return []
    live = BankEntry.removed_at.is_(None)
    disabled = and_(live, BankEntry.disabled_until.is_not(None), BankEntry.disabled_until > now)
    active = and_(live, or_(BankEntry.disabled_until.is_(None), BankEntry.disabled_until <= now))
    stmt = (
        select(
            BankEntry.bank_id,
            BankEntry.signal_type,
            func.sum(case((active, 1), else_=0)),
            func.sum(case((disabled, 1), else_=0)),
            func.sum(case((BankEntry.removed_at.is_not(None), 1), else_=0)),
        )
        .where(BankEntry.bank_id.in_(list(bank_ids)))
        .group_by(BankEntry.bank_id, BankEntry.signal_type)
    )
    return [
        (int(bank_id), str(signal_type), int(active or 0), int(disabled or 0), int(removed or 0))
        for bank_id, signal_type, active, disabled, removed in session.execute(stmt).all()
    ]


def count_live_entries_by_type(session: Session) -> dict[str, int]:
    """Entries not removed, in banks not deleted, by signal type."""
    stmt = (
        select(BankEntry.signal_type, func.count())
        .join(Bank, Bank.id == BankEntry.bank_id)
        .where(Bank.deleted_at.is_(None), BankEntry.removed_at.is_(None))
        .group_by(BankEntry.signal_type)
        .order_by(BankEntry.signal_type)
    )
    return {signal_type: int(n) for signal_type, n in session.execute(stmt).all()}


def labels_in_use(session: Session, bank_id: int) -> set[str]:
    """Every label carried by an entry of the bank that is not removed."""
    if session.get_bind().dialect.name == "postgresql":
        sql = (
            "SELECT DISTINCT jsonb_array_elements_text(labels) FROM bank_entries "
            "WHERE bank_id = :bank_id AND removed_at IS NULL"
        )
    else:
        sql = (
            "SELECT DISTINCT j.value FROM bank_entries, json_each(bank_entries.labels) AS j "
            "WHERE bank_entries.bank_id = :bank_id AND bank_entries.removed_at IS NULL"
        )
    return {str(v) for v in session.scalars(text(sql), {"bank_id": bank_id})}


# ---- entries -------------------------------------------------------------------------------


def get_entry(session: Session, bank_id: int, entry_id: int) -> BankEntry | None:
    return session.scalar(
        select(BankEntry).where(BankEntry.id == entry_id, BankEntry.bank_id == bank_id)
    )


def list_entries(
    session: Session,
    bank_id: int,
    *,
    after_id: int = 0,
    limit: int = 100,
    signal_type: str | None = None,
    include_removed: bool = False,
    newest_first: bool = False,
) -> list[BankEntry]:
    stmt = select(BankEntry).where(BankEntry.bank_id == bank_id)
    if after_id:
        stmt = stmt.where(BankEntry.id > after_id)
    if signal_type:
        stmt = stmt.where(BankEntry.signal_type == signal_type)
    if not include_removed:
        stmt = stmt.where(BankEntry.removed_at.is_(None))
    order = BankEntry.id.desc() if newest_first else BankEntry.id
    return list(session.scalars(stmt.order_by(order).limit(limit)))


# Two array parameters, so the statement is compiled once and cached. The inner lookup
# names only (signal_type, value_key), the leading columns of uq_bank_entries_value;
# OFFSET 0 keeps PostgreSQL from flattening it into a join or pushing bank_id into it.
_PG_FIND_EXISTING = text(
    "SELECT found.id, wanted.signal_type, wanted.value_key, found.removed_at "
    "FROM unnest(string_to_array(:types, chr(31)), string_to_array(:keys, chr(31))) "
    "AS wanted(signal_type, value_key) "
    "CROSS JOIN LATERAL (SELECT id, bank_id, removed_at FROM bank_entries "
    "WHERE signal_type = wanted.signal_type AND value_key = wanted.value_key "
    "OFFSET 0) AS found "
    "WHERE found.bank_id = :bank_id"
)


_SQLITE_FIND_EXISTING = text(
    "SELECT id, signal_type, value_key, removed_at FROM bank_entries "
    "WHERE bank_id = :bank_id AND signal_type = :signal_type "
    "AND value_key IN (SELECT value FROM json_each(:keys))"
).columns(_entries.c.id, _entries.c.signal_type, _entries.c.value_key, _entries.c.removed_at)


def key_probes(
    session: Session,
    bank_id: int,
    keys: Sequence[tuple[str, str]],
    *,
    pg: TextClause,
    sqlite: TextClause | TextualSelect,
) -> list[Executable]:
    """Statements that look up ``keys`` ((signal_type, value_key) pairs) of one bank with
    one index probe per key, whatever the bank's size or the planner's statistics.

    PostgreSQL: ``pg`` with ``:bank_id``, ``:types`` and ``:keys`` (each one string, split
    by the server at the unit separator, which signal types and value keys never hold).
    SQLite: ``sqlite`` with ``:bank_id``, ``:signal_type`` and ``:keys`` (a JSON array, read
    with ``json_each``), once per signal type. Either way one parameter per list, so the
    statement is compiled once."""
    if session.get_bind().dialect.name == "postgresql":
        return [
            pg.bindparams(
                bank_id=bank_id,
                types="\x1f".join(signal_type for signal_type, _ in keys),
                keys="\x1f".join(key for _, key in keys),
            )
        ]
    by_type: dict[str, list[str]] = {}
    for signal_type, key in keys:
        by_type.setdefault(signal_type, []).append(key)
    return [
        sqlite.bindparams(bank_id=bank_id, signal_type=signal_type, keys=json.dumps(type_keys))
        for signal_type, type_keys in by_type.items()
    ]


def find_existing(
    session: Session, bank_id: int, keys: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, bool]]:
    """``{(signal_type, value_key): (id, removed)}`` for the keys already in the bank,
    in one query, at a cost that does not grow with the bank.

    PostgreSQL: one probe of uq_bank_entries_value per key, whatever the statistics say.
    Within a long import the table's statistics never include the rows just written (an
    autovacuum ANALYZE during the import even records the table as empty), and a plain
    ``IN (...)`` list or a join is then planned as a walk over the whole bank per batch or
    per key, which makes a large import quadratic. SQLite probes the unique index for an
    ``IN`` list by itself.
    """
    wanted = list(keys)
    if not wanted:
        return {}
    statements = key_probes(
        session, bank_id, wanted, pg=_PG_FIND_EXISTING, sqlite=_SQLITE_FIND_EXISTING
    )
    return {
        (signal_type, key): (int(entry_id), removed_at is not None)
        for stmt in statements
        for entry_id, signal_type, key, removed_at in session.execute(stmt).all()
    }


def insert_entries(
    session: Session, rows: Sequence[Sequence[Any]], *, returning: bool = False
) -> list[int]:
    """Insert rows (values in :data:`INSERT_COLUMNS` order) in one bulk insert; with
    ``returning``, their new ids in the order given (allocated first, see
    :func:`shieldwall.db.bulk.allocate_ids`: the caller has taken a change number, so it
    holds the write lock)."""
    if not rows:
        return []
    if not returning:
        bulk.insert_rows(session, _entries, INSERT_COLUMNS, rows)
        return []
    return _insert_with_ids(session, rows)[0]


def _insert_with_ids(
    session: Session, rows: Sequence[Sequence[Any]], *, skip_conflicts: bool = False
) -> tuple[list[int], int]:
    """Allocate ids for ``rows`` and insert them with those ids: (the ids, rows inserted)."""
    ids = bulk.allocate_ids(session, _entries, len(rows))
    inserted = bulk.insert_rows(
        session,
        _entries,
        ("id", *INSERT_COLUMNS),
        [(entry_id, *row) for entry_id, row in zip(ids, rows, strict=True)],
        skip_conflicts=skip_conflicts,
    )
    return ids, inserted


def insert_entries_skipping(session: Session, rows: Sequence[Sequence[Any]]) -> list[int | None]:
    """SQLite: insert the rows (values in :data:`INSERT_COLUMNS` order) whose value the bank
    does not hold yet, live or removed, in one statement that skips the others (the unique
    index's own probe decides, so nothing is looked up first). Returns each row's new id,
    or None where it was skipped. The caller holds the write lock (see
    :func:`insert_entries`), so the ids allocated are this statement's alone."""
    if not rows:
        return []
    ids, inserted = _insert_with_ids(session, rows, skip_conflicts=True)
    if inserted == len(rows):
        return list(ids)
    present = set(
        session.scalars(select(_entries.c.id).where(_entries.c.id.between(ids[0], ids[-1])))
    )
    return [entry_id if entry_id in present else None for entry_id in ids]


def revive_entries(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Make removed entries live again, each with its new provenance. Every row holds
    ``entry_id`` plus the columns set below."""
    if not rows:
        return
    stmt = (
        update(_entries)
        .where(_entries.c.id == bindparam("entry_id"))
        .values(
            removed_at=None,
            labels=bindparam("labels"),
            quality=bindparam("quality"),
            source=bindparam("source"),
            source_record_id=bindparam("source_record_id"),
            added_at=bindparam("added_at"),
            added_by=bindparam("added_by"),
            updated_at=bindparam("updated_at"),
            disabled_until=bindparam("disabled_until"),
            change_seq=bindparam("change_seq"),
        )
    )
    session.execute(stmt, list(rows))


def remove_all_entries(session: Session, bank_id: int, *, seq: int, now: datetime) -> int:
    """Soft-remove every live entry of a bank; returns how many."""
    result = session.execute(
        update(_entries)
        .where(_entries.c.bank_id == bank_id, _entries.c.removed_at.is_(None))
        .values(removed_at=now, updated_at=now, change_seq=seq)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def remove_entries(
    session: Session, entry_ids: Sequence[int], *, source: str, seq: int, now: datetime
) -> int:
    """Soft-remove the given live entries that came from ``source``; returns how many."""
    if not entry_ids:
        return 0
    result = session.execute(
        update(_entries)
        .where(
            _entries.c.id.in_(list(entry_ids)),
            _entries.c.removed_at.is_(None),
            _entries.c.source == source,
        )
        .values(removed_at=now, updated_at=now, change_seq=seq)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def relabel_entries(
    session: Session,
    rows: Sequence[tuple[int, list[str]]],
    *,
    source: str,
    seq: int,
    now: datetime,
) -> None:
    """Set the labels of live entries from ``source``: (entry id, labels) pairs."""
    if not rows:
        return
    stmt = (
        update(_entries)
        .where(
            _entries.c.id == bindparam("entry_id"),
            _entries.c.removed_at.is_(None),
            _entries.c.source == source,
        )
        .values(labels=bindparam("new_labels"), updated_at=now, change_seq=seq)
    )
    session.execute(stmt, [{"entry_id": i, "new_labels": labels} for i, labels in rows])


ExportRow = tuple[int, str, str, list[str], str | None, int | None]


def iter_live_entry_rows(
    session: Session, bank_id: int, *, batch: int = 1000
) -> Iterator[ExportRow]:
    """(id, signal_type, value, labels, source_record_id, quality) of every entry not
    removed, in id order, fetched in keyset batches so memory stays flat."""
    cols = (
        _entries.c.id,
        _entries.c.signal_type,
        _entries.c.value,
        _entries.c.labels,
        _entries.c.source_record_id,
        _entries.c.quality,
    )
    last = 0
    while True:
        rows = session.execute(
            select(*cols)
            .where(
                _entries.c.bank_id == bank_id,
                _entries.c.removed_at.is_(None),
                _entries.c.id > last,
            )
            .order_by(_entries.c.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        for row in rows:
            yield (row[0], row[1], row[2], row[3], row[4], row[5])
        last = rows[-1][0]
