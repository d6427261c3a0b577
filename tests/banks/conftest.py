"""Fixtures for the banks tests: made-up hash values, banks, and a session on the test database.

The hash values are digests of short benign strings (``b"item-7"``), standing in for hashes of
known material; none describes any real image.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.banks import service
from shieldwall.banks.models import Bank, BankEntry
from shieldwall.banks.schemas import BankCreate
from shieldwall.core.signals import VpdqFrame, VpdqHash
from shieldwall.db.engine import Database
from tests.conftest import SYSTEM


def md5_of(n: int | str) -> str:
    return hashlib.md5(f"item-{n}".encode()).hexdigest()  # noqa: S324 - a stand-in value


def pdq_of(n: int | str) -> str:
    """A made-up 256-bit PDQ hash (64 hex characters)."""
    return hashlib.sha256(f"pdq-{n}".encode()).hexdigest()


def sha256_of(n: int | str) -> str:
    return hashlib.sha256(f"item-{n}".encode()).hexdigest()


def vpdq_of(n: int, frames: int = 3) -> str:
    """A made-up vPDQ value (canonical pytx serialisation) of ``frames`` one-second frames."""
    return VpdqHash(
        tuple(VpdqFrame(pdq_of(f"{n}-{i}"), 100, float(i)) for i in range(frames))
    ).to_signal_str()


@pytest.fixture
def session(db: Database) -> Iterator[Session]:
    """A session the test commits itself (services only flush)."""
    s = db.sessionmaker()
    try:
        yield s
    finally:
        s.rollback()
        s.close()


BankFactory = Callable[..., Bank]


@pytest.fixture
def make_bank(db: Database) -> BankFactory:
    """``make_bank("NAME", labels=[...], kind=...)`` -> a committed bank (detached)."""

    def factory(name: str = "TEST_BANK", **fields: Any) -> Bank:
        with db.session() as s:
            bank = service.create_bank(s, BankCreate(name=name, **fields), actor=SYSTEM)
            s.flush()
            s.expunge(bank)
        return bank

    return factory


def entries_of(db: Database, bank_id: int, *, include_removed: bool = True) -> list[BankEntry]:
    with db.session() as s:
        stmt = select(BankEntry).where(BankEntry.bank_id == bank_id).order_by(BankEntry.id)
        if not include_removed:
            stmt = stmt.where(BankEntry.removed_at.is_(None))
        rows = list(s.scalars(stmt))
        s.expunge_all()
        return rows
