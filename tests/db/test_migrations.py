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
from shieldwall.db.engine import Database
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
    db.dispose()
    # A second start reuses the same database without migrating again.
    again = create_app(settings)
    assert migrate.current_revision(again.state.db.engine) == migrate.head_revision(db.engine)
    again.state.db.dispose()
