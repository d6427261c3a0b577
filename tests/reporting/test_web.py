"""The reports pages (lifecycle and failures in plain words, retract with CSRF) and the
case page's panel that lists missing required fields before anything is sent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from shieldwall.api import create_app
from shieldwall.config import Settings
from shieldwall.core.access import Role
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_cybertipline import FakeCyberTipline
from tests.conftest import PASSWORD, make_user
from tests.reporting.conftest import DecidedCase, worker
from tests.web.html_forms import login, parse, submit


def browser(db: Database, settings: Settings, username: str, role: Role) -> Iterator[TestClient]:
    make_user(db, username, role)
    app = create_app(settings.model_copy(update={"outbox_in_server": False}), database=db)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        assert login(c, username, PASSWORD).status_code == 303
        yield c


@pytest.fixture
def admin_browser(db: Database, rsettings: Settings) -> Iterator[TestClient]:
    yield from browser(db, rsettings, "ada", Role.ADMIN)


def test_reports_page_shows_lifecycle_failure_and_retract(
    admin_browser: TestClient,
    db: Database,
    rsettings: Settings,
    decided_case: DecidedCase,
    fake: tuple[FakeCyberTipline, str],
) -> None:
    decided_case()
    fake[0].add_fault("status", status=400, path="/upload")
    worker(db, rsettings).run_once(limit=1)

    listing = admin_browser.get("/reports")
    assert listing.status_code == 200
    assert 'data-status="failed"' in listing.text
    assert "refused by the destination" in listing.text
    assert "Validation failed" in listing.text

    page = admin_browser.get("/reports/1")
    assert page.status_code == 200
    parsed = parse(page.text)
    assert "report submitted" in page.text
    assert "HTTP 400" in parsed.text_of("last-error")
    form = parsed.form_to("/reports/1/retract")
    bad = admin_browser.post("/reports/1/retract", data={}, follow_redirects=False)
    assert bad.status_code in (400, 403)  # no CSRF token
    done = submit(admin_browser, form)
    assert done.status_code == 303
    after = parse(admin_browser.get("/reports/1").text)
    assert after.text_of("state").startswith("retracted")
    assert fake[0].calls("retract") == 1


def test_case_page_lists_missing_required_fields_before_sending(
    db: Database, rsettings: Settings, decided_case: DecidedCase
) -> None:
    incomplete = rsettings.model_copy(
        update={"reporter_company": "", "cybertipline_password": None}
    )
    case = decided_case(settings_=incomplete)
    client = next(browser(db, incomplete, "rev", Role.REVIEWER))
    page = client.get(f"/review/cases/{case.id}")
    assert page.status_code == 200
    missing = parse(page.text).text_of("report-missing")
    assert "SHIELDWALL_REPORTER_COMPANY" in missing
    assert "SHIELDWALL_CYBERTIPLINE_PASSWORD" in missing
    assert "SHIELDWALL_REPORTER_EMAIL" not in missing
    assert "waiting to be sent" in parse(page.text).text_of("report-state")


def test_reviewer_cannot_open_reports_pages(db: Database, rsettings: Settings) -> None:
    client = next(browser(db, rsettings, "rev", Role.REVIEWER))
    assert client.get("/reports", follow_redirects=False).status_code in (303, 403)


def test_case_decided_without_a_report_shows_no_reporting_panel(
    db: Database, rsettings: Settings, decided_case: DecidedCase
) -> None:
    incomplete = rsettings.model_copy(update={"reporter_company": ""})
    case = decided_case(label="non_consensual_imagery", settings_=incomplete)
    client = next(browser(db, incomplete, "rev", Role.REVIEWER))
    page = client.get(f"/review/cases/{case.id}")
    assert page.status_code == 200
    assert 'data-testid="reporting"' not in page.text
