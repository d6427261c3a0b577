"""All SQL for exchanges: the exchanges, their runs, provenance items, quarantine, shares.

Bulk paths (applying a page of records) use Core statements on the session's connection.
The fetch lease is one conditional UPDATE, so it works the same on SQLite and PostgreSQL
and across processes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Engine,
    Table,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from shieldwall.banks.models import Bank, BankEntry
from shieldwall.banks.repository import key_probes
from shieldwall.db import bulk
from shieldwall.exchanges.models import (
    Exchange,
    ExchangeItem,
    ExchangeQuarantine,
    ExchangeRun,
    ExchangeShare,
)
from shieldwall.exchanges.sources import record_names

_items = cast(Table, ExchangeItem.__table__)
_quarantine = cast(Table, ExchangeQuarantine.__table__)
_exchanges = cast(Table, Exchange.__table__)
_entries = cast(Table, BankEntry.__table__)
#: Most values bound in one IN list.
_CHUNK = 2000


def _chunks(values: Sequence[Any], size: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


#: SQLite page cache for a connection applying large batches (KiB): the default 2 MiB makes
#: every index insert into a big bank read pages back from the OS.
BULK_CACHE_KIB = 262_144
#: SQLite: checkpoint the write-ahead log every 16,384 pages (128 MiB of 8 KiB pages)
#: instead of every 1,000: index pages that every batch touches are copied back once, not
#: once per batch.
BULK_CHECKPOINT_PAGES = 16_384


@contextmanager
def bulk_connection(engine: Engine) -> Iterator[Connection | None]:
    """SQLite: one connection of the pool, for a fetch's every batch, with a page cache
    (:data:`BULK_CACHE_KIB`) and checkpoint interval (:data:`BULK_CHECKPOINT_PAGES`) for
    large batches, so each batch finds the pages the last one read; the connection's own
    settings are restored before it goes back to the pool (a connection left tuned would
    give whoever took it next a 256 MiB cache, and in time every pooled connection one).
    None on PostgreSQL: each batch takes a connection of the pool as usual."""
    if engine.dialect.name != "sqlite":
        yield None
        return
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        assert driver is not None
        settings = ("cache_size", "wal_autocheckpoint")
        before = {name: int(driver.execute(f"PRAGMA {name}").fetchone()[0]) for name in settings}
        try:
            driver.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
            driver.execute(f"PRAGMA wal_autocheckpoint={BULK_CHECKPOINT_PAGES}")
            yield connection
        finally:
            try:
                for name, value in before.items():
                    driver.execute(f"PRAGMA {name}={value}")
            except Exception:
                connection.invalidate()  # never back to the pool with the bulk settings
                raise


# ---- exchanges -----------------------------------------------------------------------------


def get_exchange(session: Session, exchange_id: int) -> Exchange | None:
    exchange = session.get(Exchange, exchange_id)
    return None if exchange is None or exchange.deleted_at is not None else exchange


def get_exchange_by_name(session: Session, name: str) -> Exchange | None:
    return session.scalar(
        select(Exchange).where(Exchange.name == name, Exchange.deleted_at.is_(None))
    )


def list_exchanges(session: Session) -> list[Exchange]:
    return list(
        session.scalars(
            select(Exchange).where(Exchange.deleted_at.is_(None)).order_by(Exchange.name)
        )
    )


def bank_names(session: Session, bank_ids: Iterable[int]) -> dict[int, str]:
    ids = sorted(set(bank_ids))
    if not ids:
        return {}
    rows = session.execute(select(Bank.id, Bank.name).where(Bank.id.in_(ids))).all()
    return {int(i): str(n) for i, n in rows}


def due_exchanges(session: Session, now: datetime) -> list[int]:
    """Enabled, scheduled exchanges whose next run is due and whose lease is free."""
    stmt = (
        select(Exchange.id)
        .where(
            Exchange.deleted_at.is_(None),
            Exchange.enabled.is_(True),
            Exchange.schedule_minutes > 0,
            or_(Exchange.next_run_at.is_(None), Exchange.next_run_at <= now),
            or_(Exchange.lease_until.is_(None), Exchange.lease_until < now),
        )
        .order_by(Exchange.next_run_at, Exchange.id)
    )
    return [int(i) for i in session.scalars(stmt)]


# ---- the fetch lease -----------------------------------------------------------------------


def take_lease(
    session: Session, exchange_id: int, owner: str, *, now: datetime, until: datetime
) -> bool:
    """Take the exchange's lease if it is free or expired; True when taken."""
    result = session.execute(
        update(_exchanges)
        .where(
            _exchanges.c.id == exchange_id,
            _exchanges.c.deleted_at.is_(None),
            or_(_exchanges.c.lease_until.is_(None), _exchanges.c.lease_until < now),
        )
        .values(lease_owner=owner, lease_until=until)
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def renew_lease(
    session: Session,
    exchange_id: int,
    owner: str,
    *,
    until: datetime,
    values: Mapping[str, Any] | None = None,
) -> bool:
    """Extend the lease (and set ``values``) only while ``owner`` still holds it and the
    exchange is not deleted."""
    result = session.execute(
        update(_exchanges)
        .where(
            _exchanges.c.id == exchange_id,
            _exchanges.c.lease_owner == owner,
            _exchanges.c.deleted_at.is_(None),
        )
        .values(lease_until=until, **dict(values or {}))
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


def release_lease(
    session: Session, exchange_id: int, owner: str, *, values: Mapping[str, Any] | None = None
) -> bool:
    result = session.execute(
        update(_exchanges)
        .where(_exchanges.c.id == exchange_id, _exchanges.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None, **dict(values or {}))
    )
    return int(getattr(result, "rowcount", 0) or 0) == 1


# ---- runs ----------------------------------------------------------------------------------


def recent_runs(session: Session, exchange_id: int, limit: int = 20) -> list[ExchangeRun]:
    return list(
        session.scalars(
            select(ExchangeRun)
            .where(ExchangeRun.exchange_id == exchange_id)
            .order_by(ExchangeRun.id.desc())
            .limit(limit)
        )
    )


def runs_by_id(session: Session, run_ids: Iterable[int]) -> dict[int, ExchangeRun]:
    ids = sorted({i for i in run_ids if i})
    if not ids:
        return {}
    return {r.id: r for r in session.scalars(select(ExchangeRun).where(ExchangeRun.id.in_(ids)))}


def abandoned_runs(session: Session, exchange_id: int, owner: str) -> list[ExchangeRun]:
    """Runs still marked running by another owner (their process stopped)."""
    return list(
        session.scalars(
            select(ExchangeRun).where(
                ExchangeRun.exchange_id == exchange_id,
                ExchangeRun.status == "running",
                ExchangeRun.owner != owner,
            )
        )
    )


# ---- items (provenance) --------------------------------------------------------------------

#: (id, record_id, entry_id, signal_type, value_key, labels, removed_at)
ItemRow = tuple[int, str, int, str, str, list[str], datetime | None]

_PG_FIND_ITEMS = text(
    "SELECT i.id, i.record_id, i.entry_id, e.signal_type, e.value_key, i.labels, i.removed_at "
    "FROM unnest(string_to_array(:records, chr(31))) AS wanted(record_id) "
    "CROSS JOIN LATERAL (SELECT id, record_id, entry_id, labels, removed_at "
    "FROM exchange_items WHERE exchange_id = :exchange_id AND record_id = wanted.record_id "
    "OFFSET 0) AS i "
    "JOIN bank_entries e ON e.id = i.entry_id"
)


_SQLITE_FIND_ITEMS = text(
    "SELECT i.id, i.record_id, i.entry_id, e.signal_type, e.value_key, i.labels, i.removed_at "
    "FROM exchange_items i JOIN bank_entries e ON e.id = i.entry_id "
    "WHERE i.exchange_id = :exchange_id AND i.record_id IN (SELECT value FROM json_each(:records))"
).columns(
    _items.c.id,
    _items.c.record_id,
    _items.c.entry_id,
    BankEntry.__table__.c.signal_type,
    BankEntry.__table__.c.value_key,
    _items.c.labels,
    _items.c.removed_at,
)


def items_for_records(
    session: Session, exchange_id: int, record_ids: Sequence[str]
) -> list[ItemRow]:
    """:data:`ItemRow` of every item of these records (the entry's key read through its
    id), probing the unique index once per record whatever the statistics say (see
    :func:`shieldwall.banks.repository.find_existing`)."""
    out: list[ItemRow] = []
    for chunk in _chunks(list(record_ids)):
        stmt: Executable
        if _is_pg(session):
            # one string, split by the server (record ids are printable: no unit separator)
            stmt = _PG_FIND_ITEMS.bindparams(exchange_id=exchange_id, records="\x1f".join(chunk))
        else:
            # one JSON array parameter (json_each), each record id one probe of the index
            stmt = _SQLITE_FIND_ITEMS.bindparams(
                exchange_id=exchange_id, records=json.dumps(list(chunk))
            )
        out.extend(
            (int(r[0]), str(r[1]), int(r[2]), str(r[3]), str(r[4]), list(r[5] or []), r[6])
            for r in session.execute(stmt).all()
        )
    return out


# Items of records named after their signal keep record_id '' and are found through their
# entry: one probe of uq_bank_entries_value, then one of uq_exchange_items_record, per key.
_PG_ITEMS_BY_SIGNAL = text(
    "SELECT i.id, '' AS record_id, i.entry_id, wanted.signal_type, wanted.value_key, i.labels, "
    "i.removed_at "
    "FROM unnest(string_to_array(:types, chr(31)), string_to_array(:keys, chr(31))) "
    "AS wanted(signal_type, value_key) "
    "CROSS JOIN LATERAL (SELECT id, bank_id FROM bank_entries "
    "WHERE signal_type = wanted.signal_type AND value_key = wanted.value_key OFFSET 0) AS e "
    "CROSS JOIN LATERAL (SELECT id, entry_id, labels, removed_at FROM exchange_items "
    "WHERE exchange_id = :exchange_id AND record_id = '' AND entry_id = e.id OFFSET 0) AS i "
    "WHERE e.bank_id = :bank_id"
)
# CROSS JOIN: SQLite joins in the order written (the entries' index first)
_SQLITE_ITEMS_BY_SIGNAL = text(
    "SELECT i.id, i.record_id, i.entry_id, e.signal_type, e.value_key, i.labels, i.removed_at "
    "FROM bank_entries e CROSS JOIN exchange_items i "
    "WHERE e.bank_id = :bank_id AND e.signal_type = :signal_type "
    "AND e.value_key IN (SELECT value FROM json_each(:keys)) "
    "AND i.exchange_id = :exchange_id AND i.record_id = '' AND i.entry_id = e.id"
).columns(*_SQLITE_FIND_ITEMS.selected_columns)


def items_for_signals(
    session: Session, exchange_id: int, bank_id: int, keys: Sequence[tuple[str, str]]
) -> list[ItemRow]:
    """:data:`ItemRow` of the items (record id ``''``: records named after their signal)
    of the bank's entries of these (signal_type, value_key) keys."""
    out: list[ItemRow] = []
    for chunk in _chunks(list(keys)):
        for stmt in key_probes(
            session, bank_id, chunk, pg=_PG_ITEMS_BY_SIGNAL, sqlite=_SQLITE_ITEMS_BY_SIGNAL
        ):
            out.extend(
                (int(r[0]), "", int(r[2]), str(r[3]), str(r[4]), list(r[5] or []), r[6])
                for r in session.execute(stmt, {"exchange_id": exchange_id}).all()
            )
    return out


ITEM_COLUMNS = (
    "exchange_id",
    "record_id",
    "entry_id",
    "labels",
    "first_seen",
    "last_seen",
    "removed_at",
)


def insert_items(session: Session, rows: Sequence[Sequence[Any]]) -> None:
    """Insert provenance rows (values in :data:`ITEM_COLUMNS` order) in one bulk statement."""
    if rows:
        bulk.insert_rows(session, _items, ITEM_COLUMNS, rows)


def update_items(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Each row: ``item_id``, ``new_labels``, ``seen`` and ``gone`` (removed_at or None)."""
    if not rows:
        return
    stmt = (
        update(_items)
        .where(_items.c.id == bindparam("item_id"))
        .values(
            labels=bindparam("new_labels"),
            last_seen=bindparam("seen"),
            removed_at=bindparam("gone"),
        )
    )
    session.execute(stmt, list(rows))


def touch_items(session: Session, item_ids: Sequence[int], *, now: datetime) -> None:
    for chunk in _chunks(list(item_ids)):
        session.execute(update(_items).where(_items.c.id.in_(list(chunk))).values(last_seen=now))


def remove_items(session: Session, item_ids: Sequence[int], *, now: datetime) -> None:
    for chunk in _chunks(list(item_ids)):
        session.execute(
            update(_items)
            .where(_items.c.id.in_(list(chunk)), _items.c.removed_at.is_(None))
            .values(removed_at=now, last_seen=now)
        )


# One probe of ix_exchange_items_entry per entry, whatever the statistics say (a plain IN
# list may be planned as a walk over every item while the table's statistics lag a fetch).
_PG_CLAIMED = text(
    "SELECT wanted.entry_id FROM unnest(string_to_array(:ids, ',')::bigint[]) "
    "AS wanted(entry_id) "
    "CROSS JOIN LATERAL (SELECT 1 FROM exchange_items WHERE entry_id = wanted.entry_id "
    "AND removed_at IS NULL LIMIT 1) AS hit"
)
_SQLITE_CLAIMED = text(
    "SELECT DISTINCT entry_id FROM exchange_items "
    "WHERE entry_id IN (SELECT value FROM json_each(:ids)) AND removed_at IS NULL"
)


def claimed_entries(session: Session, entry_ids: Iterable[int]) -> set[int]:
    """The entries some live item (of any exchange) still carries."""
    wanted = sorted(set(entry_ids))
    found: set[int] = set()
    for chunk in _chunks(wanted):
        if _is_pg(session):
            stmt = _PG_CLAIMED.bindparams(ids=",".join(str(int(i)) for i in chunk))
        else:
            stmt = _SQLITE_CLAIMED.bindparams(ids=json.dumps([int(i) for i in chunk]))
        found.update(int(i) for (i,) in session.execute(stmt).all())
    return found


_SQLITE_STALE = text(
    # "+exchange_id" keeps SQLite off the (exchange_id, record_id, ...) index: walking the
    # primary key from :after_id, in id order, finds the next batch without reading (and
    # sorting) every item of the exchange again
    "SELECT id, entry_id FROM exchange_items WHERE id > :after_id "
    "AND +exchange_id = :exchange_id AND removed_at IS NULL AND last_seen < :before "
    "ORDER BY id LIMIT :limit"
).bindparams(bindparam("before", type_=_items.c.last_seen.type))


def stale_items(
    session: Session, exchange_id: int, before: datetime, limit: int, *, after_id: int = 0
) -> list[tuple[int, int]]:
    """Live items not seen since ``before``, with ids above ``after_id``, in id order:
    (id, entry_id). A caller that removes them and asks again from the last id reads each
    item once, whatever the exchange's size."""
    stmt: Executable
    if _is_pg(session):
        stmt = (
            select(_items.c.id, _items.c.entry_id)
            .where(
                _items.c.id > after_id,
                _items.c.exchange_id == exchange_id,
                _items.c.removed_at.is_(None),
                _items.c.last_seen < before,
            )
            .order_by(_items.c.id)
            .limit(limit)
        )
    else:
        stmt = _SQLITE_STALE.bindparams(
            after_id=after_id, exchange_id=exchange_id, before=before, limit=limit
        )
    return [(int(i), int(e)) for i, e in session.execute(stmt).all()]


def count_live_records(session: Session, exchange_ids: Sequence[int]) -> dict[int, int]:
    if not exchange_ids:
        return {}
    record_id = _items.c.record_id
    # a record named after its signal (record_id '') has one item; others may have several
    rows = session.execute(
        select(
            _items.c.exchange_id,
            func.count(func.distinct(func.nullif(record_id, ""))),
            func.coalesce(func.sum(case((record_id == "", 1), else_=0)), 0),
        )
        .where(_items.c.exchange_id.in_(list(exchange_ids)), _items.c.removed_at.is_(None))
        .group_by(_items.c.exchange_id)
    ).all()
    return {int(x): int(named) + int(keyed) for x, named, keyed in rows}


def items_for_entries(
    session: Session, entry_ids: Iterable[int]
) -> list[tuple[int, int, str, int]]:
    """Live items carrying these entries: (item id, exchange_id, record_id, entry_id), the
    record id of a record named after its signal spelled out (:func:`record_id_of`)."""
    out: list[tuple[int, int, str, int]] = []
    for chunk in _chunks(sorted(set(entry_ids)), 500):
        rows = session.execute(
            select(
                _items.c.id,
                _items.c.exchange_id,
                _items.c.record_id,
                _items.c.entry_id,
                _exchanges.c.type,
                _entries.c.signal_type,
                _entries.c.value,
            )
            .join(_exchanges, _exchanges.c.id == _items.c.exchange_id)
            .join(_entries, _entries.c.id == _items.c.entry_id)
            .where(_items.c.entry_id.in_(list(chunk)), _items.c.removed_at.is_(None))
            .order_by(_items.c.id)
        ).all()
        out.extend(
            (int(i), int(x), record_id_of(kind, stored, signal_type, value), int(e))
            for i, x, stored, e, kind, signal_type, value in rows
        )
    return out


def record_id_of(exchange_type: str, stored: str, signal_type: str, value: str) -> str:
    """An item's source record id: as stored, or (stored ``''``) the one its source names
    the record of its entry's signal by."""
    if stored:
        return stored
    names = record_names(exchange_type)
    return (names.record_id(signal_type, value) if names else None) or ""


# ---- quarantine ----------------------------------------------------------------------------


def quarantine_counts(session: Session, exchange_ids: Sequence[int]) -> dict[int, int]:
    if not exchange_ids:
        return {}
    rows = session.execute(
        select(_quarantine.c.exchange_id, func.count())
        .where(_quarantine.c.exchange_id.in_(list(exchange_ids)))
        .group_by(_quarantine.c.exchange_id)
    ).all()
    return {int(x): int(n) for x, n in rows}


def list_quarantine(
    session: Session, exchange_id: int, *, limit: int = 100, after_id: int = 0
) -> list[ExchangeQuarantine]:
    return list(
        session.scalars(
            select(ExchangeQuarantine)
            .where(ExchangeQuarantine.exchange_id == exchange_id, ExchangeQuarantine.id > after_id)
            .order_by(ExchangeQuarantine.last_seen.desc(), ExchangeQuarantine.id.desc())
            .limit(limit)
        )
    )


def quarantined_ids(
    session: Session, exchange_id: int, record_ids: Sequence[str]
) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in _chunks(list(record_ids)):
        rows = session.execute(
            select(_quarantine.c.record_id, _quarantine.c.id).where(
                _quarantine.c.exchange_id == exchange_id,
                _quarantine.c.record_id.in_(list(chunk)),
            )
        ).all()
        out.update({str(r): int(i) for r, i in rows})
    return out


def has_items(session: Session, exchange_id: int) -> bool:
    """Whether the exchange has any provenance item (live or removed)."""
    return (
        session.scalar(select(_items.c.id).where(_items.c.exchange_id == exchange_id).limit(1))
        is not None
    )


def has_quarantine(session: Session, exchange_id: int) -> bool:
    return (
        session.scalar(
            select(_quarantine.c.id).where(_quarantine.c.exchange_id == exchange_id).limit(1)
        )
        is not None
    )


def insert_quarantine(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        session.execute(insert(_quarantine), list(rows))


def bump_quarantine(session: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Each row: ``q_id``, ``new_reason``, ``seen``, ``run``."""
    if not rows:
        return
    stmt = (
        update(_quarantine)
        .where(_quarantine.c.id == bindparam("q_id"))
        .values(
            reason=bindparam("new_reason"),
            last_seen=bindparam("seen"),
            run_id=bindparam("run"),
            times=_quarantine.c.times + 1,
        )
    )
    session.execute(stmt, list(rows))


def clear_quarantine(session: Session, exchange_id: int, record_ids: Sequence[str]) -> int:
    removed = 0
    for chunk in _chunks(list(record_ids)):
        result = session.execute(
            delete(_quarantine).where(
                _quarantine.c.exchange_id == exchange_id,
                _quarantine.c.record_id.in_(list(chunk)),
            )
        )
        removed += int(getattr(result, "rowcount", 0) or 0)
    return removed


# ---- shares and the feed -------------------------------------------------------------------


def get_share(session: Session, bank_id: int) -> ExchangeShare | None:
    return session.scalar(select(ExchangeShare).where(ExchangeShare.bank_id == bank_id))


def list_shares(session: Session) -> list[tuple[ExchangeShare, str]]:
    rows = session.execute(
        select(ExchangeShare, Bank.name)
        .join(Bank, Bank.id == ExchangeShare.bank_id)
        .where(Bank.deleted_at.is_(None))
        .order_by(Bank.name)
    ).all()
    return [(share, str(name)) for share, name in rows]


FeedRow = tuple[int, str, str, list[str], datetime | None, int]


def feed_rows(
    session: Session, bank_id: int, *, after_seq: int, after_id: int, upto_seq: int, limit: int
) -> list[FeedRow]:
    """Entries of the bank changed after (after_seq, after_id) up to ``upto_seq``, in
    (change_seq, id) order: (id, signal_type, value, labels, removed_at, change_seq)."""
    c = _entries.c
    rows = session.execute(
        select(c.id, c.signal_type, c.value, c.labels, c.removed_at, c.change_seq)
        .where(
            # a range of ix_bank_entries_feed, read in its order
            c.bank_id == bank_id,
            c.change_seq >= after_seq,
            tuple_(c.change_seq, c.id) > tuple_(after_seq, after_id),
            c.change_seq <= upto_seq,
        )
        .order_by(c.change_seq, c.id)
        .limit(limit)
    ).all()
    return [(int(r[0]), str(r[1]), str(r[2]), list(r[3] or []), r[4], int(r[5])) for r in rows]
