"""The report's outputs: CLI (json, csv, html, explain, statements), API, web page, DSA."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from shieldwall.audit.chain import canonical_json
from shieldwall.cli import app as cli_app
from shieldwall.config import Settings
from shieldwall.core.access import Role, Scope
from shieldwall.db.engine import Database
from shieldwall.transparency import dsa, exports, validation
from tests.conftest import PASSWORD, KeyFactory, auth, make_user
from tests.transparency.conftest import H1
from tests.web.conftest import SqlScalar
from tests.web.html_forms import login

PERIOD = ["--from", "2026-01-01", "--to", "2026-06-30"]


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("SHIELDWALL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SHIELDWALL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("SHIELDWALL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("SHIELDWALL_TRANSPARENCY_SUPPRESSION_FLOOR", "1")
    monkeypatch.setenv("COLUMNS", "220")


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli_app, list(args))
    assert result.exit_code == 0, result.output
    return result


# ---- CLI -----------------------------------------------------------------------------------


def test_cli_writes_json_csv_and_html(known: Database, cli: None, tmp_path: Path) -> None:
    run("transparency", "report", *PERIOD, "--format", "json", "--out", str(tmp_path / "r.json"))
    report = json.loads((tmp_path / "r.json").read_text())
    assert validation.problems(report) == []
    values = {m["id"]: m.get("value") for m in report["sections"]["outcomes"]["metrics"]}
    assert values["content_scanned"] == 17
    assert values["reports_sent_ncmec"] == 2

    run("transparency", "report", *PERIOD, "--format", "csv", "--out", str(tmp_path / "r.csv"))
    rows = list(csv.DictReader(io.StringIO((tmp_path / "r.csv").read_text())))
    totals = {r["metric_id"]: r for r in rows if r["row"] == "total" and r["section"] == "outcomes"}
    assert set(totals) == set(values)
    assert totals["content_scanned"]["value"] == "17"
    assert totals["takedown_time_to_in_place_median"]["value"] == "7200.0"
    verdicts = {r["key"]: r["value"] for r in rows if r["metric_id"] == "content_scanned"
                and r["row"] == "breakdown"}  # fmt: skip
    assert verdicts == {"verdict=allow": "13", "verdict=review": "2", "verdict=block": "2"}
    trend = [r for r in rows if r["metric_id"] == "content_scanned" and r["row"] == "trend"]
    assert [(r["period_start"], r["value"]) for r in trend] == [
        ("2025-07-01", "2"),
        ("2025-01-01", "0"),
        ("2024-07-01", "0"),
    ]  # three earlier half-years by default

    run("transparency", "report", *PERIOD, "--format", "html", "--out", str(tmp_path / "r.html"))
    html = (tmp_path / "r.html").read_text()
    assert "<script" not in html
    assert "<link" not in html  # self-contained: the style sheet is inlined
    for chart in ("principles", "overview", "sources", "decisions", "times"):
        assert f'data-chart="{chart}"' in html
    assert "Reports sent to NCMEC" in html


def test_cli_explain_lists_the_events_behind_a_number(known: Database, cli: None) -> None:
    out = run("transparency", "explain", "reports_sent_ncmec", *PERIOD).output
    assert "value 2 " in out
    assert "2 event(s)" in out
    assert "report:1" in out
    assert "report:2" in out
    assert "report:3" not in out  # cybertip_ca, not NCMEC
    assert "user:99" not in out  # actors are never shown
    times = run("transparency", "explain", "takedown_time_to_in_place_p90", *PERIOD).output
    assert "value 14400 " in times
    assert "6 event(s)" in times  # three requests received and approved
    assert all(f"takedown_request:{n}" in times for n in (1, 2, 3))


def test_cli_explain_an_unknown_metric_names_the_known_ones(known: Database, cli: None) -> None:
    result = CliRunner().invoke(cli_app, ["transparency", "explain", "nope", *PERIOD])
    assert result.exit_code == 2
    assert "no metric 'nope'" in result.output
    assert "content_scanned" in result.output


def test_cli_refuses_a_backwards_period(known: Database, cli: None) -> None:
    result = CliRunner().invoke(
        cli_app, ["transparency", "report", "--from", "2026-06-30", "--to", "2026-01-01"]
    )
    assert result.exit_code == 2
    assert "before it starts" in result.output


# ---- DSA statements of reasons -------------------------------------------------------------


def test_dsa_statements_one_per_violating_decision(known: Database, settings: Settings) -> None:
    with known.session() as session:
        body = dsa.export(session, H1)
    found = body["statements"]
    # cases 1 and 2 were decided violating; 3 not violating; 5 is an appeal
    assert [s["puid"] for s in found] == ["shieldwall-decision-1", "shieldwall-decision-2"]
    assert body["without_restriction"] == 0
    first, second = found
    assert first["decision_visibility"] == ["DECISION_VISIBILITY_CONTENT_REMOVED"]
    assert first["decision_account"] == "DECISION_ACCOUNT_SUSPENDED"
    assert "decision_account" not in second
    assert first["category"] == "STATEMENT_CATEGORY_PROTECTION_OF_MINORS"
    assert first["category_specification"] == ["KEYWORD_CHILD_SEXUAL_ABUSE_MATERIAL"]
    assert first["source_type"] == "SOURCE_VOLUNTARY"
    assert first["automated_detection"] == "Yes"
    assert first["automated_decision"] == "AUTOMATED_DECISION_NOT_AUTOMATED"
    assert first["application_date"] == "2026-01-10"
    assert first["decision_ground"] == "DECISION_GROUND_ILLEGAL_CONTENT"
    assert "DE" in first["territorial_scope"]
    assert "url" not in first
    assert "user:99" not in json.dumps(body)


def test_dsa_statement_of_a_user_report_is_a_notice() -> None:
    from datetime import UTC, datetime

    from shieldwall.transparency.metrics import EventLog, EventRow

    t = datetime(2026, 3, 1, tzinfo=UTC)
    log = EventLog([
        EventRow(1, t, "case.opened", "case:9", {"source": "grooming"}),
        EventRow(2, t, "case.decided", "case:9", {"decision_id": 4, "outcome": "violating",
                 "label": "G1", "appeal_of_case_id": None, "confirmed": True}),
    ])  # fmt: skip
    (only,) = dsa.statements(log, H1)
    assert only["category_specification"] == ["KEYWORD_GROOMING_SEXUAL_ENTICEMENT_MINORS"]
    assert only["content_type"] == ["CONTENT_TYPE_TEXT"]
    assert "second reviewer confirmed" in only["decision_facts"]
    assert "decision_visibility" not in only  # nothing was asked of the platform
    assert not dsa.restricts(only)  # so the export leaves it out (the API needs a restriction)


# ---- API -----------------------------------------------------------------------------------


def test_api_report_json_and_csv(known: Database, client: TestClient, make_key: KeyFactory) -> None:
    key = make_key([Scope.REPORTS_READ])
    response = client.get(
        "/v1/transparency/reports", params={"from": "2026-01-01", "to": "2026-06-30"},
        headers=auth(key),
    )  # fmt: skip
    assert response.status_code == 200, response.text
    report = response.json()
    assert validation.problems(report) == []
    assert report["period"]["label"] == "2026 H1"
    scanned = next(m for m in report["sections"]["outcomes"]["metrics"]
                   if m["id"] == "content_scanned")  # fmt: skip
    assert scanned["value"] == 17  # the default floor, 10, lets 17 through
    as_csv = client.get(
        "/v1/transparency/reports",
        params={"from": "2026-01-01", "to": "2026-06-30", "format": "csv"},
        headers=auth(key),
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text.splitlines()[0] == ",".join(exports.CSV_COLUMNS)


def test_api_needs_reports_read(known: Database, client: TestClient, make_key: KeyFactory) -> None:
    assert client.get("/v1/transparency/reports").status_code == 401
    key = make_key([Scope.SCAN])
    assert client.get("/v1/transparency/reports", headers=auth(key)).status_code == 403


def test_api_bad_period_is_a_problem(client: TestClient, make_key: KeyFactory) -> None:
    key = make_key([Scope.REPORTS_READ])
    response = client.get(
        "/v1/transparency/reports", params={"from": "2026-06-30", "to": "2026-01-01"},
        headers=auth(key),
    )  # fmt: skip
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


def test_api_explain_returns_the_events(
    known: Database, client: TestClient, make_key: KeyFactory
) -> None:
    key = make_key([Scope.EVENTS_READ])
    response = client.get(
        "/v1/transparency/metrics/appeals_reversed/events",
        params={"from": "2026-01-01", "to": "2026-06-30"},
        headers=auth(key),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["value"] == 1
    assert [e["kind"] for e in body["events"]] == ["case.overturned"]
    assert body["event_count"] == 1
    # the count is of every event; only the first `limit` are read and returned
    many = client.get(
        "/v1/transparency/metrics/reports_sent_ncmec/events",
        params={"from": "2026-01-01", "to": "2026-06-30", "limit": 1},
        headers=auth(key),
    ).json()
    assert many["event_count"] > 1
    assert len(many["events"]) == 1
    missing = client.get("/v1/transparency/metrics/nope/events", headers=auth(key))
    assert missing.status_code == 404


# ---- the page ------------------------------------------------------------------------------


def test_page_needs_a_login_unless_public(known: Database, client: TestClient, app) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/transparency", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    app.state.settings = app.state.settings.model_copy(update={"transparency_public": True})
    page = client.get("/transparency", params={"from": "2026-01-01", "to": "2026-06-30"})
    assert page.status_code == 200
    assert 'data-chart="overview"' in page.text
    assert "2026 H1" in page.text
    assert "fewer than 10" in page.text
    assert "<script" not in page.text
    data = client.get(
        "/transparency/report.json", params={"from": "2026-01-01", "to": "2026-06-30"}
    )
    assert validation.problems(data.json()) == []
    sor = client.get(
        "/transparency/statements.json", params={"from": "2026-01-01", "to": "2026-06-30"}
    )
    assert sor.json()["count"] == 2


def test_page_for_an_analyst_not_a_reviewer(
    known: Database, client: TestClient, db: Database
) -> None:
    # a reviewer (no reports:read) is refused while the report is not public
    make_user(db, "rev", Role.REVIEWER)
    assert login(client, "rev", PASSWORD).status_code == 303
    refused = client.get("/transparency")
    assert refused.status_code == 403
    assert "reports:read" in refused.text
    client.cookies.clear()
    make_user(db, "ana", Role.ANALYST)
    assert login(client, "ana", PASSWORD).status_code == 303
    page = client.get("/transparency")
    assert page.status_code == 200
    assert 'href="/transparency"' in page.text  # in the navigation


# ---- publishing ----------------------------------------------------------------------------


def test_publish_keeps_the_report_as_published(
    known: Database, client: TestClient, make_key: KeyFactory, sql: SqlScalar
) -> None:
    writer = make_key([Scope.REPORTS_WRITE])
    reader = make_key([Scope.REPORTS_READ])
    period = {"from": "2026-01-01", "to": "2026-06-30"}
    assert client.post("/v1/transparency/reports/published", params=period,
                       headers=auth(reader)).status_code == 403  # fmt: skip
    made = client.post("/v1/transparency/reports/published", params=period, headers=auth(writer))
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["period"] == {"start": "2026-01-01", "end": "2026-06-30"}
    listed = client.get("/v1/transparency/reports/published", headers=auth(reader)).json()
    assert [r["id"] for r in listed] == [body["id"]]
    document = client.get(
        f"/v1/transparency/reports/published/{body['id']}", headers=auth(reader)
    ).json()
    assert validation.problems(document) == []
    assert hashlib.sha256(canonical_json(document).encode()).hexdigest() == body["sha256"]
    assert sql("SELECT count(*) FROM events WHERE kind = 'transparency.published'") == 1
    missing = client.get("/v1/transparency/reports/published/999", headers=auth(reader))
    assert missing.status_code == 404


def test_cli_publish_and_list(known: Database, cli: None) -> None:
    out = run("transparency", "publish", *PERIOD).output
    assert "published report 1 for 2026 H1" in out
    assert "2026-01-01 to 2026-06-30" in run("transparency", "published").output
    shown = json.loads(run("transparency", "published", "--show", "1").output)
    assert shown["period"]["label"] == "2026 H1"


def test_tables_and_charts_say_the_same_for_a_figure_without_a_number() -> None:
    from shieldwall.transparency import charts
    from shieldwall.web.transparency import shown

    both = {"available": False, "suppressed": {"below": 10}, "value": None}
    assert shown(both) == charts.bar_of("x", both).note == "not in place"
    suppressed = {"suppressed": {"below": 10}, "value": None}
    assert shown(suppressed) == charts.bar_of("x", suppressed).note == "fewer than 10"
    assert shown({"value": 1234}) == "1,234"
    assert charts.bar_of("x", {"value": 3}, scale=2.0).value == 6.0
