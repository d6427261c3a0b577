"""Fixtures for the HTTP API tests: keys in given states, and an app on an empty database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shieldwall.api import create_app
from shieldwall.apikeys.models import ApiKey
from shieldwall.config import Settings
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database


def key_prefix(plain: str) -> str:
    """The public part of ``sw_<prefix>_<secret>``."""
    return plain.split("_", 2)[1]


def key_secret(plain: str) -> str:
    """The secret part of ``sw_<prefix>_<secret>``."""
    return plain.split("_", 2)[2]


def key_row(db: Database, plain: str) -> ApiKey:
    with db.session() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.prefix == key_prefix(plain)))
        assert row is not None, f"no api_keys row for prefix {key_prefix(plain)}"
        session.expunge(row)
        return row


@pytest.fixture
def expire_key(db: Database) -> Callable[[str], None]:
    """Move a key's expiry into the past, straight in the database."""

    def expire(plain: str) -> None:
        with db.session() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.prefix == key_prefix(plain)))
            assert row is not None
            row.expires_at = utcnow() - timedelta(minutes=1)

    return expire


@pytest.fixture
def revoke_key(db: Database) -> Callable[[str], None]:
    """Revoke a key through the service, as an admin would."""
    from shieldwall.apikeys import service
    from tests.conftest import SYSTEM

    def revoke(plain: str) -> None:
        with db.session() as session:
            row = session.scalar(select(ApiKey).where(ApiKey.prefix == key_prefix(plain)))
            assert row is not None
            service.revoke_key(session, row.id, actor=SYSTEM)

    return revoke


@pytest.fixture
def unmigrated_client(tmp_path: Path) -> Iterator[TestClient]:
    """An app whose database is an empty SQLite file: nothing was ever migrated."""
    path = tmp_path / "unmigrated" / "empty.db"
    settings = Settings(
        data_dir=tmp_path / "unmigrated",
        database_url=f"sqlite:///{path}",
        secret_key="test-secret-key-not-for-production",
        auto_migrate=False,
        max_body_bytes=64 * 1024,
    )
    database = Database(settings.effective_database_url)
    app = create_app(settings, database=database, check_migrations=False)
    try:
        with TestClient(app, base_url="https://testserver",
                        raise_server_exceptions=False) as client:
            yield client
    finally:
        database.dispose()
