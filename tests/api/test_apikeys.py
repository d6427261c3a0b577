"""/v1/api-keys: shown once, stored as SHA-256, revocable at once, every change logged."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from shieldwall.core.access import INTEGRATION_SCOPES, Scope
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from tests.api.conftest import key_prefix, key_row, key_secret
from tests.api.problem_check import assert_problem
from tests.conftest import KeyFactory, auth


def create(client: TestClient, admin_key: str, **fields: Any) -> Any:
    body = {"name": "platform uploads", "kind": "integration", "scopes": ["scan"], **fields}
    return client.post("/v1/api-keys", headers=auth(admin_key), json=body)


def events_of(client: TestClient, key: str, kind: str) -> list[dict[str, Any]]:
    response = client.get("/v1/events", params={"kind": kind, "limit": 500}, headers=auth(key))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# ---- create: shown once ---------------------------------------------------------------------


def test_create_returns_the_key_once(client: TestClient, admin_key: str) -> None:
    response = create(client, admin_key)
    assert response.status_code == 201, response.text
    created = response.json()
    plain = created["key"]
    assert plain.startswith(f"sw_{created['prefix']}_")
    assert len(key_secret(plain)) >= 40
    assert created["kind"] == "integration"
    assert created["scopes"] == ["scan"]
    assert created["revoked_at"] is None
    assert created["last_used_at"] is None

    listing = client.get("/v1/api-keys", headers=auth(admin_key))
    assert listing.status_code == 200
    assert key_secret(plain) not in listing.text
    assert plain not in listing.text
    assert "secret_hash" not in listing.text
    assert hashlib.sha256(plain.encode()).hexdigest() not in listing.text
    listed = next(k for k in listing.json() if k["id"] == created["id"])
    assert "key" not in listed
    assert listed["prefix"] == created["prefix"] == key_prefix(plain)

    # nor in the event log
    log = client.get("/v1/events", params={"limit": 500}, headers=auth(admin_key))
    assert key_secret(plain) not in log.text


def test_the_new_key_works(client: TestClient, admin_key: str) -> None:
    plain = create(client, admin_key, scopes=sorted(s.value for s in INTEGRATION_SCOPES)).json()
    me = client.get("/v1/me", headers=auth(plain["key"]))
    assert me.status_code == 200
    assert me.json()["actor"] == f"apikey:{plain['id']}"
    assert me.json()["name"] == "platform uploads"


def test_database_stores_only_the_sha256(client: TestClient, admin_key: str, db: Database) -> None:
    created = create(client, admin_key).json()
    plain, secret = created["key"], key_secret(created["key"])
    with db.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM api_keys WHERE id = :id"),
                           {"id": created["id"]}).mappings().one()
    assert row["secret_hash"] == hashlib.sha256(plain.encode()).hexdigest()
    assert row["prefix"] == created["prefix"]
    for column, value in row.items():
        assert secret not in str(value), f"column {column} holds the secret"
        assert plain not in str(value), f"column {column} holds the key"


def test_owner_defaults_to_the_calling_person(
    client: TestClient, admin_key: str, admin: Any
) -> None:
    created = create(client, admin_key, kind="personal", scopes=["events:read"]).json()
    assert created["owner_id"] == admin.id
    assert created["kind"] == "personal"


# ---- create: refused -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"scopes": []}, "scopes"),
        ({"scopes": ["root"]}, "scopes"),
        ({"name": ""}, "name"),
        ({"name": "x" * 121}, "name"),
        ({"kind": "superuser"}, "kind"),
        ({"owner_id": "me"}, "owner_id"),
        ({"expires_at": "next tuesday"}, "expires_at"),
    ],
)
def test_schema_errors_name_the_field(
    client: TestClient, admin_key: str, db: Database, fields: dict[str, Any], field: str
) -> None:
    before = count_keys(db)
    body = assert_problem(create(client, admin_key, **fields), 422, "invalid-input")
    assert field in {e["field"].split(".")[0] for e in body["errors"]}
    assert count_keys(db) == before


def count_keys(db: Database) -> int:
    with db.engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM api_keys")).scalar_one())


@pytest.mark.parametrize(
    "expires_at",
    ["a minute ago", "2001-01-01T00:00:00Z", "2001-01-01T00:00:00+05:00"],
)
def test_expiry_in_the_past_is_refused(
    client: TestClient, admin_key: str, db: Database, expires_at: str
) -> None:
    if expires_at == "a minute ago":
        expires_at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    before = count_keys(db)
    body = assert_problem(create(client, admin_key, expires_at=expires_at), 422, "invalid-input")
    assert body["field"] == "expires_at"
    assert "future" in body["detail"]
    assert count_keys(db) == before


def test_naive_expiry_in_the_past_is_refused_not_a_crash(
    client: TestClient, admin_key: str, db: Database
) -> None:
    # The API treats naive datetimes as UTC (see /v1/events?since=); a naive expiry must
    # be judged the same way, never compared against an aware "now" and crash.
    before = count_keys(db)
    body = assert_problem(
        create(client, admin_key, expires_at="2001-01-01T00:00:00"), 422, "invalid-input"
    )
    assert body["field"] == "expires_at"
    assert count_keys(db) == before


def test_naive_expiry_in_the_future_is_taken_as_utc(
    client: TestClient, admin_key: str
) -> None:
    response = create(client, admin_key, expires_at="2999-01-01T00:00:00")
    assert response.status_code == 201, response.text
    assert parse_time(response.json()["expires_at"]) == datetime(2999, 1, 1, tzinfo=UTC)


def test_unknown_owner(client: TestClient, admin_key: str, db: Database) -> None:
    before = count_keys(db)
    response = create(client, admin_key, kind="personal", owner_id=999, scopes=["events:read"])
    body = assert_problem(response, 404, "not-found")
    assert "999" in body["detail"]
    assert body["field"] == "owner_id"
    assert count_keys(db) == before


def test_a_key_cannot_mint_a_key_with_scopes_it_does_not_hold(
    client: TestClient, make_key: KeyFactory, db: Database
) -> None:
    # Scopes limit what a leaked key can do; a key holding only apikeys:manage must not be
    # able to turn itself into a key that manages people.
    narrow = make_key([Scope.APIKEYS_MANAGE], name="key manager only")
    before = count_keys(db)
    response = create(client, narrow, kind="personal",
                      scopes=["apikeys:manage", "users:manage", "events:read"])
    assert response.status_code in (403, 422), response.text
    assert "key" not in response.json()
    assert count_keys(db) == before


# ---- use and expiry ------------------------------------------------------------------------


def test_last_used_at_is_set_after_use(
    client: TestClient, make_key: KeyFactory, db: Database
) -> None:
    key = make_key([Scope.SCAN])
    assert key_row(db, key).last_used_at is None
    started = utcnow()
    assert client.get("/v1/me", headers=auth(key)).status_code == 200
    used = key_row(db, key).last_used_at
    assert used is not None
    assert started - timedelta(seconds=5) <= used <= utcnow() + timedelta(seconds=5)


def test_expiring_key_works_until_it_expires(
    client: TestClient, admin_key: str, expire_key: Callable[[str], None]
) -> None:
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    created = create(client, admin_key, expires_at=soon).json()
    assert parse_time(created["expires_at"]) > datetime.now(UTC)
    assert client.get("/v1/me", headers=auth(created["key"])).status_code == 200

    expire_key(created["key"])
    body = assert_problem(client.get("/v1/me", headers=auth(created["key"])),
                          401, "authentication-required")
    assert "expired" in body["detail"]
    assert created["prefix"] in body["detail"]


# ---- revoke --------------------------------------------------------------------------------


def test_revoke_stops_the_key_at_once(client: TestClient, admin_key: str, db: Database) -> None:
    created = create(client, admin_key).json()
    key = created["key"]
    assert client.get("/v1/me", headers=auth(key)).status_code == 200

    revoked = client.post(f"/v1/api-keys/{created['id']}/revoke", headers=auth(admin_key))
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["revoked_at"] is not None
    assert "key" not in revoked.json()
    assert key_secret(key) not in revoked.text

    body = assert_problem(client.get("/v1/me", headers=auth(key)), 401, "authentication-required")
    assert "revoked" in body["detail"]
    assert key_row(db, key).revoked_at is not None

    everything = client.get("/v1/api-keys", headers=auth(admin_key)).json()
    assert next(k for k in everything if k["id"] == created["id"])["revoked_at"] is not None
    live = client.get("/v1/api-keys", params={"include_revoked": "false"},
                      headers=auth(admin_key)).json()
    assert created["id"] not in {k["id"] for k in live}
    assert live  # the admin key itself is still live


def test_revoke_unknown_key(client: TestClient, admin_key: str) -> None:
    body = assert_problem(client.post("/v1/api-keys/4242/revoke", headers=auth(admin_key)),
                          404, "not-found")
    assert "4242" in body["detail"]


def test_a_key_may_revoke_itself_and_is_then_refused(
    client: TestClient, admin_key: str
) -> None:
    me = client.get("/v1/me", headers=auth(admin_key)).json()
    own_id = int(me["actor"].split(":")[1])
    assert client.post(f"/v1/api-keys/{own_id}/revoke", headers=auth(admin_key)).status_code == 200
    assert_problem(client.get("/v1/api-keys", headers=auth(admin_key)),
                   401, "authentication-required")


# ---- the event log -------------------------------------------------------------------------


def test_create_and_revoke_are_logged(client: TestClient, admin_key: str) -> None:
    caller = client.get("/v1/me", headers=auth(admin_key)).json()["actor"]
    created = create(client, admin_key, scopes=["scan", "banks:read"]).json()
    subject = f"apikey:{created['id']}"

    made = [e for e in events_of(client, admin_key, "apikey.created") if e["subject"] == subject]
    assert len(made) == 1
    assert made[0]["actor"] == caller
    assert made[0]["payload"]["scopes"] == ["banks:read", "scan"]
    assert made[0]["payload"]["kind"] == "integration"

    assert events_of(client, admin_key, "apikey.revoked") == []
    client.post(f"/v1/api-keys/{created['id']}/revoke", headers=auth(admin_key))
    gone = events_of(client, admin_key, "apikey.revoked")
    assert [(e["subject"], e["actor"]) for e in gone] == [(subject, caller)]
    assert client.get("/v1/events/verify", headers=auth(admin_key)).json()["ok"] is True


def test_refused_create_writes_no_event(client: TestClient, admin_key: str) -> None:
    before = len(events_of(client, admin_key, "apikey.created"))
    assert create(client, admin_key, scopes=["users:manage"]).status_code == 422
    assert len(events_of(client, admin_key, "apikey.created")) == before
