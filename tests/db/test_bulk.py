"""Bulk inserts (SQLite executemany, PostgreSQL COPY) store exactly what SQLAlchemy would:
text that COPY must escape, NULLs, shared and distinct JSON and timestamps; and ids
allocated ahead are the rows' ids."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
from sqlalchemy import Table, select

from shieldwall.banks import repository, service
from shieldwall.banks.changes import change_seq
from shieldwall.banks.models import BankEntry
from shieldwall.banks.schemas import BankCreate
from shieldwall.core.access import Principal
from shieldwall.db import bulk
from shieldwall.db.engine import Database

pytestmark = pytest.mark.db


def md5_row(bank_id: int, n: int, now: datetime, seq: int) -> tuple[object, ...]:
    """A plain new entry's values (repository.INSERT_COLUMNS order): MD5 number ``n``."""
    key = f"{n:032x}"
    return (bank_id, "md5", key, key, None, [], "manual", None, now, "t", now, None, None, seq)


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


def test_many_rows_go_in_whole_statements_and_a_remainder(db: Database) -> None:
    """More rows than one SQLite statement (500) or one part of a PostgreSQL COPY (2,000)
    carries: every row stored once, with its own values -- text COPY must escape and
    objects shared by many rows included, on either side of a part's end."""
    now = datetime(2026, 11, 29, tzinfo=UTC)
    shared = ["SHARED"]
    count = 4567

    def record_id(n: int) -> str | None:
        if n % 997 == 0:
            return AWKWARD[n // 997 % len(AWKWARD)] + str(n)
        return None if n % 7 == 0 else f"r{n}"

    def labels(n: int) -> list[str]:
        return shared if n % 5 == 0 else [f"L{n % 3}"]

    with db.session() as session:
        bank = service.create_bank(session, BankCreate(name="MANY"), actor=Principal.system("t"))
        seq = change_seq(session)
        rows = [
            (
                bank.id,
                "md5",
                f"{n:032x}",
                f"{n:032x}",
                None if n % 11 == 0 else n,
                labels(n),
                "manual",
                record_id(n),
                now,
                "t",
                now + timedelta(seconds=n),
                None,
                None,
                seq,
            )
            for n in range(count)
        ]
        ids = repository.insert_entries(session, rows, returning=True)
        session.commit()
        stored = session.execute(
            select(
                BankEntry.id,
                BankEntry.value,
                BankEntry.quality,
                BankEntry.labels,
                BankEntry.source_record_id,
                BankEntry.updated_at,
            )
            .where(BankEntry.bank_id == bank.id)
            .order_by(BankEntry.id)
        ).all()
    assert [r[0] for r in stored] == ids
    assert [tuple(r[1:]) for r in stored] == [
        (
            f"{n:032x}",
            None if n % 11 == 0 else n,
            labels(n),
            record_id(n),
            now + timedelta(seconds=n),
        )
        for n in range(count)
    ]


def test_ids_allocated_ahead_follow_earlier_rows(db: Database) -> None:
    with db.session() as session:
        bank = service.create_bank(session, BankCreate(name="IDS"), actor=Principal.system("t"))
        seq = change_seq(session)
        now = datetime(2026, 11, 29, tzinfo=UTC)

        def row(n: int) -> tuple[object, ...]:
            return md5_row(bank.id, n, now, seq)

        first = repository.insert_entries(session, [row(1), row(2)], returning=True)
        second = repository.insert_entries(session, [row(3)], returning=True)
        session.commit()
    assert first[1] == first[0] + 1
    assert second[0] > first[1]


def test_new_entries_go_in_and_values_the_bank_holds_are_left_as_they_are(db: Database) -> None:
    """``add_new_entries`` (a first fetch's path): values new to the bank are inserted with
    ids read back; a value held live or removed is untouched and reported with its id (on
    SQLite the insert skips it by the unique index; on PostgreSQL the COPY fails on it, is
    rolled back to its savepoint and every value is looked up first)."""
    from shieldwall.banks.schemas import EntrySource

    now = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
    with db.session() as session:
        bank = service.create_bank(session, BankCreate(name="NEW"), actor=Principal.system("t"))
        seq = change_seq(session)

        def entry(n: int, label: str) -> service.NewEntry:
            return service.validate_entry(
                bank,
                "md5",
                f"{n:032x}",
                labels=[label],
                source_record_id=f"r{n}",
                source=EntrySource.EXCHANGE,
            )

        before = service.store_entries(
            session, bank, [entry(1, "OLD"), entry(2, "OLD")], added_by="t", seq=seq, now=now
        )
        (live_id, removed_id) = [entry_id for _, entry_id in before]
        assert live_id is not None
        assert removed_id is not None
        service.withdraw_entry_ids(
            session, [removed_id], source=EntrySource.EXCHANGE, seq=seq, now=now
        )
        session.commit()

        seq = change_seq(session)
        later = now + timedelta(hours=1)
        fresh, existing = service.add_new_entries(
            session,
            bank,
            [entry(n, "NEW") for n in (3, 1, 4, 2)],
            added_by="exchange:1",
            seq=seq,
            now=later,
        )
        session.commit()
        assert existing == {
            ("md5", f"{1:032x}"): (live_id, False),
            ("md5", f"{2:032x}"): (removed_id, True),
        }
        assert set(fresh) == {("md5", f"{3:032x}"), ("md5", f"{4:032x}")}
        rows = {
            e.value: e
            for e in session.scalars(select(BankEntry).where(BankEntry.bank_id == bank.id))
        }
        assert len(rows) == 4
        for n in (3, 4):
            stored = rows[f"{n:032x}"]
            assert stored.id == fresh[("md5", f"{n:032x}")]
            assert (stored.labels, stored.added_by, stored.added_at) == (
                ["NEW"],
                "exchange:1",
                later,
            )
            assert (stored.source_record_id, stored.change_seq, stored.removed_at) == (
                f"r{n}",
                seq,
                None,
            )
        for n, removed in ((1, False), (2, True)):  # untouched
            stored = rows[f"{n:032x}"]
            assert stored.labels == ["OLD"]
            assert stored.added_at == now
            assert (stored.removed_at is not None) is removed

        # the ids skipped on SQLite are not lost to later inserts' bookkeeping
        seq = change_seq(session)
        again, _ = service.add_new_entries(
            session, bank, [entry(5, "NEW")], added_by="t", seq=seq, now=later
        )
        session.commit()
        assert again[("md5", f"{5:032x}")] > max(fresh.values())


def test_skipping_conflicts_is_refused_where_the_bulk_path_cannot(db: Database) -> None:
    """SQLite leaves out a row that breaks a unique constraint and counts only the rows
    inserted; PostgreSQL's COPY cannot skip, so it is refused before anything is sent."""
    from shieldwall.db import bulk

    now = datetime(2026, 11, 29, tzinfo=UTC)
    with db.session() as session:
        bank = service.create_bank(session, BankCreate(name="SKIP"), actor=Principal.system("t"))
        seq = change_seq(session)

        def row(n: int) -> tuple[object, ...]:
            return md5_row(bank.id, n, now, seq)

        repository.insert_entries(session, [row(1)])
        table = cast(Table, BankEntry.__table__)
        if db.engine.dialect.name == "postgresql":
            with pytest.raises(ValueError, match="cannot skip"):
                bulk.insert_rows(
                    session, table, repository.INSERT_COLUMNS, [row(2)], skip_conflicts=True
                )
        else:
            # more rows than one statement takes (500): conflicts in a full statement and
            # in the remainder, and a repeat within the call
            rows = [row(n) for n in range(2, 1202)]
            rows[10] = rows[700] = rows[1150] = row(1)
            rows[20] = row(3)
            inserted = bulk.insert_rows(
                session, table, repository.INSERT_COLUMNS, rows, skip_conflicts=True
            )
            assert inserted == 1200 - 4
        session.commit()
        values = sorted(
            session.scalars(select(BankEntry.value).where(BankEntry.bank_id == bank.id))
        )
    expected = (
        [1]
        if db.engine.dialect.name == "postgresql"
        else [1] + [n for n in range(2, 1202) if n not in (12, 22, 702, 1152)]
    )
    assert values == [f"{n:032x}" for n in expected]


def test_rows_read_from_the_driver_are_those_the_statement_selects(db: Database) -> None:
    """``bulk.read_rows``: the same rows, in order, as SQLAlchemy's own reading, as plain
    tuples -- with a bound value, an expanding IN list and a limit in the statement."""
    now = datetime(2026, 11, 29, tzinfo=UTC)
    with db.session() as session:
        bank = service.create_bank(session, BankCreate(name="READ"), actor=Principal.system("t"))
        seq = change_seq(session)
        ids = repository.insert_entries(
            session, [md5_row(bank.id, n, now, seq) for n in range(30)], returning=True
        )
        session.commit()
        c = cast(Table, BankEntry.__table__).c
        statement = (
            select(c.id, c.signal_type, c.value)
            .where(c.id > ids[4], c.value.in_([f"{n:032x}" for n in (1, 7, 8, 20, 29)]))
            .order_by(c.id)
            .limit(3)
        )
        read = bulk.read_rows(session, statement)
        assert read == [tuple(r) for r in session.execute(statement).all()]
    assert read == [(ids[n], "md5", f"{n:032x}") for n in (7, 8, 20)]
    assert all(type(row) is tuple for row in read)


def test_a_batch_of_new_values_is_inserted_without_looking_any_up(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The common case of a first fetch: no value of the batch is in the bank, so none is
    looked up; once one is, only PostgreSQL (whose COPY cannot skip it) looks them all up,
    and nothing of its failed COPY is kept."""
    from shieldwall.banks.schemas import EntrySource

    looked_up: list[list[tuple[str, str]]] = []
    real = repository.find_existing

    def spy(session: object, bank_id: int, keys: object) -> object:
        looked_up.append(list(keys))  # type: ignore[call-overload]
        return real(session, bank_id, looked_up[-1])  # type: ignore[arg-type]

    monkeypatch.setattr(repository, "find_existing", spy)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    with db.session() as session:
        bank = service.create_bank(session, BankCreate(name="FIRST"), actor=Principal.system("t"))

        def entries(*numbers: int) -> list[service.NewEntry]:
            return [
                service.validate_entry(bank, "md5", f"{n:032x}", source=EntrySource.EXCHANGE)
                for n in numbers
            ]

        seq = change_seq(session)
        fresh, existing = service.add_new_entries(
            session, bank, entries(1, 2, 3), added_by="t", seq=seq, now=now
        )
        assert existing == {}
        assert [keys for keys in looked_up if keys] == []
        session.commit()

        seq = change_seq(session)
        again, existing = service.add_new_entries(
            session, bank, entries(4, 2, 5), added_by="t", seq=seq, now=now
        )
        session.commit()
        assert set(again) == {("md5", f"{4:032x}"), ("md5", f"{5:032x}")}
        assert existing == {("md5", f"{2:032x}"): (fresh[("md5", f"{2:032x}")], False)}
        wanted = [("md5", f"{2:032x}")]
        if db.engine.dialect.name == "postgresql":
            wanted = [("md5", f"{n:032x}") for n in (4, 2, 5)]
        assert [keys for keys in looked_up if keys] == [wanted]
        stored = session.execute(
            select(BankEntry.id, BankEntry.value).where(BankEntry.bank_id == bank.id)
        ).all()
    assert sorted(value for _, value in stored) == [f"{n:032x}" for n in range(1, 6)]
    assert {entry_id for entry_id, _ in stored} == {*fresh.values(), *again.values()}

    # told to look first, PostgreSQL looks every value up before its one COPY
    copies: list[int] = []
    real_insert = repository.insert_entries

    def insert_spy(session: object, rows: list[object], **kwargs: object) -> object:
        copies.append(len(rows))
        return real_insert(session, rows, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(repository, "insert_entries", insert_spy)
    looked_up.clear()
    with db.session() as session:
        bank = session.merge(bank)
        seq = change_seq(session)
        third, existing = service.add_new_entries(
            session, bank, entries(6, 1, 7), added_by="t", seq=seq, now=now, look_first=True
        )
        session.commit()
    assert set(third) == {("md5", f"{6:032x}"), ("md5", f"{7:032x}")}
    assert existing == {("md5", f"{1:032x}"): (fresh[("md5", f"{1:032x}")], False)}
    if db.engine.dialect.name == "postgresql":
        assert copies == [2]
        assert [keys for keys in looked_up if keys] == [[("md5", f"{n:032x}") for n in (6, 1, 7)]]
    else:  # SQLite's insert skips the held value whatever it is told
        assert copies == []
        assert [keys for keys in looked_up if keys] == [[("md5", f"{1:032x}")]]


def test_a_bulk_insert_of_a_value_the_bank_holds_is_an_integrity_error(db: Database) -> None:
    """A bulk insert (PostgreSQL's COPY, SQLite's INSERTs) of a value the bank holds raises
    SQLAlchemy's IntegrityError naming the unique index, as any statement does, and a
    rollback to a savepoint taken before it keeps none of its rows."""
    from sqlalchemy.exc import IntegrityError

    now = datetime(2026, 11, 30, tzinfo=UTC)
    with db.session() as session:
        bank = service.create_bank(session, BankCreate(name="DUP"), actor=Principal.system("t"))
        seq = change_seq(session)
        repository.insert_entries(session, [md5_row(bank.id, 1, now, seq)])
        table = cast(Table, BankEntry.__table__)
        rows = [md5_row(bank.id, n, now, seq) for n in (2, 3, 1, 4)]
        with pytest.raises(IntegrityError) as raised, session.begin_nested():
            bulk.insert_rows(session, table, repository.INSERT_COLUMNS, rows)
        named = (
            "uq_bank_entries_value"
            if db.engine.dialect.name == "postgresql"
            else "UNIQUE constraint failed: bank_entries.signal_type, bank_entries.value_key"
        )
        assert named in str(raised.value)
        session.commit()
        values = session.scalars(select(BankEntry.value).where(BankEntry.bank_id == bank.id))
        assert list(values) == [f"{1:032x}"]


def test_values_every_row_has_are_bound_once_per_statement() -> None:
    """SQLite statements name a shared value once (``?1``) in every row: each execution binds
    it once and the rows only their own values, and the rows read back whole."""
    import sqlite3

    rows = [(n, f"v{n}") for n in range(1234)]  # id, value; bank 7 and kind "x" shared
    statements = bulk.sqlite_statements(
        "INSERT INTO t (bank, id, kind, value) VALUES ", rows, 500, shared={0: 7, 2: "x"}
    )
    assert [len(params) for _, params in statements] == [2, 1]  # 2 x 500 rows, then 234
    whole, rest = statements
    assert all(len(p) == 2 + 500 * 2 and p[:2] == (7, "x") for p in whole[1])
    assert len(rest[1][0]) == 2 + 234 * 2
    assert whole[0].count("?1,") == 500
    assert "(?1, ?3, ?2, ?4), (?1, ?5, ?2, ?6)" in whole[0]
    connection = sqlite3.connect(":memory:")
    connection.execute("CREATE TABLE t (bank INT, id INTEGER PRIMARY KEY, kind TEXT, value TEXT)")
    for statement, params in statements:
        connection.executemany(statement, params)
    assert connection.execute("SELECT bank, id, kind, value FROM t ORDER BY id").fetchall() == [
        (7, n, "x", f"v{n}") for n in range(1234)
    ]
    # one object in every row is shared; equal values that are several objects are not
    labels = ["L"]
    brackets = "".join(["[", "]"])  # equal to "[]", another object
    assert bulk.split_shared([[7, 7, 7], [1, 2, 3], [labels] * 3, ["[]", brackets, "[]"]]) == (
        {0: 7, 2: labels},
        [(1, "[]"), (2, brackets), (3, "[]")],
    )
    assert bulk.split_shared([[7], ["a"]]) == ({0: 7, 1: "a"}, [()])
    with pytest.raises(ValueError, match="outside a row"):
        bulk.sqlite_statements("INSERT INTO t (a) VALUES ", [(1,)], 10, shared={5: 1})


def test_a_row_alone_is_stored_with_every_value_bound_once(db: Database) -> None:
    """A bulk insert of one row (every column holds one object in every row, so nothing
    varies): stored whole, on either database."""
    now = datetime(2026, 11, 29, tzinfo=UTC)
    table = cast(Table, BankEntry.__table__)
    with db.session() as session:
        bank = service.create_bank(session, BankCreate(name="ALONE"), actor=Principal.system("t"))
        seq = change_seq(session)
        row = md5_row(bank.id, 3, now, seq)
        assert bulk.insert_rows(session, table, repository.INSERT_COLUMNS, [row]) == 1
        session.commit()
        stored = session.execute(
            select(
                BankEntry.bank_id, BankEntry.value, BankEntry.added_at, BankEntry.change_seq
            ).where(BankEntry.bank_id == bank.id)
        ).all()
    assert [tuple(r) for r in stored] == [(bank.id, f"{3:032x}", now, seq)]
