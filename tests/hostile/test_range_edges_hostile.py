"""Values at the edges of what Python and the databases hold, through the real API: times whose
UTC form is outside years 1-9999, report periods near year 1 or 9999, ids past a BIGINT or
a 32-bit id column. Each is answered 422 (never 500), on SQLite and PostgreSQL, and nothing
is stored."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from shieldwall.apikeys.models import ApiKey
from shieldwall.apikeys.schemas import KeyKind
from shieldwall.cli import app as cli_app
from shieldwall.config import Settings
from shieldwall.core.access import INTEGRATION_SCOPES, Role
from shieldwall.db.engine import Database
from shieldwall.exchanges.models import Exchange
from shieldwall.transparency.models import PublishedReport
from shieldwall.users.models import User
from tests.api.problem_check import assert_problem
from tests.conftest import PASSWORD, KeyFactory, auth, cli_settings, make_user
from tests.web.conftest import LoginAs
from tests.web.html_forms import parse, submit

pytestmark = pytest.mark.db

#: Valid ISO 8601 in their own offset, but a day outside ``datetime``'s range in UTC.
OUT_OF_UTC = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"]
#: The very edges themselves, in UTC: still accepted.
EDGES_IN_UTC = ["0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999+00:00"]
BIGINT_MAX = 2**63 - 1


def count(db: Database, model: type[Any]) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def assert_field_refused(response: Any, field: str) -> None:
    body = assert_problem(response, 422, "invalid-input")
    assert field in body["detail"], body
    assert "out of range once converted to UTC" in body["detail"], body


@pytest.fixture
def platform(make_key: KeyFactory) -> dict[str, str]:
    return auth(make_key(sorted(INTEGRATION_SCOPES), kind=KeyKind.INTEGRATION))


@pytest.fixture
def bank(client: TestClient, admin_key: str) -> str:
    created = client.post("/v1/banks", json={"name": "EDGES"}, headers=auth(admin_key))
    assert created.status_code == 201, created.text
    return "EDGES"


# ---- times outside the UTC range -----------------------------------------------------------


@pytest.mark.parametrize("when", OUT_OF_UTC)
def test_a_bank_entry_disabled_until_outside_utc_is_refused(
    client: TestClient, admin_key: str, bank: str, when: str
) -> None:
    url = f"/v1/banks/{bank}/entries"
    entry = {"signal_type": "md5", "value": "0" * 32, "disabled_until": when}
    assert_field_refused(client.post(url, json=entry, headers=auth(admin_key)), "disabled_until")
    assert client.get(url, headers=auth(admin_key)).json()["items"] == []

    added = client.post(url, json={**entry, "disabled_until": None}, headers=auth(admin_key))
    entry_id = added.json()["items"][0]["id"]
    patch = client.patch(
        f"{url}/{entry_id}", json={"disabled_until": when}, headers=auth(admin_key)
    )
    assert_field_refused(patch, "disabled_until")
    shown = client.get(url, headers=auth(admin_key)).json()["items"]
    assert [e["disabled_until"] for e in shown] == [None]


@pytest.mark.parametrize("when", EDGES_IN_UTC)
def test_a_bank_entry_disabled_until_at_the_utc_edges_is_kept(
    client: TestClient, admin_key: str, bank: str, when: str
) -> None:
    entry = {"signal_type": "md5", "value": "0" * 32, "disabled_until": when}
    added = client.post(f"/v1/banks/{bank}/entries", json=entry, headers=auth(admin_key))
    assert added.status_code == 200, added.text


@pytest.mark.parametrize("when", OUT_OF_UTC)
def test_an_api_key_expiring_outside_utc_is_refused(
    client: TestClient, admin_key: str, db: Database, when: str
) -> None:
    before = count(db, ApiKey)
    body = {"name": "edge", "scopes": ["scan"], "expires_at": when}
    assert_field_refused(
        client.post("/v1/api-keys", json=body, headers=auth(admin_key)), "expires_at"
    )
    assert count(db, ApiKey) == before


@pytest.mark.parametrize("when", OUT_OF_UTC)
def test_a_message_sent_outside_utc_is_refused(
    client: TestClient, platform: dict[str, str], when: str
) -> None:
    message = {
        "conversation_id": "c-edge",
        "message_id": "m-1",
        "sender": "u-1",
        "recipients": ["u-2"],
        "sent_at": when,
        "text": "hi",
    }
    response = client.post("/v1/messages", json={"messages": [message]}, headers=platform)
    assert_field_refused(response, "sent_at")


@pytest.mark.parametrize("when", OUT_OF_UTC)
@pytest.mark.parametrize("name", ["since", "until"])
def test_an_event_filter_outside_utc_is_refused(
    client: TestClient, admin_key: str, name: str, when: str
) -> None:
    response = client.get("/v1/events", params={name: when}, headers=auth(admin_key))
    assert_field_refused(response, name)


@pytest.mark.parametrize("when", EDGES_IN_UTC)
@pytest.mark.parametrize("name", ["since", "until"])
def test_an_event_filter_at_the_utc_edges_is_answered(
    client: TestClient, admin_key: str, name: str, when: str
) -> None:
    response = client.get("/v1/events", params={name: when}, headers=auth(admin_key))
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("when", OUT_OF_UTC)
def test_an_ncmec_exchange_starting_outside_utc_is_refused_at_creation(
    client: TestClient, admin_key: str, bank: str, db: Database, when: str
) -> None:
    body = {
        "name": "ncmec-edge",
        "type": "ncmec",
        "bank": bank,
        "settings": {"start_time": when},
        "credentials": {"username": "a", "password": "b"},
        "enabled": False,
    }
    response = client.post("/v1/exchanges", json=body, headers=auth(admin_key))
    body_out = assert_problem(response, 422, "invalid-input")
    assert "start_time" in body_out["detail"], body_out
    assert count(db, Exchange) == 0


@pytest.mark.parametrize("when", OUT_OF_UTC)
def test_a_report_context_time_outside_utc_is_refused(
    client: TestClient, admin_key: str, when: str
) -> None:
    context = {
        "ip_capture_events": [{"ip_address": "192.0.2.1", "date_time": when}],
        "device_ids": [{"id_type": "imei", "id_value": "x", "date_time": when}],
    }
    response = client.put("/v1/reports/contexts/1", json=context, headers=auth(admin_key))
    assert_field_refused(response, "date_time")


# ---- transparency periods near year 1 and 9999 ---------------------------------------------


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"from": "0001-01-01"}, "from"),
        ({"to": "9999-12-31"}, "to"),
        ({"from": "9999-07-01"}, "from"),
        ({"from": "0002-01-01", "to": "0002-06-30"}, "from"),
        ({"from": "1900-01-01", "to": "9999-12-31"}, "to"),
        ({"from": "1899-12-31", "to": "1900-01-01"}, "from"),
    ],
)
@pytest.mark.parametrize(
    "path", ["/v1/transparency/reports", "/v1/transparency/metrics/content_scanned/events"]
)
def test_a_report_period_outside_the_supported_days_is_refused(
    client: TestClient, admin_key: str, path: str, params: dict[str, str], field: str
) -> None:
    body = assert_problem(
        client.get(path, params=params, headers=auth(admin_key)), 422, "invalid-input"
    )
    assert body["field"] == field
    assert "1900-01-01 to 9998-12-31" in body["detail"]


def test_publishing_a_period_outside_the_supported_days_is_refused(
    client: TestClient, admin_key: str, db: Database
) -> None:
    for params in ({"from": "0001-01-01", "to": "0001-06-30"}, {"from": "9999-12-31"}):
        response = client.post(
            "/v1/transparency/reports/published", params=params, headers=auth(admin_key)
        )
        assert_problem(response, 422, "invalid-input")
    assert count(db, PublishedReport) == 0


@pytest.mark.parametrize(
    "params",
    [
        {"from": "1900-01-01"},  # the first half-year: no trend before it
        {"from": "1900-03-01", "to": "1900-03-10"},  # a trend cut short at 1900-01-01
        {"from": "9998-07-01"},  # the last half-year
        {"from": "9998-12-31", "to": "9998-12-31"},
    ],
)
def test_a_report_at_the_edges_of_the_supported_days_is_computed(
    client: TestClient, admin_key: str, params: dict[str, str]
) -> None:
    response = client.get("/v1/transparency/reports", params=params, headers=auth(admin_key))
    assert response.status_code == 200, response.text
    assert response.json()["period"]["start"] == params["from"]


@pytest.mark.parametrize("path", ["/transparency", "/transparency/report.json"])
def test_the_report_page_refuses_a_period_outside_the_supported_days(
    db: Database, login_as: LoginAs, path: str
) -> None:
    make_user(db, "ada", Role.ADMIN)
    page = login_as("ada", PASSWORD).get(path, params={"from": "0001-01-01"})
    assert page.status_code == 422, page.text[:300]


# ---- ids past the database integers -------------------------------------------------------


@pytest.mark.parametrize("before_id", [BIGINT_MAX + 1, 2**80])
def test_events_before_an_id_past_bigint_is_refused(
    client: TestClient, admin_key: str, before_id: int
) -> None:
    response = client.get("/v1/events", params={"before_id": before_id}, headers=auth(admin_key))
    assert assert_problem(response, 422, "invalid-input")["detail"].count("before_id") == 1
    ok = client.get("/v1/events", params={"before_id": BIGINT_MAX}, headers=auth(admin_key))
    assert ok.status_code == 200, ok.text


@pytest.mark.parametrize("owner_id", [2**63, -(2**63) - 1, 2**31, 0])
def test_an_api_key_for_an_owner_id_past_the_user_ids_is_refused(
    client: TestClient, admin_key: str, db: Database, owner_id: int
) -> None:
    before = count(db, ApiKey)
    body = {"name": "edge", "kind": "personal", "scopes": ["scan"], "owner_id": owner_id}
    response = client.post("/v1/api-keys", json=body, headers=auth(admin_key))
    assert "owner_id" in assert_problem(response, 422, "invalid-input")["detail"]
    assert count(db, ApiKey) == before


def test_the_event_log_page_refuses_an_id_past_bigint(db: Database, login_as: LoginAs) -> None:
    make_user(db, "ada", Role.ADMIN)
    page = login_as("ada", PASSWORD).get(f"/events?before_id={BIGINT_MAX + 1}")
    assert page.status_code == 422, page.text[:300]


@pytest.mark.parametrize("user_id", ["2147483648", "9223372036854775808"])
def test_changing_a_user_id_past_the_user_ids_is_refused(
    db: Database, login_as: LoginAs, user_id: str
) -> None:
    make_user(db, "ada", Role.ADMIN)
    bob = make_user(db, "bob", Role.ANALYST)
    admin = login_as("ada", PASSWORD)
    form = parse(admin.get("/admin/users").text).form_to(
        f"/admin/users/{bob.id}", action="deactivate"
    )
    response = submit(admin, dataclasses.replace(form, action=f"/admin/users/{user_id}"))
    assert response.status_code == 422, response.text[:300]
    with db.session() as session:
        still = session.get(User, bob.id)
        assert still is not None
        assert still.is_active


@pytest.mark.parametrize(
    "args",
    [
        ["transparency", "published", "--show", str(BIGINT_MAX + 1)],
        ["reports", "show", str(BIGINT_MAX + 1)],
        ["reports", "retry", str(BIGINT_MAX + 1)],
        ["evidence", "show", str(BIGINT_MAX + 1)],
        ["evidence", "list", "--case", "2147483648"],
    ],
)
def test_the_cli_refuses_an_id_past_the_database_integers(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    cli_settings(monkeypatch, settings)
    result = CliRunner().invoke(cli_app, args)
    assert result.exit_code == 2, (result.output, result.exception)
    assert "Invalid value" in result.output
    assert "Traceback" not in result.output
