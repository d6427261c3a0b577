"""Who may call what: every /v1 route declares one scope, and the scope is enforced.

The route walk reads the app itself, so a route added later without ``require(...)`` fails
here instead of going out unguarded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from shieldwall.api.deps import required_scope_of
from shieldwall.apikeys.models import ApiKey
from shieldwall.apikeys.schemas import KeyKind
from shieldwall.core.access import INTEGRATION_SCOPES, ROLE_SCOPES, Role, Scope
from shieldwall.db.engine import Database
from shieldwall.users.models import User
from tests.api.conftest import key_prefix
from tests.api.problem_check import assert_problem
from tests.conftest import PASSWORD, KeyFactory, auth, make_user

#: Open to anyone, no key needed.
PUBLIC = {
    ("GET", "/v1/principles"), ("GET", "/v1/principles/{number}"),
    # survivors send takedown requests without an account; the status token guards the GET
    ("POST", "/v1/takedown-requests"), ("GET", "/v1/takedown-requests/{request_id}"),
}
#: The accountability tracker: public by default (the accountability_public setting); when
#: switched off, any valid key reads it (tests/accountability/test_api.py checks both).
PUBLIC |= {
    ("GET", "/v1/accountability"),
    ("GET", "/v1/accountability/companies"),
    ("GET", "/v1/accountability/companies/{slug}"),
    ("GET", "/v1/accountability/audit"),
    ("GET", "/v1/accountability/unmapped-names"),
    ("GET", "/v1/accountability/tables/{table}"),
    ("GET", "/v1/accountability/export"),
}
#: Any valid key, whatever its scopes: a caller must always be able to ask who it is.
AUTHENTICATED_ONLY = {("GET", "/v1/me")}


@dataclass(frozen=True)
class GuardedRoute:
    method: str
    path: str
    scopes: tuple[Scope, ...]

    @property
    def url(self) -> str:
        return re.sub(r"\{[^}]+\}", "1", self.path)

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _api_routes(app: FastAPI) -> Iterator[tuple[str, str, Dependant]]:
    """(method, path, dependant) for every API route, also those behind include_router
    (FastAPI >= 0.137 keeps included routers unflattened in ``app.routes``)."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # older FastAPI: included routes are flattened into app.routes
        contexts: Any = app.routes
    else:
        contexts = iter_route_contexts(app.routes)
    for route in contexts:
        original = getattr(route, "original_route", route)
        if not isinstance(original, APIRoute):
            continue
        dependant = getattr(route, "dependant", None) or original.dependant
        for method in sorted(route.methods or ()):
            yield method, route.path, dependant


def _declared_scopes(dependant: Dependant) -> list[Scope]:
    found: list[Scope] = []
    for sub in dependant.dependencies:
        scope = required_scope_of(sub.call) if sub.call is not None else None
        if scope is not None:
            found.append(scope)
        found.extend(_declared_scopes(sub))
    return found


def v1_routes(app: FastAPI) -> list[GuardedRoute]:
    return [
        GuardedRoute(method, path, tuple(_declared_scopes(dependant)))
        for method, path, dependant in _api_routes(app)
        if path.startswith("/v1/") or path == "/v1"
    ]


def _build_app() -> FastAPI:
    """The app as built for the test session, only to enumerate its routes at collection."""
    import tempfile
    from pathlib import Path

    from shieldwall.api import create_app
    from shieldwall.config import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), secret_key="collect-only",
                            database_url=f"sqlite:///{tmp}/collect.db")
        app = create_app(settings, check_migrations=False)
        app.state.db.dispose()
        return app


GUARDED = [
    r for r in v1_routes(_build_app())
    if (r.method, r.path) not in PUBLIC | AUTHENTICATED_ONLY
]


# ---- the declarations ----------------------------------------------------------------------


def test_route_walk_sees_the_whole_api(app: FastAPI) -> None:
    seen = {(r.method, r.path) for r in v1_routes(app)}
    for expected in [
        ("GET", "/v1/users"), ("POST", "/v1/users"), ("PATCH", "/v1/users/{user_id}"),
        ("POST", "/v1/api-keys/{key_id}/revoke"), ("GET", "/v1/events/verify"),
        ("GET", "/v1/overview"), *PUBLIC, *AUTHENTICATED_ONLY,
    ]:
        assert expected in seen, f"route walk missed {expected}; saw {sorted(seen)}"
    assert len(GUARDED) >= 10


def test_every_guarded_v1_route_declares_exactly_one_scope(app: FastAPI) -> None:
    problems = [f"{r}: {list(r.scopes) or 'no scope'}"
                for r in v1_routes(app)
                if (r.method, r.path) not in PUBLIC | AUTHENTICATED_ONLY and len(r.scopes) != 1]
    assert not problems, "routes without exactly one required scope:\n" + "\n".join(problems)


def test_public_and_identity_routes_declare_no_scope(app: FastAPI) -> None:
    by_route = {(r.method, r.path): r for r in v1_routes(app)}
    for key in PUBLIC | AUTHENTICATED_ONLY:
        assert by_route[key].scopes == (), f"{key} was expected to carry no scope"


# ---- the enforcement, route by route -------------------------------------------------------


def _call(client: TestClient, route: GuardedRoute, headers: dict[str, str]) -> Any:
    kwargs: dict[str, Any] = {"headers": headers}
    if route.method in ("POST", "PATCH", "PUT"):
        kwargs["json"] = {}
    return client.request(route.method, route.url, **kwargs)


@pytest.mark.parametrize("route", GUARDED, ids=str)
def test_no_key_is_401(client: TestClient, route: GuardedRoute) -> None:
    assert_problem(_call(client, route, {}), 401, "authentication-required", path=route.url)


@pytest.mark.parametrize("route", GUARDED, ids=str)
def test_every_scope_but_the_required_one_is_403(
    client: TestClient, make_key: KeyFactory, route: GuardedRoute
) -> None:
    (required,) = route.scopes
    key = make_key([s for s in Scope if s is not required], name="all but one")
    body = assert_problem(_call(client, route, auth(key)), 403, "permission-denied",
                          path=route.url)
    assert body["required_scope"] == required.value
    assert required.value in body["detail"]


@pytest.mark.parametrize("route", GUARDED, ids=str)
def test_the_required_scope_alone_is_admitted(
    client: TestClient, make_key: KeyFactory, route: GuardedRoute
) -> None:
    (required,) = route.scopes
    key = make_key([required], name="only the one")
    response = _call(client, route, auth(key))
    assert response.status_code not in (401, 403), response.text
    assert response.status_code < 500, response.text


@pytest.mark.parametrize("route", GUARDED, ids=str)
def test_x_api_key_header_is_held_to_the_same_scopes(
    client: TestClient, make_key: KeyFactory, route: GuardedRoute
) -> None:
    (required,) = route.scopes
    key = make_key([s for s in Scope if s is not required])
    assert_problem(_call(client, route, {"X-API-Key": key}), 403, "permission-denied",
                   path=route.url)


@pytest.mark.parametrize("scope", list(Scope))
def test_me_answers_any_key_with_its_scopes(
    client: TestClient, make_key: KeyFactory, scope: Scope
) -> None:
    assert_problem(client.get("/v1/me"), 401, "authentication-required")
    response = client.get("/v1/me", headers=auth(make_key([scope])))
    assert response.status_code == 200
    assert response.json()["scopes"] == [scope.value]
    assert response.json()["kind"] == "apikey"


@pytest.mark.parametrize("path", ["/v1/principles", "/v1/principles/1"])
def test_public_routes_need_no_key(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


# ---- roles ---------------------------------------------------------------------------------


@pytest.fixture
def reviewer(db: Database) -> User:
    return make_user(db, "rita", Role.REVIEWER)


@pytest.fixture
def analyst(db: Database) -> User:
    return make_user(db, "ana", Role.ANALYST)


def new_user(username: str = "someone", role: str = "analyst") -> dict[str, str]:
    return {"username": username, "password": PASSWORD, "role": role}


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("GET", "/v1/users", None),
        ("POST", "/v1/users", new_user()),
        ("GET", "/v1/users/1", None),
        ("PATCH", "/v1/users/1", {"role": "reviewer"}),
        ("GET", "/v1/api-keys", None),
        ("POST", "/v1/api-keys", {"name": "mine", "kind": "integration", "scopes": ["scan"]}),
        ("POST", "/v1/api-keys/1/revoke", None),
        ("GET", "/v1/events", None),
    ],
)
def test_reviewer_key_cannot_manage_people_keys_or_read_the_log(
    client: TestClient, make_key: KeyFactory, reviewer: User, db: Database, admin: User,
    admin_key: str, method: str, path: str, payload: dict[str, Any] | None,
) -> None:
    key = make_key(sorted(ROLE_SCOPES[Role.REVIEWER]), owner=reviewer)
    response = client.request(method, path, headers=auth(key), json=payload)
    assert_problem(response, 403, "permission-denied")
    # nothing changed: root is still admin, the admin key still works
    with db.session() as session:
        assert session.get(User, admin.id).role == "admin"
    assert client.get("/v1/me", headers=auth(admin_key)).status_code == 200


def test_reviewer_key_reaches_what_reviewers_may_do(
    client: TestClient, make_key: KeyFactory, reviewer: User
) -> None:
    key = make_key(sorted(ROLE_SCOPES[Role.REVIEWER]), owner=reviewer)
    me = client.get("/v1/me", headers=auth(key)).json()
    assert me["role"] == "reviewer"
    assert me["scopes"] == sorted(s.value for s in ROLE_SCOPES[Role.REVIEWER])


def test_analyst_reads_events_but_cannot_create_users(
    client: TestClient, make_key: KeyFactory, analyst: User, db: Database
) -> None:
    key = make_key(sorted(ROLE_SCOPES[Role.ANALYST]), owner=analyst)
    events = client.get("/v1/events", headers=auth(key))
    assert events.status_code == 200
    assert events.json()["items"]
    assert client.get("/v1/events/verify", headers=auth(key)).json()["ok"] is True
    assert client.get("/v1/overview", headers=auth(key)).status_code == 200
    response = client.post("/v1/users", headers=auth(key), json=new_user("sneaky"))
    body = assert_problem(response, 403, "permission-denied")
    assert body["required_scope"] == "users:manage"
    with db.session() as session:
        assert session.scalar(select(User).where(User.username == "sneaky")) is None


# ---- integration keys ----------------------------------------------------------------------


@pytest.mark.parametrize("forbidden", sorted(set(Scope) - INTEGRATION_SCOPES))
def test_integration_key_cannot_be_created_with_a_people_scope(
    client: TestClient, admin_key: str, db: Database, forbidden: Scope
) -> None:
    response = client.post(
        "/v1/api-keys", headers=auth(admin_key),
        json={"name": "platform", "kind": "integration", "scopes": ["scan", forbidden.value]},
    )
    body = assert_problem(response, 422, "invalid-input")
    assert body["field"] == "scopes"
    for allowed in INTEGRATION_SCOPES:
        assert allowed.value in body["detail"]
    assert forbidden.value in body["detail"].split("; not")[-1]
    with db.session() as session:
        assert session.scalar(select(ApiKey).where(ApiKey.name == "platform")) is None


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/v1/users"), ("POST", "/v1/users"), ("GET", "/v1/events"),
     ("GET", "/v1/events/verify"), ("GET", "/v1/api-keys"), ("POST", "/v1/api-keys")],
)
def test_integration_key_with_every_integration_scope_is_kept_out(
    client: TestClient, make_key: KeyFactory, method: str, path: str
) -> None:
    key = make_key(sorted(INTEGRATION_SCOPES), kind=KeyKind.INTEGRATION)
    payload = {} if method == "POST" else None
    assert_problem(client.request(method, path, headers=auth(key), json=payload),
                   403, "permission-denied")
    me = client.get("/v1/me", headers=auth(key)).json()
    assert me["role"] is None
    assert me["scopes"] == sorted(s.value for s in INTEGRATION_SCOPES)
    assert client.get("/v1/overview", headers=auth(key)).status_code == 200


def test_integration_key_row_with_a_smuggled_scope_is_still_refused(
    client: TestClient, make_key: KeyFactory, db: Database
) -> None:
    key = make_key([Scope.SCAN], kind=KeyKind.INTEGRATION)
    with db.session() as session:
        row = session.scalar(select(ApiKey).where(ApiKey.prefix == key_prefix(key)))
        row.scopes = ["scan", "users:manage", "events:read"]
    assert_problem(client.get("/v1/users", headers=auth(key)), 403, "permission-denied")
    assert client.get("/v1/me", headers=auth(key)).json()["scopes"] == ["scan"]


# ---- personal keys follow their owner ------------------------------------------------------


@pytest.mark.parametrize("scope", [Scope.USERS_MANAGE, Scope.APIKEYS_MANAGE, Scope.EVENTS_READ])
def test_personal_key_for_a_reviewer_cannot_hold_admin_scopes(
    client: TestClient, admin_key: str, reviewer: User, scope: Scope
) -> None:
    response = client.post(
        "/v1/api-keys", headers=auth(admin_key),
        json={"name": "too much", "kind": "personal", "owner_id": reviewer.id,
              "scopes": ["cases:read", scope.value]},
    )
    body = assert_problem(response, 422, "invalid-input")
    assert body["field"] == "scopes"
    assert "reviewer" in body["detail"]
    assert scope.value in body["detail"].split("; not")[-1]


def test_personal_key_for_a_reviewer_with_reviewer_scopes_is_created(
    client: TestClient, admin_key: str, reviewer: User
) -> None:
    response = client.post(
        "/v1/api-keys", headers=auth(admin_key),
        json={"name": "rita's", "kind": "personal", "owner_id": reviewer.id,
              "scopes": sorted(s.value for s in ROLE_SCOPES[Role.REVIEWER])},
    )
    assert response.status_code == 201, response.text
    assert response.json()["owner_id"] == reviewer.id


def test_demoted_owner_loses_admin_scopes_at_once(
    client: TestClient, make_key: KeyFactory, admin_key: str, db: Database
) -> None:
    alice = make_user(db, "alice", Role.ADMIN)
    alice_key = make_key(owner=alice)  # every scope
    assert client.get("/v1/users", headers=auth(alice_key)).status_code == 200
    assert "users:manage" in client.get("/v1/me", headers=auth(alice_key)).json()["scopes"]

    demoted = client.patch(f"/v1/users/{alice.id}", headers=auth(admin_key),
                           json={"role": "analyst"})
    assert demoted.status_code == 200, demoted.text

    body = assert_problem(client.get("/v1/users", headers=auth(alice_key)),
                          403, "permission-denied")
    assert body["required_scope"] == "users:manage"
    assert_problem(client.get("/v1/api-keys", headers=auth(alice_key)), 403, "permission-denied")
    me = client.get("/v1/me", headers=auth(alice_key)).json()
    assert me["role"] == "analyst"
    assert me["scopes"] == sorted(s.value for s in ROLE_SCOPES[Role.ANALYST])
    # what analysts may do still works with the same key
    assert client.get("/v1/events", headers=auth(alice_key)).status_code == 200

    # promoted back, the key's own scopes apply again
    client.patch(f"/v1/users/{alice.id}", headers=auth(admin_key), json={"role": "admin"})
    assert client.get("/v1/users", headers=auth(alice_key)).status_code == 200


def test_deactivated_owner_key_is_401(
    client: TestClient, make_key: KeyFactory, admin_key: str, db: Database
) -> None:
    bob = make_user(db, "bob", Role.ANALYST)
    bob_key = make_key(sorted(ROLE_SCOPES[Role.ANALYST]), owner=bob)
    assert client.get("/v1/me", headers=auth(bob_key)).status_code == 200
    response = client.patch(f"/v1/users/{bob.id}", headers=auth(admin_key),
                            json={"is_active": False})
    assert response.status_code == 200
    assert response.json()["is_active"] is False
    for path in ("/v1/me", "/v1/events"):
        body = assert_problem(client.get(path, headers=auth(bob_key)),
                              401, "authentication-required")
        assert "deactivated" in body["detail"]
    client.patch(f"/v1/users/{bob.id}", headers=auth(admin_key), json={"is_active": True})
    assert client.get("/v1/me", headers=auth(bob_key)).status_code == 200


def test_keys_cannot_be_created_for_a_deactivated_person(
    client: TestClient, admin_key: str, db: Database
) -> None:
    carl = make_user(db, "carl", Role.ANALYST)
    client.patch(f"/v1/users/{carl.id}", headers=auth(admin_key), json={"is_active": False})
    response = client.post(
        "/v1/api-keys", headers=auth(admin_key),
        json={"name": "c", "kind": "personal", "owner_id": carl.id, "scopes": ["events:read"]},
    )
    body = assert_problem(response, 409, "conflict")
    assert "deactivated" in body["detail"]
