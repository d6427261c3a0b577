"""Bulk inserts (SQLite executemany, PostgreSQL COPY) store exactly what SQLAlchemy would:
text that COPY must escape, NULLs, shared and distinct JSON and timestamps; and ids
allocated ahead are the rows' ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from shieldwall.banks import repository, service
from shieldwall.banks.changes import change_seq
from shieldwall.banks.models import BankEntry
from shieldwall.banks.schemas import BankCreate
from shieldwall.core.access import Principal
from shieldwall.db.engine import Database

pytestmark = pytest.mark.db

AWKWARD = ["tab\there", "line\nbreak", "back\\slash", "cr\rhere", "\\N", "plain", "é ☃ \U0001d518"]


def test_bulk_rows_read_back_as_written(db: Database) -> None:
    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    shared = ["A1"]
    rows = []
    for n, text in enumerate(AWKWARD):
        rows.append(
            (
                0,  # bank id, set below
                "md5",
                f"{n:032x}",
                f"{n:032x}",
                None if n % 2 else n,  # quality: NULL and numbers in one column
                shared if n % 3 else [text[:3].strip() or "x", "B2"],  # shared and distinct
                "exchange",
                text if n != 5 else None,  # record id: escapes, and one NULL
                now,
                "tester",
                now + timedelta(seconds=n),  # distinct timestamps
                None,
                None,
                7,
            )
        )
    with db.session() as session:
        bank = service.create_bank(session, BankCreate(name="BULK"), actor=Principal.system("t"))
        change_seq(session)  # the write lock, as every caller holds it
        rows = [(bank.id, *row[1:]) for row in rows]
        ids = repository.insert_entries(session, rows, returning=True)
        session.commit()
        assert ids == sorted(ids)
        assert len(set(ids)) == len(rows)
        stored = {
            e.id: e for e in session.scalars(select(BankEntry).where(BankEntry.bank_id == bank.id))
        }
    assert sorted(stored) == ids
    for entry_id, row in zip(ids, rows, strict=True):
        entry = stored[entry_id]
        assert entry.value == row[2]
        assert entry.quality == row[4]
        assert entry.labels == row[5]
        assert entry.source_record_id == row[7]
        assert entry.added_at == row[8]
        assert entry.updated_at == row[10]
        assert entry.disabled_until is None
        assert entry.removed_at is None
        assert entry.change_seq == 7


def test_ids_allocated_ahead_follow_earlier_rows(db: Database) -> None:
    with db.session() as session:
        bank = service.create_bank(session, BankCreate(name="IDS"), actor=Principal.system("t"))
        seq = change_seq(session)
        now = datetime(2026, 11, 29, tzinfo=UTC)

        def row(n: int) -> tuple[object, ...]:
            key = f"{n:032x}"
            return (
                bank.id,
                "md5",
                key,
                key,
                None,
                [],
                "manual",
                None,
                now,
                "t",
                now,
                None,
                None,
                seq,
            )

        first = repository.insert_entries(session, [row(1), row(2)], returning=True)
        second = repository.insert_entries(session, [row(3)], returning=True)
        session.commit()
    assert first[1] == first[0] + 1
    assert second[0] > first[1]
