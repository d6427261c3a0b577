"""The tracker's pages without a browser: public answers, the empty state, company pages,
CSRF-guarded import for editors only."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from shieldwall.accountability.schemas import ImportSummary
from shieldwall.core.access import Role
from shieldwall.db.engine import Database
from tests.conftest import PASSWORD, make_user
from tests.web.conftest import LoginAs

pytestmark = pytest.mark.db


def csrf(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "no csrf token on the page"
    return found.group(1)


def test_front_page_is_public_and_answers_each_question(
    client: TestClient, loaded: ImportSummary
) -> None:
    page = client.get("/accountability")
    assert page.status_code == 200
    html = page.text
    assert html.count('data-testid="question"') == 5
    assert "Which companies have endorsed the Voluntary Principles?" in html
    assert "not known" in html
    assert 'data-testid="no-reference-data"' not in html
    for chart in ("adoption", "totals", "top", "audit"):
        assert f'data-chart="{chart}"' in html
        assert f'id="{chart}-t"' in html and f'id="{chart}-d"' in html  # noqa: PT018
    assert "<script" not in html
    assert "How the audit works" in html
    assert "1.0%" in html  # the tolerance is stated


def test_empty_tracker_says_no_reference_data_was_loaded(client: TestClient) -> None:
    html = client.get("/accountability").text
    assert 'data-testid="no-reference-data"' in html
    assert "No reference data was loaded" in html


def test_company_page_shows_commitments_evidence_ncmec_and_audit(
    client: TestClient, loaded: ImportSummary
) -> None:
    html = client.get("/accountability/companies/discord").text
    assert "Technology Coalition" in html
    assert html.count("not known") >= 11  # every principle, nothing recorded
    assert 'data-testid="verdict">inconsistent' in html
    assert "Discord Inc." in html  # NCMEC's printed name
    assert "2020-Q1, 2020-Q2 not disclosed" in html
    missing = client.get("/accountability/companies/nobody")
    assert missing.status_code == 404
    for path in (
        "/accountability/companies",
        "/accountability/audit",
        "/accountability/unmapped",
        "/accountability/data",
    ):
        assert client.get(path).status_code == 200, path  # fmt: skip
    assert "Box , Inc. / Box.com" in client.get("/accountability/unmapped").text
    csv_text = client.get("/accountability/tables/ncmec_totals.csv").text
    assert csv_text.splitlines()[0] == "year,total_reports,esp_reports,source_url,retrieved_on"


def test_only_editors_see_and_use_the_import_form(
    client: TestClient, db: Database, login_as: LoginAs
) -> None:
    make_user(db, "rita", Role.REVIEWER)
    make_user(db, "ana", Role.ANALYST)
    reviewer = login_as("rita", PASSWORD)
    page = reviewer.get("/accountability/data").text
    assert 'data-testid="import-form"' not in page
    refused = reviewer.post(
        "/accountability/import",
        data={"csrf_token": csrf(page)},
        files={"file": ("c.csv", b"company,name\nexample,Example\n", "text/csv")},
    )
    assert refused.status_code == 403
    analyst = login_as("ana", PASSWORD)
    page = analyst.get("/accountability/data").text
    assert 'data-testid="import-form"' in page
    no_token = analyst.post(
        "/accountability/import",
        files={"file": ("c.csv", b"company,name\nexample,Example\n", "text/csv")},
    )
    assert no_token.status_code == 403
    done = analyst.post(
        "/accountability/import",
        data={"csrf_token": csrf(page)},
        files={"file": ("c.csv", b"company,name\nexample,Example\n", "text/csv")},
    )
    assert done.status_code == 200
    assert "1 added" in done.text
    with db.engine.connect() as conn:
        actor = conn.execute(
            text("SELECT actor FROM events WHERE kind = 'accountability.data_imported'")
        ).scalar_one()
    assert actor.startswith("user:")
    bad = analyst.post(
        "/accountability/import",
        data={"csrf_token": csrf(analyst.get("/accountability/data").text)},
        files={"file": ("c.csv", b"company,name\nexample,\n", "text/csv")},
    )
    assert bad.status_code == 422
    assert "line 2" in bad.text
