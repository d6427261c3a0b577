"""Hostile input through the real API: out-of-range ids, NUL bytes and control characters in
query filters, appeal keys and usernames. Each is answered 4xx (never 500), on SQLite and
PostgreSQL (which refuses NUL in any text it is sent, even in a WHERE clause)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from shieldwall.apikeys.schemas import KeyKind
from shieldwall.config import Settings
from shieldwall.core.access import INTEGRATION_SCOPES
from shieldwall.db.engine import Database
from tests.api.problem_check import assert_problem
from tests.conftest import KeyFactory, auth
from tests.web.review_cases import media_case

pytestmark = pytest.mark.db

NUL = "a\x00b"


@pytest.fixture
def platform(make_key: KeyFactory) -> dict[str, str]:
    return auth(make_key(sorted(INTEGRATION_SCOPES), kind=KeyKind.INTEGRATION))


@pytest.mark.parametrize(
    "body",
    [
        {"action_id": 2**63},  # past BIGINT: the driver overflows
        {"action_id": 2**80},
        {"case_id": 2**40},  # past the cases' 32-bit ids
        {"case_id": 2**63},
    ],
)
def test_appeal_of_an_id_past_the_database_range_is_not_found(
    client: TestClient, platform: dict[str, str], body: dict[str, int]
) -> None:
    assert_problem(client.post("/v1/appeals", json=body, headers=platform), 404, "not-found")


def test_appeal_by_an_action_key_with_a_nul_byte_is_refused(
    client: TestClient, platform: dict[str, str]
) -> None:
    response = client.post("/v1/appeals", json={"action_key": NUL}, headers=platform)
    body = assert_problem(response, 422, "invalid-input")
    assert body["field"] == "action_key"


@pytest.mark.parametrize("name", ["label", "subject_ref"])
def test_queue_filters_with_control_characters_are_refused(
    client: TestClient, admin_key: str, name: str
) -> None:
    response = client.get("/v1/cases", params={name: NUL}, headers=auth(admin_key))
    assert assert_problem(response, 422, "invalid-input")["field"] == name


def test_queue_filter_by_an_assignee_with_a_nul_byte_is_an_unknown_user(
    client: TestClient, admin_key: str
) -> None:
    response = client.get("/v1/cases", params={"assignee": NUL}, headers=auth(admin_key))
    assert assert_problem(response, 422, "invalid-input")["field"] == "assignee"


def test_assigning_to_a_username_with_a_nul_byte_is_not_found(
    client: TestClient, admin_key: str
) -> None:
    response = client.post("/v1/cases/1/assign", json={"username": NUL}, headers=auth(admin_key))
    assert response.status_code in (404, 422), response.text


@pytest.mark.parametrize("note", ['"\\udfff"', '"before \\ud800 after"'])
def test_a_decision_note_with_a_lone_surrogate_is_refused(
    client: TestClient, admin_key: str, db: Database, settings: Settings, note: str
) -> None:
    case_id = media_case(db, settings).case_id
    body = '{"outcome": "not_violating", "note": ' + note + "}"
    response = client.post(
        f"/v1/cases/{case_id}/decision",
        content=body.encode(),
        headers={**auth(admin_key), "Content-Type": "application/json"},
    )
    assert assert_problem(response, 422, "invalid-input")["field"] == "note"
    assert client.get(f"/v1/cases/{case_id}", headers=auth(admin_key)).json()["status"] != "decided"


@pytest.mark.parametrize("sneaky", ["post\u202e1-tsop", "post\u200b1", "post\u2066x"])
def test_references_that_would_display_as_something_else_are_refused(
    client: TestClient, platform: dict[str, str], sneaky: str
) -> None:
    """A bidirectional override or an invisible character in a platform reference would make
    the review UI show a different id than the one the platform sent: refused, never stored."""
    report = {"reporter_id": "u-1", "category": "grooming", "content_id": sneaky}
    response = client.post("/v1/user-reports", json=report, headers=platform)
    assert_problem(response, 422, "invalid-input")
    signals = [{"signal_type": "md5", "value": "0" * 32}]
    lookup = {"signals": signals, "content_id": sneaky}
    assert_problem(client.post("/v1/lookup", json=lookup, headers=platform), 422, "invalid-input")
