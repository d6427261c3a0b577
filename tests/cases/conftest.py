"""Fixtures for the cases tests: reviewers, a session, and helpers that open cases.

Subjects are made-up platform references (``post-1``); hashes are digests of short benign
strings standing in for hashes of known material.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy.orm import Session

from shieldwall.cases import service
from shieldwall.cases.models import Case
from shieldwall.cases.schemas import CaseSource, SignalIn, Subject
from shieldwall.config import Settings
from shieldwall.core.access import Principal, Role
from shieldwall.db.engine import Database
from shieldwall.users import service as users
from shieldwall.users.models import User
from tests.conftest import SYSTEM, make_user


def md5_of(n: int | str) -> str:
    return hashlib.md5(f"item-{n}".encode()).hexdigest()  # noqa: S324 - a stand-in value


def sha256_of(n: int | str) -> str:
    return hashlib.sha256(f"item-{n}".encode()).hexdigest()


def pdq_of(n: int | str) -> str:
    return hashlib.sha256(f"pdq-{n}".encode()).hexdigest()


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    s = db.sessionmaker()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


def principal(user: User) -> Principal:
    return users.principal_for(user)


@pytest.fixture
def rita(db: Database) -> User:
    return make_user(db, "rita", Role.REVIEWER)


@pytest.fixture
def sam(db: Database) -> User:
    return make_user(db, "sam", Role.REVIEWER)


@pytest.fixture
def tess(db: Database) -> User:
    return make_user(db, "tess", Role.REVIEWER)


@pytest.fixture
def ann(db: Database) -> User:
    return make_user(db, "ann", Role.ANALYST)


def match_signal(n: int = 1, *, labels: tuple[str, ...] = ("A1",), **extra: Any) -> SignalIn:
    values: dict[str, Any] = {
        "source": CaseSource.HASH_MATCH,
        "principles": [1],
        "summary": {"scan_id": f"scan{n}", "entries": [n], "banks": ["KNOWN"]},
        "labels": labels,
        "hashes": [("md5", md5_of(n)), ("pdq", pdq_of(n))],
        "ref": f"scan:{n}",
    }
    values.update(extra)
    return SignalIn(**values)


OpenCase = Callable[..., Case]


@pytest.fixture
def open_case(db: Database, settings: Settings) -> OpenCase:
    """``open_case("post-1", signal=...)`` -> a committed case (detached)."""

    def factory(
        ref: str = "post-1",
        *,
        signal: SignalIn | None = None,
        kind: str = "content",
        account_ref: str | None = "acct-1",
        settings_: Settings | None = None,
    ) -> Case:
        with db.session() as s:
            case = service.attach_signal(
                s,
                settings_ or settings,
                subject=Subject(kind, ref, account_ref),
                signal=signal or match_signal(),
                actor=SYSTEM,
            )
            s.flush()
            s.expunge(case)
        return case

    return factory
