"""The real browser for UI tests: Debian's Chromium driven through Playwright's sync API.

One browser per xdist worker for the whole session, a fresh context (cookies, storage) per
test. The fixtures are registered once, by the root ``tests/conftest.py``: Playwright's sync
API keeps its event loop running in a greenlet of the main thread, so a second instance in the
same process (a conftest re-importing the fixture makes one) refuses to start. Without a
Chromium the tests are skipped, unless ``SHIELDWALL_REQUIRE_BROWSER=1`` (CI) makes that a
failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


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
