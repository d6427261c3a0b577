"""Fixtures for the web pages: extra logged-in clients and SQL peeks.

The real Chromium (``browser``, ``page``) lives in ``tests/browser.py`` and is registered once
by the root conftest, for every test folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from shieldwall.db.engine import Database
from tests.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS  # noqa: F401 - re-exported
from tests.web.html_forms import login

ClientFactory = Callable[[], TestClient]


@pytest.fixture
def new_client(app: FastAPI) -> Iterator[ClientFactory]:
    """Another browser, in effect: its own cookie jar against the same app."""
    with ExitStack() as stack:

        def factory() -> TestClient:
            return stack.enter_context(
                TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
            )

        yield factory


LoginAs = Callable[[str, str], TestClient]


@pytest.fixture
def login_as(new_client: ClientFactory) -> LoginAs:
    """``login_as(username, password)`` -> a fresh client logged in through the form."""

    def factory(username: str, password: str) -> TestClient:
        c = new_client()
        response = login(c, username, password)
        assert response.status_code == 303, (response.status_code, response.text)
        return c

    return factory


SqlScalar = Callable[..., Any]


@pytest.fixture
def sql(db: Database) -> SqlScalar:
    """``sql("SELECT count(*) FROM events WHERE kind = :k", k=...)`` -> the first column."""

    def scalar(statement: str, **params: Any) -> Any:
        with db.engine.connect() as conn:
            return conn.execute(text(statement), params).scalar()

    return scalar
