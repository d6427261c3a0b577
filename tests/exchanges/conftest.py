"""Fixtures for the exchange tests: the local fakes of NCMEC and StopNCII served over real
HTTP on loopback, a bank to fetch into, and helpers to create and fetch exchanges.

Hash values are digests of short benign strings standing in for hashes of known material.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from shieldwall.banks import service as banks
from shieldwall.banks.models import Bank, BankEntry
from shieldwall.banks.schemas import BankCreate
from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.devtools import fake_ncmec, fake_stopncii
from shieldwall.devtools.fake_http import Running
from shieldwall.exchanges import runner, service
from shieldwall.exchanges.schemas import ExchangeCreate, RunOut
from tests.conftest import SYSTEM
from tests.web.conftest import login_as, new_client  # noqa: F401 - the web page fixtures


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        secret_key="test-secret-key-not-for-production",
        max_body_bytes=64 * 1024,
        exchange_allow_private_addresses=True,
        exchange_scheduler=False,
        exchange_lease_seconds=30,
    )


@pytest.fixture
def ncmec() -> Iterator[tuple[fake_ncmec.FakeNcmec, str]]:
    fake = fake_ncmec.FakeNcmec(page_size=10)
    with Running(fake) as server:
        yield fake, server.url + "/hashsharing"


@pytest.fixture
def stopncii() -> Iterator[tuple[fake_stopncii.FakeStopNcii, str]]:
    fake = fake_stopncii.FakeStopNcii()
    with Running(fake) as server:
        yield fake, server.url + "/v1"


@pytest.fixture
def bank(db: Database) -> Bank:
    with db.session() as session:
        return banks.create_bank(session, BankCreate(name="EXCHANGED"), actor=SYSTEM)


NCMEC_CREDENTIALS = {"username": fake_ncmec.USERNAME, "password": fake_ncmec.PASSWORD}
STOPNCII_CREDENTIALS = {
    "subscription_key": fake_stopncii.SUBSCRIPTION_KEY,
    "fetch_function_key": fake_stopncii.FETCH_KEY,
    "feedback_function_key": fake_stopncii.FEEDBACK_KEY,
}

MakeExchange = Callable[..., str]


@pytest.fixture
def make_exchange(db: Database, settings: Settings, bank: Bank) -> MakeExchange:
    def factory(name: str, type: str, settings_: dict[str, Any], **fields: Any) -> str:
        fields.setdefault("schedule_minutes", 0)
        fields.setdefault("bank", bank.name)
        with db.session() as session:
            service.create_exchange(
                session,
                settings,
                ExchangeCreate(name=name, type=type, settings=settings_, **fields),
                actor=SYSTEM,
            )
        return name

    return factory


Fetch = Callable[..., RunOut]


@pytest.fixture
def fetch(db: Database, settings: Settings) -> Fetch:
    def go(name: str, **options: Any) -> RunOut:
        options.setdefault("sleep", lambda _s: None)
        options.setdefault("time_limit", 60)
        return runner.run_fetch(db, settings, name, runner.RunOptions(**options))

    return go


def checkpoint_of(db: Database, name: str) -> dict[str, Any] | None:
    """The exchange's stored checkpoint (where its next run resumes)."""
    with db.session() as session:
        return service.get_exchange(session, name).checkpoint


def live_values(db: Database, bank_id: int) -> dict[tuple[str, str], list[str]]:
    with db.session() as session:
        rows = session.execute(
            select(BankEntry.signal_type, BankEntry.value, BankEntry.labels).where(
                BankEntry.bank_id == bank_id, BankEntry.removed_at.is_(None)
            )
        ).all()
    return {(t, v): list(labels) for t, v, labels in rows}


def count_entries(db: Database, bank_id: int) -> int:
    with db.session() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(BankEntry).where(BankEntry.bank_id == bank_id)
            )
            or 0
        )
