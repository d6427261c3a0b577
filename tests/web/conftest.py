"""Fixtures for the web pages: extra logged-in clients, SQL peeks, and a real Chromium.

Browser tests (``@pytest.mark.browser``) use Debian's Chromium through Playwright's sync API:
one browser per xdist worker, a fresh context (cookies, storage) per test. Without a
Chromium they are skipped, unless ``SHIELDWALL_REQUIRE_BROWSER=1`` (CI) makes that a failure.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from shieldwall.db.engine import Database
from tests.web.html_forms import login

CHROMIUM = os.environ.get("SHIELDWALL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


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


# ---- Chromium ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    required = os.environ.get("SHIELDWALL_REQUIRE_BROWSER") == "1"
    if not Path(CHROMIUM).exists():
        message = (
            f"no Chromium at {CHROMIUM} (install Debian's chromium or set SHIELDWALL_CHROMIUM); "
            "browser tests need a real browser"
        )
        if required:
            pytest.fail(f"SHIELDWALL_REQUIRE_BROWSER=1 but {message}")
        pytest.skip(message)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:  # pragma: no cover - playwright is a dev dependency
        if required:
            pytest.fail(f"SHIELDWALL_REQUIRE_BROWSER=1 but playwright is missing: {exc}")
        pytest.skip(f"playwright is not installed: {exc}")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    """A fresh tab with its own cookies, pointed at the live server."""
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(15_000)
    try:
        yield context.new_page()
    finally:
        context.close()
