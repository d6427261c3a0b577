"""Migrations run on SQLite and PostgreSQL and match the models."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text

from shieldwall.api import create_app
from shieldwall.config import Settings
from shieldwall.core.errors import DatabaseNotMigrated
from shieldwall.db import migrate
from shieldwall.db.engine import SQLITE_PAGE_SIZE, Database
from shieldwall.db.models import Base
from tests.conftest import PG_URL, mark_schema_dirty, reset_postgres

TABLES = {
    "users", "web_sessions", "api_keys", "events", "event_chain_head",
    "banks", "bank_entries", "bank_change_head", "scan_requests",
    "media_objects",
    "outbox_items", "actions",
    "cases", "case_signals", "case_decisions", "scan_records", "review_preferences",
    "user_reports", "user_report_keys", "takedown_requests", "rate_limit_windows",
    "acc_companies", "acc_services", "acc_aliases", "acc_commitments", "acc_statements",
    "acc_disclosures", "acc_ncmec_counts", "acc_ncmec_totals", "acc_evidence", "acc_imports",
    "exchanges", "exchange_runs", "exchange_items", "exchange_quarantine", "exchange_shares",
    "term_lists", "term_entries", "conversations", "conversation_messages",
    "reports", "report_cases", "report_steps", "report_contexts",
    "evidence_items", "evidence_holds",
    "transparency_reports",
}


@pytest.fixture
def empty_db(tmp_path: Path) -> Database:
    """A database with no tables at all."""
    if PG_URL:
        mark_schema_dirty()
        reset_postgres(PG_URL, schema=True)
        return Database(PG_URL)
    return Database(f"sqlite:///{tmp_path / 'empty.db'}")


def tables(db: Database) -> set[str]:
    return set(inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade(empty_db: Database) -> None:
    assert migrate.current_revision(empty_db.engine) is None
    assert not migrate.is_current(empty_db.engine)
    migrate.upgrade(empty_db.engine)
    assert migrate.is_current(empty_db.engine)
    assert tables(empty_db) == TABLES
    with empty_db.engine.connect() as conn:
        head = conn.execute(text("SELECT last_event_id, last_hash FROM event_chain_head")).one()
    assert head == (0, "0" * 64)
    migrate.downgrade(empty_db.engine, "base")
    assert tables(empty_db) == set()
    migrate.upgrade(empty_db.engine)
    assert tables(empty_db) == TABLES
    empty_db.dispose()


def test_models_match_the_migrations(db: Database) -> None:
    with db.engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []


def test_server_refuses_an_unmigrated_database_when_not_allowed_to_migrate(
    empty_db: Database, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=empty_db.url, auto_migrate=False)
    with pytest.raises(DatabaseNotMigrated, match="shieldwall db upgrade"):
        create_app(settings, database=empty_db)
    assert tables(empty_db) == set()
    empty_db.dispose()


def test_postgres_is_not_migrated_automatically_by_default(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql+psycopg://x@localhost/y")
    assert settings.should_auto_migrate is False
    assert Settings(data_dir=tmp_path).should_auto_migrate is True


@pytest.mark.skipif(bool(PG_URL), reason="SQLite-only: embedded mode migrates on start")
def test_sqlite_is_migrated_on_start_and_uses_wal(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "var")
    app = create_app(settings)
    db: Database = app.state.db
    assert migrate.is_current(db.engine)
    assert (tmp_path / "var" / "shieldwall.db").exists()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        # a new database gets bigger pages than SQLite's 4 KiB (see db.engine)
        assert conn.exec_driver_sql("PRAGMA page_size").scalar() == SQLITE_PAGE_SIZE == 8192
    db.dispose()
    # A second start reuses the same database without migrating again.
    again = create_app(settings)
    assert migrate.current_revision(again.state.db.engine) == migrate.head_revision(db.engine)
    again.state.db.dispose()


def test_exchange_items_move_to_their_entry_ids_and_back(empty_db: Database) -> None:
    """0015: each provenance item finds its entry by (bank, signal type, value key); an item
    whose entry is gone is dropped; a downgrade restores the three columns."""
    migrate.upgrade(empty_db.engine, "0014_bank_entry_indexes")
    now = "2026-11-29 00:00:00"
    with empty_db.engine.begin() as conn:
        for bank_id in (1, 2):
            conn.execute(
                text(
                    "INSERT INTO banks (id, name, description, kind, action, enabled, labels, "
                    "pdq_threshold, vpdq_distance, vpdq_query_pct, vpdq_target_pct, dihedral, "
                    "letterbox, created_at, updated_at, change_seq) VALUES "
                    "(:id, :name, '', 'block', 'block', true, '[]', 31, 31, 80, 0, false, "
                    "false, :now, :now, 0)"
                ),
                {"id": bank_id, "name": f"B{bank_id}", "now": now},
            )
        # the same value in two banks: each item must find its own bank's entry
        for entry_id, bank_id, key in ((10, 1, "a" * 64), (11, 2, "a" * 64), (12, 1, "b" * 64)):
            conn.execute(
                text(
                    "INSERT INTO bank_entries (id, bank_id, signal_type, value, value_key, "
                    "labels, source, added_at, added_by, updated_at, change_seq) VALUES "
                    "(:id, :bank, 'pdq', :value, :key, '[]', 'exchange', :now, 'x', :now, 1)"
                ),
                {"id": entry_id, "bank": bank_id, "value": key, "key": key, "now": now},
            )
        conn.execute(
            text(
                "INSERT INTO exchanges (id, name, type, bank_id, settings, enabled, "
                "schedule_minutes, time_limit_seconds, labels, feedback, created_at, "
                "updated_at) VALUES (1, 'x', 'local_file', 2, '{}', true, 60, 600, '[]', "
                "false, :now, :now)"
            ),
            {"now": now},
        )
        for item_id, bank_id, key in ((1, 2, "a" * 64), (2, 1, "b" * 64), (3, 1, "c" * 64)):
            conn.execute(
                text(
                    "INSERT INTO exchange_items (id, exchange_id, bank_id, record_id, "
                    "signal_type, value_key, labels, first_seen, last_seen) VALUES "
                    "(:id, 1, :bank, :record, 'pdq', :key, '[]', :now, :now)"
                ),
                {"id": item_id, "bank": bank_id, "record": f"r{item_id}", "key": key, "now": now},
            )
    migrate.upgrade(empty_db.engine)
    with empty_db.engine.connect() as conn:
        rows = conn.execute(text("SELECT id, entry_id FROM exchange_items ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(1, 11), (2, 12)]  # item 3 had no entry
    migrate.downgrade(empty_db.engine, "0014_bank_entry_indexes")
    with empty_db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT id, bank_id, signal_type, value_key FROM exchange_items ORDER BY id")
        ).all()
    assert [tuple(r) for r in rows] == [(1, 2, "pdq", "a" * 64), (2, 1, "pdq", "b" * 64)]
    empty_db.dispose()


def test_items_of_records_named_after_their_signal_drop_their_record_id_and_get_it_back(
    empty_db: Database,
) -> None:
    """0016: an item of a StopNCII, list-file or URL exchange whose record id is exactly the
    name the source gives its entry's signal keeps record id ''; every other item (another
    exchange type, a record named otherwise) keeps its id. A downgrade spells them out."""
    migrate.upgrade(empty_db.engine, "0015_exchange_items_entry")
    now = "2026-11-29 00:00:00"
    pdq, md5 = "a" * 64, "b" * 32
    with empty_db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO banks (id, name, description, kind, action, enabled, labels, "
                "pdq_threshold, vpdq_distance, vpdq_query_pct, vpdq_target_pct, dihedral, "
                "letterbox, created_at, updated_at, change_seq) VALUES "
                "(1, 'B', '', 'block', 'block', true, '[]', 31, 31, 80, 0, false, false, "
                ":now, :now, 0)"
            ),
            {"now": now},
        )
        for entry_id, signal_type, value in ((10, "pdq", pdq), (11, "video_md5", md5)):
            conn.execute(
                text(
                    "INSERT INTO bank_entries (id, bank_id, signal_type, value, value_key, "
                    "labels, source, added_at, added_by, updated_at, change_seq) VALUES "
                    "(:id, 1, :type, :value, :key, '[]', 'exchange', :now, 'x', :now, 1)"
                ),
                {"id": entry_id, "type": signal_type, "value": value, "key": value, "now": now},
            )
        for exchange_id, kind in ((1, "stop_ncii"), (2, "local_file"), (3, "ncmec")):
            conn.execute(
                text(
                    "INSERT INTO exchanges (id, name, type, bank_id, settings, enabled, "
                    "schedule_minutes, time_limit_seconds, labels, feedback, created_at, "
                    "updated_at) VALUES (:id, :name, :type, 1, '{}', true, 60, 600, '[]', "
                    "false, :now, :now)"
                ),
                {"id": exchange_id, "name": f"x{exchange_id}", "type": kind, "now": now},
            )
        items = [
            (1, 1, f"ImagePDQ:{pdq}", 10),  # StopNCII's name of the entry: ''
            (2, 1, f"VideoMD5:{md5}", 11),  # ''
            (3, 1, f"pdq:{pdq}", 10),  # not StopNCII's name: kept
            (4, 2, f"pdq:{pdq}", 10),  # a list's name: ''
            (5, 2, f"video_md5:{md5}", 11),  # ''
            (6, 2, f"ImagePDQ:{pdq}", 10),  # not a list's name: kept
            (7, 3, f"pdq:{pdq}", 10),  # NCMEC names its records otherwise: kept
        ]
        for item_id, exchange_id, record_id, entry_id in items:
            conn.execute(
                text(
                    "INSERT INTO exchange_items (id, exchange_id, record_id, entry_id, labels, "
                    "first_seen, last_seen) VALUES (:id, :x, :record, :entry, '[]', :now, :now)"
                ),
                {
                    "id": item_id,
                    "x": exchange_id,
                    "record": record_id,
                    "entry": entry_id,
                    "now": now,
                },
            )
    migrate.upgrade(empty_db.engine)

    def records() -> list[str]:
        with empty_db.engine.connect() as conn:
            return list(conn.scalars(text("SELECT record_id FROM exchange_items ORDER BY id")))

    assert records() == ["", "", f"pdq:{pdq}", "", "", f"ImagePDQ:{pdq}", f"pdq:{pdq}"]
    migrate.downgrade(empty_db.engine, "0015_exchange_items_entry")
    assert records() == [record_id for _, _, record_id, _ in items]
    empty_db.dispose()
