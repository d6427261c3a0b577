"""Hostile records and files for the accountability tracker: numbers no column holds (NaN,
infinities, integers past BIGINT), text no database stores (lone surrogates, NUL and other
control characters, values longer than their column) and CSV cells past the csv module's
limit. Each is refused 422 naming the line, nothing of the file is stored, and the exports
stay valid JSON; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shieldwall.db.engine import Database
from tests.accountability.test_api import events, report
from tests.api.problem_check import assert_problem
from tests.conftest import auth

pytestmark = pytest.mark.db

URL = "https://example.org/t"
COMPANY = {"company": "example", "name": "Example"}


def disclosure(**fields: Any) -> dict[str, Any]:
    return {
        "company": "example",
        "metric": "cybertipline_reports",
        "term": "reports to NCMEC",
        "value": "120",
        "period": "2023",
        "source_url": URL,
        **fields,
    }


def post_records(client: TestClient, key: str, body: dict[str, Any] | bytes) -> Any:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        "/v1/accountability/records",
        content=content,
        headers={**auth(key), "Content-Type": "application/json"},
    )


def assert_nothing_stored(client: TestClient, db: Database) -> None:
    assert_problem(client.get("/v1/accountability/companies/example"), 404, "not-found")
    assert events(db, "accountability.data_imported") == []


def assert_refused(response: Any, client: TestClient, db: Database, *says: str) -> None:
    """A 422 invalid-input whose detail says each of ``says``, and nothing stored."""
    problem = assert_problem(response, 422, "invalid-input")
    for words in says:
        assert words in problem["detail"]
    assert_nothing_stored(client, db)


def strict_json(text: str) -> Any:
    """JSON as RFC 8259 has it: NaN and Infinity are not JSON."""

    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "Infinity", "1e999", "1" * 400])
def test_a_value_that_is_not_a_finite_number_is_refused(
    client: TestClient, db: Database, admin_key: str, value: str
) -> None:
    body = {"companies": [COMPANY], "disclosures": [disclosure(value=value)]}
    assert_refused(
        post_records(client, admin_key, body), client, db, "line 1", "not a finite number"
    )


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_json_number_that_is_not_finite_is_refused(
    client: TestClient, db: Database, admin_key: str, literal: str
) -> None:
    body = json.dumps({"companies": [COMPANY], "disclosures": [disclosure(value="@")]})
    raw = body.replace('"@"', literal).encode()
    assert_refused(post_records(client, admin_key, raw), client, db)


@pytest.mark.parametrize("rounded", [str(2**63), "99999999999999999999999999", "0", "-5"])
def test_rounded_to_outside_a_bigint_is_refused(
    client: TestClient, db: Database, admin_key: str, rounded: str
) -> None:
    body = {"companies": [COMPANY], "disclosures": [disclosure(rounded_to=rounded)]}
    assert_refused(post_records(client, admin_key, body), client, db, "rounded_to")


def test_the_largest_values_a_column_holds_are_kept_and_export_as_json(
    client: TestClient, admin_key: str
) -> None:
    body = {
        "companies": [COMPANY],
        "disclosures": [disclosure(value="1e308", rounded_to=str(2**63 - 1))],
    }
    response = post_records(client, admin_key, body)
    assert response.status_code == 200, response.text
    exported = strict_json(client.get("/v1/accountability/export").text)
    (row,) = [d for d in exported["disclosures"] if d["company"] == "example"]
    assert float(row["value"]) == 1e308
    assert int(row["rounded_to"]) == 2**63 - 1
    table = client.get("/v1/accountability/tables/disclosures", params={"format": "json"})
    strict_json(table.text)


@pytest.mark.parametrize(
    ("record", "column"),
    [
        ({"company": "example", "name": "Ex\ud800ample"}, "name"),
        ({"company": "\udfff", "name": "Example"}, "company"),
        ({"company": "ex\x00ample", "name": "Example"}, "company"),
        ({"company": "example", "name": "Exa\x1bmple"}, "name"),
        ({"company": "example", "name": "Example", "note": "a\x00b"}, "note"),
        ({"company": "example", "name": "Example", "note": "a\ud800b"}, "note"),
        ({"company": "example", "name": "Exa\nmple"}, "name"),  # a line break in a name
    ],
)
def test_text_with_surrogates_or_control_characters_is_refused(
    client: TestClient, db: Database, admin_key: str, record: dict[str, str], column: str
) -> None:
    # json.dumps writes a lone surrogate as the \ud800 escape, as a hostile client would
    response = post_records(client, admin_key, {"companies": [record]})
    assert_refused(response, client, db, f"line 1: {column}")


def test_a_note_may_hold_line_breaks_and_tabs(client: TestClient, admin_key: str) -> None:
    body = {"companies": [{**COMPANY, "note": "first line\nsecond\tline"}]}
    assert post_records(client, admin_key, body).status_code == 200
    company = client.get("/v1/accountability/companies/example").json()["company"]
    assert company["note"] == "first line\nsecond\tline"


@pytest.mark.parametrize(
    "body",
    [
        {"companies": [{"company": "e" * 81, "name": "Example"}]},
        {"companies": [{"company": "example", "name": "E" * 201}]},
        {"companies": [COMPANY], "services": [{"company": "example", "service": "s" * 81,
                                               "name": "S"}]},
        {"companies": [COMPANY], "aliases": [{"alias": "a" * 301, "company": "example"}]},
        # NFKC makes each U+FDFA eighteen characters: the alias key would not fit
        {"companies": [COMPANY], "aliases": [{"alias": "\ufdfa" * 20, "company": "example"}]},
        {"companies": [COMPANY], "commitments": [{"company": "example", "kind": "endorsement",
                                                  "framework": "f" * 121, "event": "endorsed",
                                                  "date": "2020-01-01", "source_url": URL}]},
        {"companies": [COMPANY], "disclosures": [disclosure(origin="o" * 41)]},
    ],
)  # fmt: skip
def test_text_longer_than_its_column_is_refused(
    client: TestClient, db: Database, admin_key: str, body: dict[str, Any]
) -> None:
    assert_refused(post_records(client, admin_key, body), client, db, "longer than")


def test_an_unknown_section_named_with_a_surrogate_is_refused(
    client: TestClient, admin_key: str
) -> None:
    response = post_records(client, admin_key, b'{"\\ud800": []}')
    assert "unknown section" in assert_problem(response, 422, "invalid-input")["detail"]


@pytest.mark.parametrize("where", ["header", "row"])
def test_a_csv_cell_past_the_csv_field_limit_is_refused_whole(
    client: TestClient, db: Database, admin_key: str, where: str
) -> None:
    huge = "a" * 200_000
    if where == "header":
        text = f"company,name,{huge}\nexample,Example,x\n"
    else:  # a good row first: it must not be stored either
        text = f"company,name\nexample,Example\n{huge},x\n"
    files = {"file": ("companies.csv", text.encode(), "text/csv")}
    response = client.post("/v1/accountability/import", files=files, headers=auth(admin_key))
    assert_refused(response, client, db, "unreadable CSV")


@pytest.mark.parametrize("cell", ["ex\x00ample", "ex\x07ample"])
def test_a_csv_cell_with_a_control_character_is_refused(
    client: TestClient, db: Database, admin_key: str, cell: str
) -> None:
    text = f"company,name\nexample,Example\n{cell},x\n"
    files = {"file": ("companies.csv", text.encode(), "text/csv")}
    response = client.post("/v1/accountability/import", files=files, headers=auth(admin_key))
    assert_refused(response, client, db, "line 3: company")


@pytest.mark.parametrize("value", ["NaN", "Infinity"])
def test_a_transparency_report_with_a_value_that_is_not_finite_is_refused(
    client: TestClient, db: Database, admin_key: str, value: str
) -> None:
    document = report()
    document["sections"]["outcomes"]["metrics"][0]["value"] = "@"
    raw = json.dumps(document).replace('"@"', value).encode()
    files = {"file": ("report.json", raw, "application/json")}
    response = client.post("/v1/accountability/import", files=files, headers=auth(admin_key))
    problem = assert_problem(response, 422, "invalid-input")
    assert "not a finite number" in problem["detail"]
    assert events(db, "accountability.data_imported") == []


def test_a_transparency_report_with_a_surrogate_is_refused(
    client: TestClient, db: Database, admin_key: str
) -> None:
    document = report()
    document["organisation"]["name"] = "Example \ud800 Ltd"
    files = {"file": ("report.json", json.dumps(document).encode(), "application/json")}
    response = client.post("/v1/accountability/import", files=files, headers=auth(admin_key))
    problem = assert_problem(response, 422, "invalid-input")
    assert "organisation/name" in problem["detail"]
    assert events(db, "accountability.data_imported") == []
