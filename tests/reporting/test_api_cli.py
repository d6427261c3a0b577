"""GET /v1/reports, GET /v1/reports/{id}, POST .../retract and .../retry; the CLI."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from shieldwall.api import create_app
from shieldwall.cli import app as cli_app
from shieldwall.config import Settings
from shieldwall.core.access import Scope
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_cybertipline import FakeCyberTipline
from tests.conftest import KeyFactory, auth
from tests.reporting.conftest import DecidedCase, worker


@pytest.fixture
def api(db: Database, rsettings: Settings) -> Iterator[TestClient]:
    app = create_app(rsettings.model_copy(update={"outbox_in_server": False}), database=db)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        yield c


def test_reports_api_lists_shows_and_retracts(
    api: TestClient,
    db: Database,
    rsettings: Settings,
    make_key: KeyFactory,
    decided_case: DecidedCase,
    fake: tuple[FakeCyberTipline, str],
) -> None:
    reader = auth(make_key([Scope.REPORTS_READ]))
    writer = auth(make_key([Scope.REPORTS_WRITE]))
    decided_case("post-1")
    decided_case("post-2", account="acct-2")
    worker(db, rsettings).run_once(limit=1)  # the first is sent

    page = api.get("/v1/reports", headers=reader)
    assert page.status_code == 200
    reports = page.json()["reports"]
    assert [r["status"] for r in reports] == ["queued", "sent"]
    sent = reports[1]
    assert sent["external_id"] in fake[0].reports

    one = api.get(f"/v1/reports/{sent['id']}", headers=reader).json()
    assert [s["step"] for s in one["steps"]][-1] == "finish"
    assert one["missing"] == []

    filtered = api.get("/v1/reports", params={"status": "sent"}, headers=reader).json()
    assert [r["id"] for r in filtered["reports"]] == [sent["id"]]
    by_case = api.get("/v1/reports", params={"case_id": sent["case_id"]}, headers=reader).json()
    assert [r["id"] for r in by_case["reports"]] == [sent["id"]]

    assert api.post(f"/v1/reports/{reports[0]['id']}/retract", headers=reader).status_code == 403
    done = api.post(f"/v1/reports/{reports[0]['id']}/retract", headers=writer)
    assert done.status_code == 200
    assert done.json()["status"] == "retracted"
    refused = api.post(f"/v1/reports/{sent['id']}/retract", headers=writer)
    assert refused.status_code == 409
    assert "contact NCMEC" in refused.json()["detail"]
    assert api.get("/v1/reports/999999", headers=reader).status_code == 404
    assert api.get("/v1/reports", headers=writer).status_code == 403


def test_cli_list_show_retry_retract(
    db: Database,
    rsettings: Settings,
    decided_case: DecidedCase,
    fake: tuple[FakeCyberTipline, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    decided_case("post-1")
    fake[0].add_fault("status", status=400, path="/submit")
    worker(db, rsettings).run_once(limit=1)
    for name, value in {
        "SHIELDWALL_DATABASE_URL": rsettings.effective_database_url,
        "SHIELDWALL_DATA_DIR": str(rsettings.data_dir),
        "SHIELDWALL_SECRET_KEY": "test-secret-key-not-for-production",
        "SHIELDWALL_CYBERTIPLINE_URL": fake[1],
    }.items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    listed = runner.invoke(cli_app, ["reports", "list"])
    assert listed.exit_code == 0, listed.output
    assert "refused" in listed.output
    shown = runner.invoke(cli_app, ["reports", "show", "1"])
    assert shown.exit_code == 0, shown.output
    assert "Validation failed" in shown.output
    retried = runner.invoke(cli_app, ["reports", "retry", "1"])
    assert retried.exit_code == 0, retried.output
    assert "queued again" in retried.output
    again = runner.invoke(cli_app, ["reports", "retry", "1"])
    assert again.exit_code != 0
    retracted = runner.invoke(cli_app, ["reports", "retract", "1"])
    assert retracted.exit_code == 0, retracted.output
    assert fake[0].requests[-1].path.endswith("/submit")  # nothing was submitted: local only
