"""Fixtures for the outbox: a local webhook receiver and settings that point at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from shieldwall.config import Settings
from tests.jobs.receiver import Receiver, receiver_fixture


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiver_fixture()


@pytest.fixture
def settings(settings: Settings, receiver: Receiver) -> Settings:
    return settings.model_copy(
        update={
            "webhook_url": receiver.url,
            "webhook_secret": SecretStr(receiver.secret),
            "webhook_timeout_seconds": 5.0,
            "outbox_poll_seconds": 0.05,
        }
    )
