"""Fixtures for matching: a fast-polling index, reference images, helpers to wait for sync."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shieldwall.config import Settings
from tests.conftest import wait_for_sync

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
PDQ_REF = SHARED / "pdq-reference"
needs_shared = pytest.mark.skipif(
    not PDQ_REF.exists(), reason="../shared/data/pdq-reference is not beside the checkout"
)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"index_poll_seconds": 0.1, "index_stale_seconds": 30.0})


def wait_until(check: Callable[[], bool], *, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@pytest.fixture
def ready_client(client: TestClient, app: FastAPI) -> Iterator[TestClient]:
    """The client once this process's index has loaded."""
    wait_until(lambda: app.state.match_index.readiness()[0])
    return client


def image(name: str) -> bytes:
    return (PDQ_REF / name).read_bytes()


@pytest.fixture
def synced(app: FastAPI) -> Callable[[], None]:
    """Wait until this process's index reflects every committed bank change."""
    return lambda: wait_for_sync(app)
