"""The API over real HTTP: uvicorn on a loopback port, httpx as the caller."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from shieldwall.core.access import Scope
from shieldwall.users.models import User
from tests.api.problem_check import GENERATED_ID, assert_problem
from tests.conftest import PASSWORD, KeyFactory, LiveServer, auth

LIMIT = 64 * 1024


def user_count(server: LiveServer) -> int:
    with server.db.session() as session:
        return int(session.scalar(select(func.count()).select_from(User)) or 0)


def oversized_user(extra: int = 1) -> bytes:
    head, tail = b'{"username":"huge","role":"analyst","password":"', b'"}'
    return head + b"x" * (LIMIT + extra - len(head) - len(tail)) + tail


def test_me_over_http(live_server: LiveServer, make_key: KeyFactory) -> None:
    key = make_key([Scope.EVENTS_READ, Scope.REPORTS_READ], name="live")
    response = httpx.get(f"{live_server.url}/v1/me", headers=auth(key), timeout=10)
    assert response.status_code == 200
    me = response.json()
    assert me["name"] == "live"
    assert me["scopes"] == ["events:read", "reports:read"]
    assert GENERATED_ID.match(response.headers["x-request-id"])


def test_request_id_over_http(live_server: LiveServer, make_key: KeyFactory) -> None:
    key = make_key([Scope.SCAN])
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        echoed = client.get("/v1/me", headers={**auth(key), "X-Request-ID": "live-call-0001"})
        assert echoed.headers["x-request-id"] == "live-call-0001"
        replaced = client.get("/v1/me", headers={**auth(key), "X-Request-ID": "no good id"})
        assert GENERATED_ID.match(replaced.headers["x-request-id"])
        refused = client.get("/v1/users", headers={**auth(key), "X-Request-ID": "live-call-0002"})
    body = assert_problem(refused, 403, "permission-denied")
    assert body["request_id"] == "live-call-0002"


def test_problem_over_http_for_unknown_key(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.url}/v1/events", timeout=10,
                         headers=auth("sw_abcdefghij_" + "s" * 43))
    assert_problem(response, 401, "authentication-required")
    assert response.headers["www-authenticate"] == "Bearer"


def test_oversized_body_with_content_length(
    live_server: LiveServer, admin_key: str
) -> None:
    before = user_count(live_server)
    response = httpx.post(
        f"{live_server.url}/v1/users", content=oversized_user(),
        headers={**auth(admin_key), "Content-Type": "application/json"}, timeout=10,
    )
    assert response.request.headers["content-length"] == str(LIMIT + 1)
    body = assert_problem(response, 413, "payload-too-large")
    assert "65,536" in body["detail"]
    assert user_count(live_server) == before


@pytest.mark.parametrize("chunk", [1024, 16 * 1024])
def test_oversized_streamed_body_without_content_length(
    live_server: LiveServer, admin_key: str, chunk: int
) -> None:
    payload = oversized_user(extra=8 * 1024)
    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), chunk):
            yield payload[start:start + chunk]

    before = user_count(live_server)
    response = httpx.post(
        f"{live_server.url}/v1/users", content=chunks(),
        headers={**auth(admin_key), "Content-Type": "application/json"}, timeout=10,
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert_problem(response, 413, "payload-too-large")
    assert user_count(live_server) == before


def test_streamed_body_under_the_limit_is_served(
    live_server: LiveServer, admin_key: str
) -> None:
    payload = json.dumps(
        {"username": "streamer", "password": PASSWORD, "role": "analyst",
         "display_name": "s" * 150}
    ).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 16):
            yield payload[start:start + 16]

    response = httpx.post(
        f"{live_server.url}/v1/users", content=chunks(),
        headers={**auth(admin_key), "Content-Type": "application/json"}, timeout=10,
    )
    assert response.status_code == 201, response.text
    assert response.json()["display_name"] == "s" * 150


def test_server_keeps_serving_after_a_refused_body(
    live_server: LiveServer, admin_key: str
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        refused = client.post("/v1/users", content=oversized_user(),
                              headers={**auth(admin_key), "Content-Type": "application/json"})
        assert refused.status_code == 413
        assert refused.headers.get("connection") == "close"
        assert client.get("/v1/me", headers=auth(admin_key)).status_code == 200
