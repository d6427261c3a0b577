"""Every error the API answers is an RFC 9457 problem-details object.

One test class per error class; each checks the status, the slug, the media type, the six
standard keys and that the ``request_id`` in the body is the ``X-Request-ID`` header.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from shieldwall.api.deps import DbSession
from shieldwall.audit.models import Event
from shieldwall.core.access import Role, Scope
from shieldwall.db.engine import Database
from shieldwall.users import service as users_service
from shieldwall.users.models import User
from shieldwall.users.schemas import UserCreate
from tests.api.conftest import key_prefix
from tests.api.problem_check import GENERATED_ID, assert_problem
from tests.conftest import PASSWORD, SYSTEM, KeyFactory, auth, make_user

LIMIT = 64 * 1024  # settings.max_body_bytes in the shared fixture


def user_count(db: Database) -> int:
    with db.session() as session:
        return int(session.scalar(select(func.count()).select_from(User)) or 0)


def event_count(db: Database, kind: str) -> int:
    with db.session() as session:
        stmt = select(func.count()).select_from(Event).where(Event.kind == kind)
        return int(session.scalar(stmt) or 0)


def new_user_json(username: str = "newcomer", **overrides: Any) -> dict[str, Any]:
    return {"username": username, "password": PASSWORD, "role": "analyst", **overrides}


# ---- 400 ------------------------------------------------------------------------------------


class TestMalformedJson:
    @pytest.mark.parametrize(
        ("method", "path"),
        [("POST", "/v1/users"), ("PATCH", "/v1/users/1"), ("POST", "/v1/api-keys")],
    )
    @pytest.mark.parametrize(
        "raw",
        [b'{"username":', b"{'single': 'quotes'}", b"[1, 2,]", b'{"a": 1}}'],
    )
    def test_unparseable_body_is_400_malformed_json(
        self,
        client: TestClient,
        admin_key: str,
        db: Database,
        method: str,
        path: str,
        raw: bytes,
    ) -> None:
        before = user_count(db)
        response = client.request(
            method,
            path,
            content=raw,
            headers={**auth(admin_key), "Content-Type": "application/json"},
        )
        body = assert_problem(response, 400, "malformed-json")
        assert body["title"] == "Malformed JSON"
        assert "not valid JSON" in body["detail"]
        assert user_count(db) == before


# ---- 422 ------------------------------------------------------------------------------------


def error_fields(body: dict[str, Any]) -> set[str]:
    assert isinstance(body.get("errors"), list), body
    assert body["errors"], body
    for err in body["errors"]:
        assert set(err) == {"field", "message"}
        assert err["message"]
    return {err["field"] for err in body["errors"]}


class TestSchemaErrors:
    def test_wrong_types_name_every_bad_field(
        self, client: TestClient, admin_key: str, db: Database
    ) -> None:
        before = user_count(db)
        response = client.post(
            "/v1/users",
            headers=auth(admin_key),
            json={"username": 5, "password": ["x"], "role": "emperor"},
        )
        body = assert_problem(response, 422, "invalid-input")
        assert {"username", "password", "role"} <= error_fields(body)
        assert "username" in body["detail"]
        assert user_count(db) == before

    def test_missing_required_fields_are_named(self, client: TestClient, admin_key: str) -> None:
        response = client.post("/v1/users", headers=auth(admin_key), json={})
        body = assert_problem(response, 422, "invalid-input")
        assert {"username", "password", "role"} <= error_fields(body)

    @pytest.mark.parametrize(
        ("method", "path", "payload"),
        [
            ("POST", "/v1/users", new_user_json(is_superuser=True)),
            ("PATCH", "/v1/users/1", {"display_name": "x", "is_superuser": True}),
            ("POST", "/v1/api-keys", {"name": "k", "scopes": ["scan"], "is_superuser": True}),
        ],
        ids=["create-user", "update-user", "create-key"],
    )
    def test_unknown_fields_are_forbidden(
        self,
        client: TestClient,
        admin_key: str,
        db: Database,
        method: str,
        path: str,
        payload: dict[str, Any],
    ) -> None:
        before = user_count(db)
        response = client.request(method, path, headers=auth(admin_key), json=payload)
        body = assert_problem(response, 422, "invalid-input")
        assert "is_superuser" in error_fields(body)
        assert user_count(db) == before

    @pytest.mark.parametrize(
        ("path", "field"),
        [
            ("/v1/events?limit=0", "limit"),
            ("/v1/events?limit=many", "limit"),
            ("/v1/events?principle=12", "principle"),
            ("/v1/events?since=yesterday", "since"),
            ("/v1/users/abc", "user_id"),
            ("/v1/users/0", "user_id"),
            (f"/v1/users/{2**31}", "user_id"),
        ],
    )
    def test_bad_query_and_path_parameters(
        self, client: TestClient, admin_key: str, path: str, field: str
    ) -> None:
        response = client.get(path, headers=auth(admin_key))
        body = assert_problem(response, 422, "invalid-input", path=path.split("?")[0])
        assert any(f.split(".")[-1] == field for f in error_fields(body)), body

    def test_json_that_is_not_an_object(self, client: TestClient, admin_key: str) -> None:
        response = client.post("/v1/users", headers=auth(admin_key), json=["a", "list"])
        body = assert_problem(response, 422, "invalid-input")
        assert error_fields(body)


# ---- 401 ------------------------------------------------------------------------------------


def wrong_secret(key: str) -> str:
    prefix = key_prefix(key)
    return f"sw_{prefix}_{'A' * 43}"


class TestAuthentication:
    @pytest.mark.parametrize(
        ("header", "value", "says"),
        [
            (None, None, "needs an API key"),
            ("Authorization", "Basic cm9vdDpwYXNzd29yZA==", "Bearer"),
            ("Authorization", "Token sw_abcdefghij_secret", "Bearer"),
            ("Authorization", "Bearer ", "Bearer"),
            ("Authorization", "Bearer not-a-key", "malformed"),
            ("Authorization", "Bearer sw_short_secret", "malformed"),
            ("Authorization", "Bearer xx_abcdefghij_secret", "malformed"),
            ("Authorization", "Bearer sw_abcdefghij_" + "s" * 43, "invalid"),
            ("X-API-Key", "sw_abcdefghij_" + "s" * 43, "invalid"),
            ("X-API-Key", "garbage", "malformed"),
        ],
        ids=[
            "no-key",
            "basic",
            "token-scheme",
            "empty-bearer",
            "malformed",
            "short-prefix",
            "wrong-brand",
            "unknown-prefix",
            "x-api-key-unknown",
            "x-api-key-malformed",
        ],
    )
    def test_bad_credentials_are_401(
        self,
        client: TestClient,
        admin_key: str,
        header: str | None,
        value: str | None,
        says: str,
    ) -> None:
        headers = {header: value} if header and value is not None else {}
        response = client.get("/v1/me", headers=headers)
        body = assert_problem(response, 401, "authentication-required")
        assert says.lower() in body["detail"].lower()
        assert response.headers.get("www-authenticate") == "Bearer"
        assert admin_key not in response.text

    def test_wrong_secret_for_a_real_prefix(self, client: TestClient, admin_key: str) -> None:
        response = client.get("/v1/me", headers=auth(wrong_secret(admin_key)))
        body = assert_problem(response, 401, "authentication-required")
        assert body["detail"] == "invalid API key"
        # the real key still works: the failed attempt changed nothing
        assert client.get("/v1/me", headers=auth(admin_key)).status_code == 200

    def test_revoked_key(
        self, client: TestClient, admin_key: str, revoke_key: Callable[[str], None]
    ) -> None:
        revoke_key(admin_key)
        body = assert_problem(
            client.get("/v1/me", headers=auth(admin_key)), 401, "authentication-required"
        )
        assert "revoked" in body["detail"]
        assert key_prefix(admin_key) in body["detail"]

    def test_expired_key(
        self, client: TestClient, admin_key: str, expire_key: Callable[[str], None]
    ) -> None:
        expire_key(admin_key)
        body = assert_problem(
            client.get("/v1/users", headers=auth(admin_key)), 401, "authentication-required"
        )
        assert "expired" in body["detail"]

    def test_unknown_route_without_key_is_404_not_401(self, client: TestClient) -> None:
        assert_problem(client.get("/v1/no-such-thing"), 404, "not-found")


# ---- 403 ------------------------------------------------------------------------------------


class TestPermissionDenied:
    @pytest.mark.parametrize(
        ("method", "path", "scope"),
        [
            ("GET", "/v1/users", Scope.USERS_MANAGE),
            ("POST", "/v1/users", Scope.USERS_MANAGE),
            ("GET", "/v1/api-keys", Scope.APIKEYS_MANAGE),
            ("GET", "/v1/events", Scope.EVENTS_READ),
            ("GET", "/v1/overview", Scope.REPORTS_READ),
        ],
    )
    def test_body_names_the_missing_scope(
        self,
        client: TestClient,
        make_key: KeyFactory,
        db: Database,
        method: str,
        path: str,
        scope: Scope,
    ) -> None:
        reviewer = make_user(db, "rita", Role.REVIEWER)
        key = make_key([Scope.CASES_READ], owner=reviewer)
        kwargs: dict[str, Any] = {"json": new_user_json()} if method == "POST" else {}
        response = client.request(method, path, headers=auth(key), **kwargs)
        body = assert_problem(response, 403, "permission-denied")
        assert body["required_scope"] == scope.value
        assert f"'{scope.value}'" in body["detail"]
        assert user_count(db) == 2  # root and rita; nothing was created


# ---- 404 ------------------------------------------------------------------------------------


class TestNotFound:
    @pytest.mark.parametrize("path", ["/v1/nothing-here", "/v2/users", "/v1/users/1/friends"])
    def test_unknown_route(self, client: TestClient, admin_key: str, path: str) -> None:
        body = assert_problem(client.get(path, headers=auth(admin_key)), 404, "not-found")
        assert path in body["detail"]

    def test_unknown_user_id(self, client: TestClient, admin_key: str) -> None:
        body = assert_problem(
            client.get("/v1/users/999", headers=auth(admin_key)), 404, "not-found"
        )
        assert "999" in body["detail"]
        assert body["user_id"] == 999

    def test_patch_unknown_user_writes_nothing(
        self, client: TestClient, admin_key: str, db: Database
    ) -> None:
        before = event_count(db, "user.updated")
        response = client.patch(
            "/v1/users/424242", headers=auth(admin_key), json={"display_name": "ghost"}
        )
        assert_problem(response, 404, "not-found")
        assert event_count(db, "user.updated") == before

    def test_unknown_principle(self, client: TestClient) -> None:
        body = assert_problem(client.get("/v1/principles/12"), 404, "not-found")
        assert "1-11" in body["detail"]


# ---- 405 ------------------------------------------------------------------------------------


class TestMethodNotAllowed:
    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("DELETE", "/v1/users"),
            ("PUT", "/v1/users/1"),
            ("DELETE", "/v1/api-keys"),
            ("GET", "/v1/api-keys/1/revoke"),
            ("POST", "/v1/events"),
            ("POST", "/healthz"),
        ],
    )
    def test_wrong_method_is_405(
        self, client: TestClient, admin_key: str, method: str, path: str
    ) -> None:
        body = assert_problem(
            client.request(method, path, headers=auth(admin_key)), 405, "method-not-allowed"
        )
        assert method in body["detail"]
        assert path in body["detail"]

    @pytest.mark.parametrize(
        ("path", "allowed"),
        [
            ("/v1/users", {"GET", "POST"}),
            ("/v1/users/1", {"GET", "PATCH"}),
            ("/v1/api-keys", {"GET", "POST"}),
        ],
    )
    def test_allow_header_lists_every_supported_method(
        self, client: TestClient, admin_key: str, path: str, allowed: set[str]
    ) -> None:
        # RFC 9110 section 15.5.6: a 405 MUST carry Allow with the resource's methods.
        response = client.request("DELETE", path, headers=auth(admin_key))
        assert response.status_code == 405
        listed = {m.strip() for m in response.headers.get("allow", "").split(",") if m.strip()}
        assert allowed <= listed, f"Allow: {response.headers.get('allow')!r}"


# ---- 409 ------------------------------------------------------------------------------------


class TestConflict:
    def test_duplicate_username(self, client: TestClient, admin_key: str, db: Database) -> None:
        assert (
            client.post("/v1/users", headers=auth(admin_key), json=new_user_json("dup")).status_code
            == 201
        )
        created = event_count(db, "user.created")
        response = client.post("/v1/users", headers=auth(admin_key), json=new_user_json("dup"))
        body = assert_problem(response, 409, "conflict")
        assert "'dup'" in body["detail"]
        assert body["field"] == "username"
        assert event_count(db, "user.created") == created

    def test_revoking_twice(self, client: TestClient, admin_key: str, make_key: KeyFactory) -> None:
        victim = make_key([Scope.SCAN], name="victim")
        keys = client.get("/v1/api-keys", headers=auth(admin_key)).json()
        victim_id = next(k["id"] for k in keys if k["prefix"] == key_prefix(victim))
        first = client.post(f"/v1/api-keys/{victim_id}/revoke", headers=auth(admin_key))
        assert first.status_code == 200
        second = client.post(f"/v1/api-keys/{victim_id}/revoke", headers=auth(admin_key))
        body = assert_problem(second, 409, "conflict")
        assert "already revoked" in body["detail"]
        assert body["key_id"] == victim_id
        # the first revocation time stands
        listed = client.get("/v1/api-keys", headers=auth(admin_key)).json()
        assert (
            next(k for k in listed if k["id"] == victim_id)["revoked_at"]
            == first.json()["revoked_at"]
        )


# ---- 413 ------------------------------------------------------------------------------------


def body_of_size(size: int) -> bytes:
    """A JSON user whose encoding is exactly ``size`` bytes."""
    head, tail = b'{"username":"bigbody","role":"analyst","password":"', b'"}'
    return head + b"x" * (size - len(head) - len(tail)) + tail


class TestPayloadTooLarge:
    def test_declared_length_over_the_limit(
        self, client: TestClient, admin_key: str, db: Database
    ) -> None:
        before = user_count(db)
        response = client.post(
            "/v1/users",
            content=body_of_size(LIMIT + 1),
            headers={**auth(admin_key), "Content-Type": "application/json"},
        )
        body = assert_problem(response, 413, "payload-too-large")
        assert "65,536" in body["detail"]
        assert user_count(db) == before

    def test_body_exactly_at_the_limit_reaches_the_route(
        self, client: TestClient, admin_key: str
    ) -> None:
        payload = body_of_size(LIMIT)
        assert len(payload) == LIMIT
        response = client.post(
            "/v1/users",
            content=payload,
            headers={**auth(admin_key), "Content-Type": "application/json"},
        )
        # not refused by size: the schema (password at most 1024 characters) answers
        body = assert_problem(response, 422, "invalid-input")
        assert "password" in error_fields(body)

    def test_streamed_body_without_content_length(
        self, client: TestClient, admin_key: str, db: Database
    ) -> None:
        before = user_count(db)

        def chunks() -> Iterator[bytes]:
            payload = body_of_size(LIMIT + 4096)
            for start in range(0, len(payload), 4096):
                yield payload[start : start + 4096]

        response = client.post(
            "/v1/users",
            content=chunks(),
            headers={**auth(admin_key), "Content-Type": "application/json"},
        )
        assert "content-length" not in {k.lower() for k in response.request.headers}
        assert_problem(response, 413, "payload-too-large")
        assert user_count(db) == before

    def test_streamed_body_under_the_limit_arrives_whole(
        self, client: TestClient, admin_key: str
    ) -> None:
        payload = json.dumps(new_user_json("streamed")).encode()

        def chunks() -> Iterator[bytes]:
            for start in range(0, len(payload), 7):
                yield payload[start : start + 7]

        response = client.post(
            "/v1/users",
            content=chunks(),
            headers={**auth(admin_key), "Content-Type": "application/json"},
        )
        assert response.status_code == 201, response.text
        assert response.json()["username"] == "streamed"


# ---- 500 ------------------------------------------------------------------------------------


SECRET_DETAIL = "db password is hunter2 at /srv/secret/path.py"


@pytest.fixture
def crashing_app(app: FastAPI, db: Database) -> FastAPI:
    def crash_after_writing(db: DbSession) -> None:
        users_service.create_user(
            db,
            UserCreate(username="halfway", password=PASSWORD, role=Role.ANALYST),
            actor=SYSTEM,
        )
        raise RuntimeError(SECRET_DETAIL)

    app.add_api_route("/v1/test-crash", crash_after_writing, methods=["POST"])
    return app


class TestInternalError:
    @pytest.mark.parametrize("request_id", [None, "trace-me-12345"])
    def test_crash_answers_500_without_internals_and_saves_nothing(
        self, crashing_app: FastAPI, client: TestClient, db: Database, request_id: str | None
    ) -> None:
        headers = {"X-Request-ID": request_id} if request_id else {}
        response = client.post("/v1/test-crash", headers=headers)
        body = assert_problem(response, 500, "internal")
        assert body["title"] == "Internal error"
        assert body["request_id"] in body["detail"]
        if request_id:
            assert body["request_id"] == request_id
        else:
            assert GENERATED_ID.match(body["request_id"])
        for leak in ("Traceback", "RuntimeError", "hunter2", "/srv/secret", 'File "'):
            assert leak not in response.text
        with db.session() as session:
            assert session.scalar(select(User).where(User.username == "halfway")) is None


def test_error_context_never_replaces_the_problem_members(app: FastAPI, client: TestClient) -> None:
    """A domain error whose context happens to use a member name (status, request_id, ...)
    still answers a well-formed problem with its own status and the real request id."""
    from shieldwall.core.errors import Conflict

    def clashing() -> None:
        raise Conflict(
            "already decided",
            status="decided",
            request_id="forged",
            slug="other",
            headers="x",
            request="y",
            case_id=7,
        )

    app.add_api_route("/v1/test-clash", clashing, methods=["POST"])
    response = client.post("/v1/test-clash", headers={"X-Request-ID": "real-id-1"})
    body = assert_problem(response, 409, "conflict")
    assert body["status"] == 409
    assert body["request_id"] == "real-id-1"
    assert body["type"] == "/problems/conflict"
    assert body["case_id"] == 7


# ---- 503 ------------------------------------------------------------------------------------


class TestServiceUnavailable:
    def test_readyz_on_unmigrated_database(self, unmigrated_client: TestClient) -> None:
        body = assert_problem(unmigrated_client.get("/readyz"), 503, "service-unavailable")
        assert body["checks"]["database"]["ok"] is False
        assert "shieldwall db upgrade" in body["detail"]


# ---- request ids ----------------------------------------------------------------------------


class TestRequestId:
    @pytest.mark.parametrize(
        "incoming", ["abcdefgh", "req-2024.01_ok", "A" * 64, "0123456789abcdef"]
    )
    def test_safe_caller_id_is_echoed(self, client: TestClient, incoming: str) -> None:
        response = client.get("/v1/users", headers={"X-Request-ID": incoming})
        body = assert_problem(response, 401, "authentication-required")
        assert body["request_id"] == incoming

    def test_safe_caller_id_is_echoed_on_success(self, client: TestClient) -> None:
        response = client.get("/healthz", headers={"X-Request-ID": "health-check-42"})
        assert response.status_code == 200
        assert response.headers["x-request-id"] == "health-check-42"

    @pytest.mark.parametrize(
        "incoming",
        [
            "has spaces in it",
            "a" * 200,
            "A" * 65,
            "short",
            "semi;colon-id",
            "<script>xx",
            "line/slash/id",
            "",
        ],
        ids=[
            "spaces",
            "200-chars",
            "65-chars",
            "too-short",
            "semicolon",
            "markup",
            "slash",
            "empty",
        ],
    )
    def test_unsafe_caller_id_is_replaced(self, client: TestClient, incoming: str) -> None:
        response = client.get("/v1/users", headers={"X-Request-ID": incoming})
        body = assert_problem(response, 401, "authentication-required")
        assert body["request_id"] != incoming
        assert GENERATED_ID.match(body["request_id"])
        assert incoming not in response.headers.get_list("x-request-id")

    def test_every_request_gets_its_own_id(self, client: TestClient) -> None:
        ids = {client.get("/healthz").headers["x-request-id"] for _ in range(5)}
        assert len(ids) == 5
        assert all(GENERATED_ID.match(i) for i in ids)

    def test_exactly_one_request_id_header(self, client: TestClient) -> None:
        response = client.get("/v1/nope", headers={"X-Request-ID": "one-and-only"})
        assert response.headers.get_list("x-request-id") == ["one-and-only"]


# ---- the type URIs are documented -----------------------------------------------------------


@pytest.mark.parametrize(
    "slug",
    [
        "malformed-json",
        "invalid-input",
        "authentication-required",
        "permission-denied",
        "not-found",
        "method-not-allowed",
        "conflict",
        "payload-too-large",
        "internal",
        "service-unavailable",
    ],
)
def test_problem_type_uri_resolves(client: TestClient, slug: str) -> None:
    response = client.get(f"/problems/{slug}")
    assert response.status_code == 200
    assert response.json()["type"] == f"/problems/{slug}"
    assert response.json()["title"]


def test_unknown_problem_type_is_itself_a_problem(client: TestClient) -> None:
    body = assert_problem(client.get("/problems/made-up"), 404, "not-found")
    assert "made-up" in body["detail"]
