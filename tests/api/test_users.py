"""/v1/users: create, change, deactivate and unlock people; never half-write."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shieldwall.audit.models import Event
from shieldwall.core.access import Role
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from shieldwall.users import passwords
from shieldwall.users.models import User
from tests.api.problem_check import assert_problem
from tests.conftest import PASSWORD, auth, make_user

NEW_PASSWORD = "a different long passphrase"


def new_user(username: str = "newcomer", **overrides: Any) -> dict[str, Any]:
    return {"username": username, "password": PASSWORD, "role": "reviewer", **overrides}


def user_count(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(User)) or 0)


def events(db: Database, kind: str, subject: str | None = None) -> list[Event]:
    with db.session() as session:
        stmt = select(Event).where(Event.kind == kind).order_by(Event.id)
        if subject is not None:
            stmt = stmt.where(Event.subject == subject)
        rows = list(session.scalars(stmt))
        session.expunge_all()
        return rows


def stored(db: Database, user_id: int) -> User:
    with db.session() as session:
        user = session.get(User, user_id)
        assert user is not None
        session.expunge(user)
        return user


# ---- create ---------------------------------------------------------------------------------


def test_create(client: TestClient, admin_key: str, db: Database) -> None:
    response = client.post("/v1/users", headers=auth(admin_key),
                           json=new_user(display_name="  New Person  "))
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["username"] == "newcomer"
    assert body["role"] == "reviewer"
    assert body["display_name"] == "New Person"
    assert body["is_active"] is True
    assert body["locked_until"] is None
    assert not {"password", "password_hash"} & body.keys()
    assert PASSWORD not in response.text

    row = stored(db, body["id"])
    assert row.password_hash != PASSWORD
    assert passwords.verify_password(row.password_hash, PASSWORD)
    logged = events(db, "user.created", f"user:{body['id']}")
    assert len(logged) == 1
    assert logged[0].payload == {"role": "reviewer"}
    assert logged[0].actor.startswith("apikey:")

    fetched = client.get(f"/v1/users/{body['id']}", headers=auth(admin_key))
    assert fetched.json() == body
    names = [u["username"] for u in client.get("/v1/users", headers=auth(admin_key)).json()]
    assert names == sorted(names)
    assert "newcomer" in names


def test_duplicate_username(client: TestClient, admin_key: str, db: Database) -> None:
    assert client.post("/v1/users", headers=auth(admin_key), json=new_user()).status_code == 201
    count = user_count(db)
    response = client.post("/v1/users", headers=auth(admin_key),
                           json=new_user(role="admin", password="another password here"))
    body = assert_problem(response, 409, "conflict")
    assert "newcomer" in body["detail"]
    assert user_count(db) == count
    assert len(events(db, "user.created")) == count  # one per person, none for the refusal


@pytest.mark.parametrize(
    "password", ["short", "x" * 11, "x" * 1025], ids=["5-chars", "11-chars", "1025-chars"]
)
def test_bad_password_writes_nothing(
    client: TestClient, admin_key: str, db: Database, password: str
) -> None:
    count, logged = user_count(db), len(events(db, "user.created"))
    response = client.post("/v1/users", headers=auth(admin_key),
                           json=new_user(password=password))
    body = assert_problem(response, 422, "invalid-input")
    assert "password" in {e["field"] for e in body["errors"]}
    assert password not in response.text
    assert user_count(db) == count
    assert len(events(db, "user.created")) == logged


def test_blank_password_of_legal_length_is_refused(
    client: TestClient, admin_key: str, db: Database
) -> None:
    count = user_count(db)
    body = assert_problem(
        client.post("/v1/users", headers=auth(admin_key), json=new_user(password=" " * 16)),
        422, "invalid-input",
    )
    assert body["field"] == "password"
    assert "blank" in body["detail"]
    assert user_count(db) == count


@pytest.mark.parametrize(
    "username",
    ["A", "x", "Alice", "bob smith", "-lead", ".dot", "_under", "eve!", "a" * 65, "ünï", ""],
)
def test_bad_username_pattern(
    client: TestClient, admin_key: str, db: Database, username: str
) -> None:
    count = user_count(db)
    body = assert_problem(
        client.post("/v1/users", headers=auth(admin_key), json=new_user(username)),
        422, "invalid-input",
    )
    assert "username" in {e["field"] for e in body["errors"]}
    assert user_count(db) == count


@pytest.mark.parametrize("username", ["ab", "a.b-c_d", "x" * 64, "0day"])
def test_good_usernames(client: TestClient, admin_key: str, username: str) -> None:
    response = client.post("/v1/users", headers=auth(admin_key), json=new_user(username))
    assert response.status_code == 201, response.text
    assert response.json()["username"] == username


@pytest.mark.parametrize(
    "payload",
    [
        new_user(id=7),
        new_user(is_active=False),
        new_user(password_hash="$argon2id$..."),
        {**new_user(), "role": "owner"},
    ],
    ids=["id", "is_active", "password_hash", "unknown-role"],
)
def test_create_refuses_unknown_fields_and_values(
    client: TestClient, admin_key: str, db: Database, payload: dict[str, Any]
) -> None:
    count = user_count(db)
    assert_problem(client.post("/v1/users", headers=auth(admin_key), json=payload),
                   422, "invalid-input")
    assert user_count(db) == count


# ---- update ---------------------------------------------------------------------------------


def test_patch_role_and_display_name(client: TestClient, admin_key: str, db: Database) -> None:
    rita = make_user(db, "rita", Role.REVIEWER)
    response = client.patch(f"/v1/users/{rita.id}", headers=auth(admin_key),
                            json={"role": "analyst", "display_name": " Rita R. "})
    assert response.status_code == 200, response.text
    assert response.json()["role"] == "analyst"
    assert response.json()["display_name"] == "Rita R."
    assert stored(db, rita.id).role == "analyst"
    (logged,) = events(db, "user.updated", f"user:{rita.id}")
    assert logged.payload == {"role": "analyst", "display_name": True}


def test_patch_nothing_changes_nothing(client: TestClient, admin_key: str, db: Database) -> None:
    rita = make_user(db, "rita", Role.REVIEWER)
    for payload in ({}, {"role": "reviewer"}, {"is_active": True}, {"unlock": True}):
        response = client.patch(f"/v1/users/{rita.id}", headers=auth(admin_key), json=payload)
        assert response.status_code == 200
        assert response.json()["role"] == "reviewer"
    assert events(db, "user.updated", f"user:{rita.id}") == []


def test_patch_password(client: TestClient, admin_key: str, db: Database) -> None:
    rita = make_user(db, "rita", Role.REVIEWER)
    old_hash = stored(db, rita.id).password_hash
    response = client.patch(f"/v1/users/{rita.id}", headers=auth(admin_key),
                            json={"password": NEW_PASSWORD})
    assert response.status_code == 200
    assert NEW_PASSWORD not in response.text
    new_hash = stored(db, rita.id).password_hash
    assert new_hash != old_hash
    assert passwords.verify_password(new_hash, NEW_PASSWORD)
    assert not passwords.verify_password(new_hash, PASSWORD)
    (logged,) = events(db, "user.updated", f"user:{rita.id}")
    assert logged.payload == {"password": True}
    log_text = client.get("/v1/events", params={"limit": 500}, headers=auth(admin_key)).text
    assert NEW_PASSWORD not in log_text


def test_failed_patch_rolls_back_every_part(
    client: TestClient, admin_key: str, db: Database
) -> None:
    rita = make_user(db, "rita", Role.REVIEWER)
    old_hash = stored(db, rita.id).password_hash
    # role is applied first in the service; the blank password then fails the request
    response = client.patch(f"/v1/users/{rita.id}", headers=auth(admin_key),
                            json={"role": "admin", "display_name": "Boss", "password": " " * 14})
    body = assert_problem(response, 422, "invalid-input")
    assert body["field"] == "password"
    after = stored(db, rita.id)
    assert (after.role, after.display_name, after.password_hash) == ("reviewer", "", old_hash)
    assert events(db, "user.updated", f"user:{rita.id}") == []


def test_patch_deactivate_and_reactivate(
    client: TestClient, admin_key: str, db: Database
) -> None:
    rita = make_user(db, "rita", Role.REVIEWER)
    off = client.patch(f"/v1/users/{rita.id}", headers=auth(admin_key), json={"is_active": False})
    assert off.json()["is_active"] is False
    assert stored(db, rita.id).is_active is False
    on = client.patch(f"/v1/users/{rita.id}", headers=auth(admin_key), json={"is_active": True})
    assert on.json()["is_active"] is True
    payloads = [e.payload for e in events(db, "user.updated", f"user:{rita.id}")]
    assert payloads == [{"is_active": False}, {"is_active": True}]


def test_patch_unlock(client: TestClient, admin_key: str, db: Database) -> None:
    rita = make_user(db, "rita", Role.REVIEWER)
    with db.session() as session:
        row = session.get(User, rita.id)
        row.locked_until = utcnow() + timedelta(minutes=10)
        row.failed_logins = 2
    listed = client.get(f"/v1/users/{rita.id}", headers=auth(admin_key)).json()
    assert listed["locked_until"] is not None

    response = client.patch(f"/v1/users/{rita.id}", headers=auth(admin_key),
                            json={"unlock": True})
    assert response.status_code == 200
    assert response.json()["locked_until"] is None
    after = stored(db, rita.id)
    assert (after.locked_until, after.failed_logins) == (None, 0)
    (logged,) = events(db, "user.updated", f"user:{rita.id}")
    assert logged.payload == {"unlocked": True}


@pytest.mark.parametrize(
    "payload",
    [{"username": "renamed"}, {"is_admin": True}, {"role": "owner"}, {"password": "short"},
     {"is_active": "sometimes"}, {"display_name": "x" * 201}],
    ids=["username", "is_admin", "bad-role", "short-password", "bad-bool", "long-name"],
)
def test_patch_refuses_bad_fields(
    client: TestClient, admin_key: str, db: Database, payload: dict[str, Any]
) -> None:
    rita = make_user(db, "rita", Role.REVIEWER)
    assert_problem(client.patch(f"/v1/users/{rita.id}", headers=auth(admin_key), json=payload),
                   422, "invalid-input")
    after = stored(db, rita.id)
    assert (after.username, after.role, after.is_active) == ("rita", "reviewer", True)
    assert events(db, "user.updated", f"user:{rita.id}") == []


# ---- the last admin ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [{"role": "analyst"}, {"role": "reviewer"}, {"is_active": False}],
)
def test_last_active_admin_cannot_be_demoted_or_deactivated(
    client: TestClient, admin_key: str, admin: User, db: Database, payload: dict[str, Any]
) -> None:
    body = assert_problem(
        client.patch(f"/v1/users/{admin.id}", headers=auth(admin_key), json=payload),
        409, "conflict",
    )
    assert "last active admin" in body["detail"]
    after = stored(db, admin.id)
    assert (after.role, after.is_active) == ("admin", True)
    assert client.get("/v1/users", headers=auth(admin_key)).status_code == 200


def test_an_inactive_second_admin_does_not_count(
    client: TestClient, admin_key: str, admin: User, db: Database
) -> None:
    other = make_user(db, "spare", Role.ADMIN)
    assert client.patch(f"/v1/users/{other.id}", headers=auth(admin_key),
                        json={"is_active": False}).status_code == 200
    assert_problem(client.patch(f"/v1/users/{admin.id}", headers=auth(admin_key),
                                json={"role": "analyst"}), 409, "conflict")


def test_with_a_second_admin_the_first_may_step_down(
    client: TestClient, admin_key: str, admin: User, db: Database
) -> None:
    other = make_user(db, "spare", Role.ADMIN)
    response = client.patch(f"/v1/users/{admin.id}", headers=auth(admin_key),
                            json={"role": "analyst"})
    assert response.status_code == 200
    assert response.json()["role"] == "analyst"
    # now 'spare' is the last one
    with db.session() as session:
        assert session.get(User, other.id).role == "admin"
    assert_problem(client.get("/v1/users", headers=auth(admin_key)), 403, "permission-denied")
