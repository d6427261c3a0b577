"""The JSON API: public reading and the switch that turns it off, who may edit, events for
every edit, the by-hand format, transparency reports, and CSV export."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from shieldwall.accountability.loaders import transparency
from shieldwall.accountability.schemas import ImportSummary
from shieldwall.api import create_app
from shieldwall.config import Settings
from shieldwall.core.access import ROLE_SCOPES, Role, Scope
from shieldwall.db.engine import Database
from tests.api.problem_check import assert_problem
from tests.conftest import KeyFactory, auth, make_user

pytestmark = pytest.mark.db


def events(db: Database, kind: str) -> list[dict[str, Any]]:
    with db.engine.connect() as conn:
        rows = conn.execute(
            text("SELECT subject, payload FROM events WHERE kind = :k ORDER BY id"), {"k": kind}
        ).all()
    return [
        {"subject": r[0], "payload": json.loads(r[1]) if isinstance(r[1], str) else r[1]}
        for r in rows
    ]


def role_key(db: Database, make_key: KeyFactory, role: Role) -> str:
    person = make_user(db, f"someone-{role.value}", role)
    return make_key(sorted(ROLE_SCOPES[role]), owner=person)


def report(period: tuple[str, str] = ("2024-01-01", "2024-06-30"), **outcomes: Any) -> dict:
    """A small transparency report in the issue 6 shape."""
    metrics = [
        {"id": "reports_sent_ncmec", "label": "Reports sent to NCMEC",
         "definition": "CyberTipline reports submitted and acknowledged in the period",
         "principles": [1, 2], "unit": "count", "value": 1234},
        {"id": "accounts_actioned", "definition": "Accounts banned for CSEA", "principles": [1],
         "suppressed": {"below": 10}},
        {"id": "survivor_requests_received", "definition": "Takedown requests from survivors",
         "principles": [8], "available": False, "reason": "survivor requests are not enabled"},
    ]  # fmt: skip
    return {
        "schema_version": "1.0",
        "generated_at": "2024-07-02T10:00:00Z",
        "organisation": {"name": "Example Chat Ltd", "deployment": "prod-eu"},
        "period": {"start": period[0], "end": period[1]},
        "service_scope": {"services": ["Example Chat"]},
        "privacy": {"suppression_floor": 10},
        "sections": {
            "policies_and_practices": {"status": "available", "items": [{"title": "Policy"}]},
            "processes_and_systems": {
                "status": "available",
                "items": [
                    {
                        "id": "hash_matching",
                        "name": "Hash matching",
                        "active": True,
                        "principles": [1],
                    }
                ],
            },
            "outcomes": {"status": "available", "metrics": outcomes.get("metrics", metrics)},
        },
        "principles": [{"number": 11, "status": "in_place", "metrics": ["reports_sent_ncmec"]}],
    }


def test_the_front_page_answers_are_public(client: TestClient, loaded: ImportSummary) -> None:
    body = client.get("/v1/accountability").json()
    questions = {q["id"]: q for q in body["questions"]}
    assert questions["endorsers"]["number"] == 6
    assert questions["coalition"]["number"] == 6
    assert "22 it is not known" in questions["coalition"]["answer"]
    for q in body["questions"]:
        assert q["sources"], q["id"]
        assert q["as_of"], q["id"]
    assert body["audit"] == {"consistent": 3, "inconsistent": 5, "not_comparable": 25}
    meta = client.get("/v1/accountability/companies/meta").json()
    assert [p["status"] for p in meta["principles"]] == ["not known"] * 11
    assert meta["audit"]["verdict"] == "not_comparable"
    assert_problem(client.get("/v1/accountability/companies/nobody"), 404, "not-found")


@pytest.fixture
def private_client(settings: Settings, db: Database) -> Iterator[TestClient]:
    app = create_app(settings.model_copy(update={"accountability_public": False}), database=db)
    with TestClient(app, base_url="https://testserver", raise_server_exceptions=False) as c:
        yield c


def test_switched_off_reading_needs_a_key_and_the_page_a_login(
    private_client: TestClient, make_key: KeyFactory
) -> None:
    assert_problem(private_client.get("/v1/accountability"), 401, "authentication-required")
    response = private_client.get("/v1/accountability/companies", follow_redirects=False)
    assert response.status_code == 401
    key = make_key([Scope.SCAN])  # any valid key, whatever its scopes
    assert private_client.get("/v1/accountability", headers=auth(key)).status_code == 200
    page = private_client.get("/accountability", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/login")


def test_analysts_and_admins_edit_reviewers_and_anonymous_do_not(
    client: TestClient, db: Database, make_key: KeyFactory
) -> None:
    body = {"companies": [{"company": "example", "name": "Example"}]}
    assert_problem(client.post("/v1/accountability/records", json=body), 401,
                   "authentication-required")  # fmt: skip
    reviewer = role_key(db, make_key, Role.REVIEWER)
    denied = client.post("/v1/accountability/records", json=body, headers=auth(reviewer))
    assert assert_problem(denied, 403, "permission-denied")["required_scope"] == (
        "accountability:write"
    )
    analyst = role_key(db, make_key, Role.ANALYST)
    ok = client.post("/v1/accountability/records", json=body, headers=auth(analyst))
    assert ok.status_code == 200, ok.text
    assert ok.json()["added"] == 1
    assert client.get("/v1/accountability/companies/example").json()["company"]["name"] == (
        "Example"
    )
    (event,) = events(db, "accountability.data_imported")
    assert event["payload"]["added"] == 1


def test_records_are_all_or_nothing_and_name_the_bad_one(
    client: TestClient, db: Database, admin_key: str
) -> None:
    body = {
        "companies": [{"company": "example", "name": "Example"}],
        "disclosures": [
            {"company": "example", "metric": "cybertipline_reports", "term": "reports to NCMEC",
             "value": "120", "period": "2023-H1", "source_url": "https://example.org/t"},
            {"company": "example", "metric": "cybertipline_reports", "term": "reports to NCMEC",
             "value": "lots", "period": "2023-H2", "source_url": "https://example.org/t"},
        ],
    }  # fmt: skip
    response = client.post("/v1/accountability/records", json=body, headers=auth(admin_key))
    problem = assert_problem(response, 422, "invalid-input")
    assert "line 2" in problem["detail"]
    assert "lots" in problem["detail"]
    assert_problem(client.get("/v1/accountability/companies/example"), 404, "not-found")
    assert events(db, "accountability.data_imported") == []


def test_csv_upload_reports_the_line_and_reimport_is_idempotent(
    client: TestClient, db: Database, admin_key: str, loaded: ImportSummary
) -> None:
    good = (
        "company,principle,status,source_url,quote,evidence_date\n"
        "meta,1,in place,https://example.org/meta-hashing,We use hash matching,2023-05-01\n"
        "snap,6,partly,https://example.org/snap-search,,\n"
    )
    files = {"file": ("evidence.csv", good.encode(), "text/csv")}
    first = client.post("/v1/accountability/import", files=files, headers=auth(admin_key))
    assert first.status_code == 200, first.text
    assert first.json()["added"] == 2
    again = client.post("/v1/accountability/import", files=files, headers=auth(admin_key))
    assert (again.json()["added"], again.json()["changed"], again.json()["unchanged"]) == (0, 0, 2)
    meta = client.get("/v1/accountability/companies/meta").json()
    assert meta["principles"][0]["status"] == "in place"
    assert meta["principles"][1]["status"] == "not known"
    bad = good + "nobody-at-all,3,in place,https://example.org/x,,\n"
    files = {"file": ("evidence.csv", bad.encode(), "text/csv")}
    problem = assert_problem(
        client.post("/v1/accountability/import", files=files, headers=auth(admin_key)),
        422,
        "invalid-input",
    )
    assert "line 4" in problem["detail"]
    assert "unknown company" in problem["detail"]


def test_a_transparency_report_becomes_disclosures_with_the_report_as_source(
    client: TestClient, db: Database, admin_key: str
) -> None:
    data = json.dumps(report()).encode()
    response = client.post(
        "/v1/accountability/import",
        files={"file": ("report.json", data, "application/json")},
        data={"source_url": "https://example.org/transparency/2024-h1.json"},
        headers=auth(admin_key),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert any("fewer than 10" in s for s in body["skipped"])  # suppressed is not zero
    company = client.get("/v1/accountability/companies/example-chat-ltd").json()
    (row,) = company["disclosures"]
    assert row["metric"] == "cybertipline_reports"
    assert row["value"] == 1234
    assert row["period"] == "2024-H1"
    assert row["source"] == "https://example.org/transparency/2024-h1.json"
    assert "CyberTipline reports submitted" in row["term"]


def test_a_report_that_breaks_the_schema_is_refused_whole(
    client: TestClient, admin_key: str
) -> None:
    broken = report(metrics=[{"id": "reports_sent_ncmec", "principles": [1], "value": 5}])
    response = client.post(
        "/v1/accountability/import",
        files={"file": ("report.json", json.dumps(broken).encode(), "application/json")},
        headers=auth(admin_key),
    )
    problem = assert_problem(response, 422, "invalid-input")
    assert "definition" in problem["detail"]
    assert client.get("/v1/accountability/companies").json() == []


def test_the_schema_accepts_the_example_report_and_checks_itself() -> None:
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(transparency.schema())
    jsonschema.validate(report(), transparency.schema())
    both = report(metrics=[{"id": "x", "definition": "d", "principles": [1], "value": 3,
                            "suppressed": {"below": 10}}])  # fmt: skip
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(both, transparency.schema())


def test_every_table_downloads_as_csv(client: TestClient, loaded: ImportSummary) -> None:
    ncmec = client.get("/v1/accountability/tables/ncmec_counts")
    assert ncmec.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(ncmec.text)))
    assert len(rows) == 1029
    assert sum(int(r["reports"]) for r in rows if r["year"] == "2023") == 35_944_826
    audit = list(csv.DictReader(io.StringIO(client.get("/v1/accountability/tables/audit").text)))
    assert {r["company_verdict"] for r in audit if r["company"] == "reddit"} == {"consistent"}
    for name in (
        "companies",
        "services",
        "aliases",
        "commitments",
        "disclosures",
        "evidence",
        "ncmec_totals",
        "statements",
        "volumes",
        "coverage",
        "unmapped_names",
    ):
        response = client.get(f"/v1/accountability/tables/{name}")
        assert response.status_code == 200, name  # fmt: skip
    assert_problem(client.get("/v1/accountability/tables/nope"), 404, "not-found")


def test_an_export_imports_back_unchanged(
    client: TestClient, admin_key: str, loaded: ImportSummary
) -> None:
    exported = client.get("/v1/accountability/export").content
    response = client.post(
        "/v1/accountability/import",
        files={"file": ("accountability.json", exported, "application/json")},
        headers=auth(admin_key),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["added"], body["changed"]) == (0, 0)
    assert body["unchanged"] > 1000


def test_an_alias_maps_an_unmapped_name_and_deleting_it_unmaps_it(
    client: TestClient, db: Database, admin_key: str, loaded: ImportSummary
) -> None:
    before = {u["esp_name"] for u in client.get("/v1/accountability/unmapped-names").json()}
    assert "Box , Inc. / Box.com" in before
    body = {
        "companies": [{"company": "box", "name": "Box"}],
        "aliases": [{"alias": "Box , Inc. / Box.com", "company": "box"},
                    {"alias": "Box", "company": "box"}],
    }  # fmt: skip
    response = client.post("/v1/accountability/records", json=body, headers=auth(admin_key))
    assert response.status_code == 200, response.text
    after = {u["esp_name"] for u in client.get("/v1/accountability/unmapped-names").json()}
    assert before - after == {"Box , Inc. / Box.com", "Box"}
    box = client.get("/v1/accountability/companies/box").json()
    assert {(r["year"], r["reports"]) for r in box["ncmec"]} >= {(2022, 2407), (2019, 53)}
    with db.engine.connect() as conn:
        alias_id = conn.execute(text("SELECT id FROM acc_aliases WHERE name = 'Box'")).scalar_one()
    deleted = client.delete(f"/v1/accountability/aliases/{alias_id}", headers=auth(admin_key))
    assert deleted.status_code == 200
    again = {u["esp_name"] for u in client.get("/v1/accountability/unmapped-names").json()}
    assert "Box" in again
    assert events(db, "accountability.fact_deleted")[0]["subject"] == f"acc_aliases:{alias_id}"
