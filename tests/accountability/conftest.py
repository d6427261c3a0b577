"""Fixtures for the accountability tracker: the real shared reference data, a database with it
imported once per test, and small helpers to build constructed cases."""

from __future__ import annotations

from pathlib import Path

import pytest

from shieldwall.accountability.importing import import_reference
from shieldwall.accountability.schemas import ImportSummary
from shieldwall.db.engine import Database

# The web fixtures (logged-in clients, a real Chromium), shared with tests/web.
from tests.web.conftest import login_as, new_client, sql  # noqa: F401

#: ../shared/data beside the checkout, as the accountability_data_dir setting defaults to.
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    if not (DATA / "ncmec" / "reports-by-esp.csv").is_file():
        pytest.fail(f"the shared reference data is missing at {DATA}")
    return DATA


@pytest.fixture
def loaded(db: Database, data_dir: Path) -> ImportSummary:
    """The database with every shared reference file imported (committed)."""
    with db.session() as session:
        summary = import_reference(session, data_dir, actor="system:tests")
    return summary
