"""Fixtures for the intake tests: a session, reviewers, a platform key's principal, and
made-up hash values.

Hash values are digests of short benign strings (``b"item-7"``) standing in for hashes of
known material; pictures are generated shapes and gradients (shieldwall.demo_media).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.audit.models import Event
from shieldwall.config import Settings
from shieldwall.core.access import INTEGRATION_SCOPES, Principal, PrincipalKind, Role
from shieldwall.db.engine import Database
from shieldwall.users import service as users
from shieldwall.users.models import User
from tests.conftest import make_user


def md5_of(n: int | str) -> str:
    return hashlib.md5(f"item-{n}".encode()).hexdigest()  # noqa: S324 - a stand-in value


def sha256_of(n: int | str) -> str:
    return hashlib.sha256(f"item-{n}".encode()).hexdigest()


def pdq_of(n: int | str) -> str:
    """A made-up 256-bit PDQ hash (64 hex characters)."""
    return hashlib.sha256(f"pdq-{n}".encode()).hexdigest()


def hashes_of(n: int, *, quality: int = 90) -> list[dict[str, Any]]:
    """The md5, sha256 and pdq of stand-in item ``n``, as a request carries them."""
    return [
        {"signal_type": "md5", "value": md5_of(n)},
        {"signal_type": "sha256", "value": sha256_of(n)},
        {"signal_type": "pdq", "value": pdq_of(n), "quality": quality},
    ]


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    """A session the test commits itself (services only flush)."""
    s = db.sessionmaker()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


@pytest.fixture
def platform() -> Principal:
    """A platform's integration key holding cases:submit (and the other integration scopes)."""
    return Principal(
        PrincipalKind.API_KEY, name="platform", api_key_id=41, scopes=INTEGRATION_SCOPES
    )


@pytest.fixture
def rita(db: Database) -> User:
    return make_user(db, "rita", Role.REVIEWER)


@pytest.fixture
def reviewer(rita: User) -> Principal:
    return users.principal_for(rita)


@pytest.fixture
def analyst(db: Database) -> Principal:
    return users.principal_for(make_user(db, "ann", Role.ANALYST))


def events(session: Session, prefix: str = "") -> list[Event]:
    """Events whose kind starts with ``prefix``, read in the test's own session (a second
    connection would wait on SQLite's write lock while the test's transaction is open)."""
    return list(
        session.scalars(select(Event).where(Event.kind.startswith(prefix)).order_by(Event.id))
    )


def with_limits(settings: Settings, **values: Any) -> Settings:
    return settings.model_copy(update=values)
