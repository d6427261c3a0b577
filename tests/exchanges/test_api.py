"""/v1/exchanges: CRUD, status, fetch now; credentials never shown again."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shieldwall.apikeys.schemas import KeyKind
from shieldwall.banks.models import Bank
from shieldwall.core.access import INTEGRATION_SCOPES, Scope
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_stopncii import FakeStopNcii, pdq_for, record
from shieldwall.exchanges.models import Exchange
from tests.api.problem_check import assert_problem
from tests.conftest import KeyFactory, auth
from tests.exchanges.conftest import STOPNCII_CREDENTIALS, live_values

pytestmark = pytest.mark.db


def body(url: str, **fields: Any) -> dict[str, Any]:
    return {
        "name": "stopncii",
        "type": "stop_ncii",
        "bank": "EXCHANGED",
        "settings": {"base_url": url, "page_size": 10},
        "credentials": STOPNCII_CREDENTIALS,
        "schedule_minutes": 0,
        **fields,
    }


def test_create_list_show_update_delete(
    client: TestClient,
    admin_key: str,
    bank: Bank,
    stopncii: tuple[FakeStopNcii, str],
    db: Database,
) -> None:
    _fake, url = stopncii
    headers = auth(admin_key)
    created = client.post("/v1/exchanges", headers=headers, json=body(url, labels=["ncii"]))
    assert created.status_code == 201, created.text
    out = created.json()
    assert out["credentials_set"] is True
    assert "credentials" not in out
    assert out["settings"]["base_url"] == url
    text = client.get("/v1/exchanges", headers=headers).text
    for secret in STOPNCII_CREDENTIALS.values():
        assert secret not in text
    with db.session() as session:
        sealed = session.scalars(select(Exchange.credentials)).one()
    assert sealed is not None
    assert STOPNCII_CREDENTIALS["fetch_function_key"].encode() not in sealed
    status = client.get("/v1/exchanges/stopncii", headers=headers).json()
    assert status["exchange"]["last_run"] is None
    assert status["runs"] == []
    assert status["quarantine"] == []
    changed = client.patch(
        "/v1/exchanges/stopncii", headers=headers, json={"schedule_minutes": 15, "enabled": False}
    )
    assert changed.status_code == 200
    assert (changed.json()["schedule_minutes"], changed.json()["enabled"]) == (15, False)
    events = client.get("/v1/events?kind_prefix=exchange.", headers=headers).json()["items"]
    assert [e["kind"] for e in events] == ["exchange.updated", "exchange.created"]
    for secret in STOPNCII_CREDENTIALS.values():
        assert secret not in str(events)
    assert client.delete("/v1/exchanges/stopncii", headers=headers).status_code == 204
    assert client.get("/v1/exchanges/stopncii", headers=headers).status_code == 404
    again = client.post("/v1/exchanges", headers=headers, json=body(url))
    assert again.status_code == 201  # the name is free again


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"name": "Bad Name"}, "name"),
        ({"type": "carrier_pigeon"}, "type"),
        ({"bank": "NO_SUCH_BANK"}, None),
        ({"settings": {"base_url": "ftp://x"}}, None),
        ({"settings": {"page_size": 0}}, None),
        ({"settings": {"surprise": 1}}, None),
        ({"credentials": {"subscription_key": "x"}}, None),
        ({"credentials": None}, None),
        ({"labels": ["not a label"]}, "labels"),
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(
    client: TestClient,
    admin_key: str,
    bank: Bank,
    change: dict[str, Any],
    field: str | None,
    db: Database,
) -> None:
    response = client.post(
        "/v1/exchanges", headers=auth(admin_key), json={**body("http://x"), **change}
    )
    assert response.status_code in (404, 422), response.text
    slug = "not-found" if response.status_code == 404 else "invalid-input"
    assert_problem(response, response.status_code, slug)
    with db.session() as session:
        assert session.scalars(select(Exchange)).all() == []


def test_a_second_exchange_of_the_same_name_conflicts(
    client: TestClient, admin_key: str, bank: Bank
) -> None:
    assert (
        client.post("/v1/exchanges", headers=auth(admin_key), json=body("http://x")).status_code
        == 201
    )
    response = client.post("/v1/exchanges", headers=auth(admin_key), json=body("http://x"))
    assert_problem(response, 409, "conflict")


def test_integration_keys_cannot_manage_exchanges(
    client: TestClient, make_key: KeyFactory, bank: Bank
) -> None:
    key = auth(make_key(sorted(INTEGRATION_SCOPES), kind=KeyKind.INTEGRATION))
    assert Scope.EXCHANGES_MANAGE not in INTEGRATION_SCOPES
    response = client.post("/v1/exchanges", headers=key, json=body("http://x"))
    assert_problem(response, 403, "permission-denied")
    assert client.get("/v1/exchanges", headers=key).status_code == 200


def test_fetch_now_runs_in_the_background_and_busy_answers_409(
    client: TestClient,
    admin_key: str,
    bank: Bank,
    stopncii: tuple[FakeStopNcii, str],
    db: Database,
) -> None:
    fake, url = stopncii
    fake.set_records([record(pdq_for(i), ts=1_700_000_000 + i) for i in range(25)])
    headers = auth(admin_key)
    client.post("/v1/exchanges", headers=headers, json=body(url))
    started = client.post("/v1/exchanges/stopncii/fetch", headers=headers)
    assert started.status_code == 202, started.text
    run_id = started.json()["run_id"]
    deadline = time.monotonic() + 30
    while True:
        status = client.get("/v1/exchanges/stopncii", headers=headers).json()
        last = status["exchange"]["last_run"]
        if last and last["id"] == run_id and last["status"] != "running":
            break
        assert time.monotonic() < deadline, status
        time.sleep(0.05)
    assert (last["status"], last["added"], last["pages"]) == ("succeeded", 25, 3)
    assert len(live_values(db, bank.id)) == 25
    # while a lease is held, a second fetch is refused
    with db.session() as session:
        from datetime import timedelta

        from shieldwall.db.base import utcnow

        exchange = session.scalars(select(Exchange)).one()
        exchange.lease_owner = "elsewhere"
        exchange.lease_until = utcnow() + timedelta(minutes=1)
    busy = client.post("/v1/exchanges/stopncii/fetch", headers=headers)
    assert_problem(busy, 409, "conflict")
    assert "another process" in busy.json()["detail"]


def test_quarantine_is_listed(
    client: TestClient,
    admin_key: str,
    bank: Bank,
    stopncii: tuple[FakeStopNcii, str],
    db: Database,
    settings: Any,
) -> None:
    from shieldwall.exchanges import runner

    fake, url = stopncii
    fake.set_records([record("abcd", ts=1_700_000_000), record(pdq_for(1), ts=1_700_000_001)])
    headers = auth(admin_key)
    client.post("/v1/exchanges", headers=headers, json=body(url))
    runner.run_fetch(db, settings, "stopncii")
    items = client.get("/v1/exchanges/stopncii/quarantine", headers=headers).json()
    assert len(items) == 1
    assert "64 hex characters" in items[0]["reason"]
    status = client.get("/v1/exchanges/stopncii", headers=headers).json()
    assert status["exchange"]["quarantined"] == 1
    assert status["runs"][0]["quarantined"] == 1
