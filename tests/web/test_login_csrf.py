"""Login, logout and CSRF on the web pages, driven through the real forms."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from http.cookies import SimpleCookie

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from httpx import Response
from starlette.routing import BaseRoute, Mount

from shieldwall.apikeys.schemas import KeyKind
from shieldwall.core.access import Role, Scope
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from shieldwall.users.models import User
from shieldwall.web.security import CSRF_COOKIE, SESSION_COOKIE
from tests.conftest import PASSWORD, KeyFactory, make_user
from tests.web.conftest import ClientFactory, LoginAs, SqlScalar
from tests.web.html_forms import login, parse, submit

WRONG = "Wrong username or password."
LOCKED = "Too many failed attempts"


def set_cookie_headers(response: Response) -> dict[str, str]:
    """``{cookie name: the whole Set-Cookie header}``."""
    out = {}
    for header in response.headers.get_list("set-cookie"):
        out[header.split("=", 1)[0]] = header
    return out


def cookie_attributes(header: str) -> tuple[str, dict[str, str]]:
    jar: SimpleCookie = SimpleCookie()
    jar.load(header)
    (morsel,) = jar.values()
    attrs = {k: str(v) for k, v in morsel.items() if v not in ("", False)}
    return morsel.value, attrs


def login_events(sql: SqlScalar) -> int:
    return int(sql("SELECT count(*) FROM events WHERE kind LIKE 'auth.login%'"))


def all_events(sql: SqlScalar) -> int:
    return int(sql("SELECT count(*) FROM events"))


# ---- the login page and its CSRF cookie ---------------------------------------------------


def test_login_page_sets_strict_httponly_csrf_cookie_and_form_token(client: TestClient) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    cookies = set_cookie_headers(response)
    assert SESSION_COOKIE not in cookies
    value, attrs = cookie_attributes(cookies[CSRF_COOKIE])
    assert len(value) >= 32
    assert "httponly" in attrs
    assert "secure" in attrs
    assert attrs["samesite"].lower() == "strict"
    assert attrs["path"] == "/"
    form = parse(response.text).form_to("/login")
    token = form.hidden("csrf_token")
    assert token
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    assert token != value  # the form carries an HMAC, not the cookie itself


@pytest.mark.usefixtures("admin")
def test_login_without_token_is_refused_and_writes_nothing(
    client: TestClient, sql: SqlScalar
) -> None:
    client.get("/login")
    before = all_events(sql)
    response = client.post(
        "/login",
        data={"username": "root", "password": PASSWORD, "next": "/"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "Not allowed" in response.text
    assert SESSION_COOKIE not in set_cookie_headers(response)
    assert SESSION_COOKIE not in client.cookies
    assert login_events(sql) == 0
    assert all_events(sql) == before
    assert sql("SELECT count(*) FROM web_sessions") == 0


@pytest.mark.usefixtures("admin")
def test_login_without_csrf_cookie_is_refused(client: TestClient, sql: SqlScalar) -> None:
    token = parse(client.get("/login").text).form_to("/login").hidden("csrf_token")
    client.cookies.clear()
    response = client.post(
        "/login",
        data={"csrf_token": token, "username": "root", "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert login_events(sql) == 0


@pytest.mark.usefixtures("admin")
def test_token_from_another_sessions_page_is_refused(
    client: TestClient, new_client: ClientFactory, sql: SqlScalar
) -> None:
    client.get("/login")
    other = new_client()
    foreign_token = parse(other.get("/login").text).form_to("/login").hidden("csrf_token")
    assert foreign_token
    response = client.post(
        "/login",
        data={"csrf_token": foreign_token, "username": "root", "password": PASSWORD},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in set_cookie_headers(response)
    assert login_events(sql) == 0


@pytest.mark.usefixtures("admin")
@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "https://testserver.evil.example"},
        {"Origin": "https://testserver:8443"},
        {"Origin": "null"},
        {"Referer": "https://evil.example/page"},
        # addresses urlsplit cannot read count as foreign too (they were a 500)
        {"Origin": "http://[::1"},
        {"Origin": "http://[zz]/"},
        {"Referer": "http://[::1"},
        {"Referer": "http://[zz]/"},
    ],
    ids=[
        "foreign-origin",
        "lookalike-origin",
        "other-port",
        "null-origin",
        "foreign-referer",
        "unclosed-origin",
        "bad-ip-origin",
        "unclosed-referer",
        "bad-ip-referer",
    ],
)
def test_foreign_origin_is_refused_even_with_a_valid_token(
    client: TestClient, sql: SqlScalar, headers: dict[str, str]
) -> None:
    form = parse(client.get("/login").text).form_to("/login")
    response = client.post(
        "/login",
        data={**form.fields, "username": "root", "password": PASSWORD},
        headers=headers,
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert SESSION_COOKIE not in set_cookie_headers(response)
    assert login_events(sql) == 0


@pytest.mark.usefixtures("admin")
def test_same_origin_header_is_accepted(client: TestClient) -> None:
    form = parse(client.get("/login").text).form_to("/login")
    response = client.post(
        "/login",
        data={**form.fields, "username": "root", "password": PASSWORD},
        headers={"Origin": "https://testserver"},
        follow_redirects=False,
    )
    assert response.status_code == 303


# ---- a good login ---------------------------------------------------------------------------


def test_login_redirects_to_next_with_a_hashed_server_side_session(
    client: TestClient, admin: User, db: Database
) -> None:
    response = login(client, "root", PASSWORD, next_path="/events?kind=user.created")
    assert response.status_code == 303
    assert response.headers["location"] == "/events?kind=user.created"
    cookies = set_cookie_headers(response)
    token, attrs = cookie_attributes(cookies[SESSION_COOKIE])
    assert "httponly" in attrs
    assert "secure" in attrs
    assert attrs["samesite"].lower() == "lax"
    assert int(attrs["max-age"]) > 0
    # the csrf cookie is replaced at login, so a token seen before login is worthless after it
    assert CSRF_COOKIE in cookies

    with db.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT * FROM web_sessions").mappings().all()
    assert len(rows) == 1
    row = rows[0]
    assert row["user_id"] == admin.id
    assert row["token_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert all(token not in str(v) for v in row.values())

    page = client.get("/events?kind=user.created")
    assert page.status_code == 200
    assert "root · admin" in page.text


@pytest.mark.usefixtures("admin")
def test_login_page_form_carries_next_from_the_query(client: TestClient) -> None:
    form = parse(client.get("/login?next=/admin/users").text).form_to("/login")
    assert form.hidden("next") == "/admin/users"


@pytest.mark.usefixtures("admin")
@pytest.mark.parametrize(
    "next_path",
    [
        "//evil.example",
        "https://evil.example",
        "http://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "evil.example",
        "javascript:alert(1)",
        "",
    ],
)
def test_next_never_leaves_the_site(client: TestClient, next_path: str) -> None:
    response = login(client, "root", PASSWORD, next_path=next_path)
    assert response.status_code == 303
    assert response.headers["location"] == "/"


@pytest.mark.usefixtures("admin")
@pytest.mark.parametrize("next_path", ["/\t/evil.example", "/\n/evil.example", "/ /evil.example"])
def test_next_with_whitespace_cannot_become_protocol_relative(
    client: TestClient, next_path: str
) -> None:
    # Browsers drop tabs and newlines from a Location before resolving it; the header sent
    # must not turn into //evil.example after that.
    response = login(client, "root", PASSWORD, next_path=next_path)
    assert response.status_code == 303
    location = response.headers["location"]
    browser_sees = re.sub(r"[\t\n\r]", "", location)
    assert not browser_sees.startswith("//")
    assert not re.match(r"^/\s*/", browser_sees)


# ---- failed logins and lock-out -------------------------------------------------------------


@pytest.mark.usefixtures("admin")
def test_wrong_password_and_unknown_user_get_the_same_answer(
    client: TestClient, sql: SqlScalar
) -> None:
    wrong = login(client, "root", "not the password at all")
    unknown = login(client, "nobody", PASSWORD)
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert WRONG in response.text
        assert SESSION_COOKIE not in set_cookie_headers(response)
    assert sql("SELECT count(*) FROM events WHERE kind = 'auth.login_failed'") == 2
    assert sql("SELECT count(*) FROM web_sessions") == 0


def test_three_failures_lock_the_account_until_an_admin_unlocks_it(
    client: TestClient, admin: User, db: Database, login_as: LoginAs, sql: SqlScalar
) -> None:
    alice = make_user(db, "alice", Role.REVIEWER)
    assert login(client, "alice", "wrong password 1").status_code == 401
    assert login(client, "alice", "wrong password 2").status_code == 401
    third = login(client, "alice", "wrong password 3")
    assert third.status_code == 423
    assert LOCKED in third.text
    locked_events = sql(
        "SELECT count(*) FROM events WHERE kind = 'user.locked' AND subject = :s",
        s=f"user:{alice.id}",
    )
    assert locked_events == 1

    right = login(client, "alice", PASSWORD)
    assert right.status_code == 423
    assert LOCKED in right.text
    assert SESSION_COOKIE not in set_cookie_headers(right)

    admin_client = login_as("root", PASSWORD)
    page = parse(admin_client.get("/admin/users").text)
    unlock = page.form_to(f"/admin/users/{alice.id}", action="unlock")
    response = submit(admin_client, unlock)
    assert response.status_code == 200, response.text
    assert "Updated alice." in response.text
    # the unlock form is gone once the account is unlocked
    assert not [
        f
        for f in parse(response.text).forms_to(f"/admin/users/{alice.id}")
        if f.hidden("action") == "unlock"
    ]

    again = login(client, "alice", PASSWORD)
    assert again.status_code == 303
    assert client.get("/").status_code == 200


def test_deactivated_user_cannot_log_in(
    client: TestClient, admin: User, db: Database, login_as: LoginAs
) -> None:
    bob = make_user(db, "bob", Role.ANALYST)
    admin_client = login_as("root", PASSWORD)
    form = parse(admin_client.get("/admin/users").text).form_to(
        f"/admin/users/{bob.id}", action="deactivate"
    )
    assert submit(admin_client, form).status_code == 200
    response = login(client, "bob", PASSWORD)
    assert response.status_code == 401
    assert WRONG in response.text  # same words: no hint that the account exists
    assert SESSION_COOKIE not in set_cookie_headers(response)


# ---- logout ---------------------------------------------------------------------------------


def test_logout_deletes_the_session_and_the_old_cookie_stops_working(
    admin: User, login_as: LoginAs, new_client: ClientFactory, sql: SqlScalar
) -> None:
    c = login_as("root", PASSWORD)
    old_cookie = c.cookies[SESSION_COOKIE]
    assert sql("SELECT count(*) FROM web_sessions WHERE user_id = :u", u=admin.id) == 1
    form = parse(c.get("/").text).form_to("/logout")
    response = submit(c, form)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert sql("SELECT count(*) FROM web_sessions WHERE user_id = :u", u=admin.id) == 0
    assert sql("SELECT count(*) FROM events WHERE kind = 'auth.logged_out'") == 1

    # the browser is told to forget the cookie ...
    assert c.get("/", follow_redirects=False).status_code == 303
    # ... and a copy of it kept elsewhere is worthless
    thief = new_client()
    thief.cookies.set(SESSION_COOKIE, old_cookie, domain="testserver")
    stolen = thief.get("/", follow_redirects=False)
    assert stolen.status_code == 303
    assert stolen.headers["location"].startswith("/login")


@pytest.mark.usefixtures("admin")
def test_logout_without_token_is_refused_and_the_session_survives(
    login_as: LoginAs, sql: SqlScalar
) -> None:
    c = login_as("root", PASSWORD)
    response = c.post("/logout", data={}, follow_redirects=False)
    assert response.status_code == 403
    assert sql("SELECT count(*) FROM web_sessions") == 1
    assert sql("SELECT count(*) FROM events WHERE kind = 'auth.logged_out'") == 0
    assert c.get("/", follow_redirects=False).status_code == 200


@pytest.mark.usefixtures("admin")
def test_a_token_seen_before_login_is_worthless_after_it(client: TestClient) -> None:
    before = parse(client.get("/login").text).form_to("/login").hidden("csrf_token")
    assert login(client, "root", PASSWORD).status_code == 303
    response = client.post("/logout", data={"csrf_token": before}, follow_redirects=False)
    assert response.status_code == 403
    assert client.get("/", follow_redirects=False).status_code == 200


# ---- every form, every POST route -----------------------------------------------------------


@pytest.mark.usefixtures("admin")
def test_every_post_form_on_every_page_carries_a_valid_csrf_token(
    login_as: LoginAs, make_key: KeyFactory, db: Database
) -> None:
    make_key([Scope.SCAN], kind=KeyKind.INTEGRATION)  # so the keys page has a revoke form
    locked = make_user(db, "locked", Role.REVIEWER)
    with db.session() as s:  # so the people page has an unlock form
        s.get(User, locked.id).locked_until = _in_an_hour()  # type: ignore[union-attr]
    c = login_as("root", PASSWORD)
    seen: set[str] = set()
    for path in ("/", "/admin/users", "/admin/api-keys", "/events"):
        response = c.get(path)
        assert response.status_code == 200, path
        forms = parse(response.text).forms
        assert forms, f"{path} has no forms at all"
        for form in forms:
            if form.method == "post":
                token = form.hidden("csrf_token")
                assert token, f"a POST form to {form.action} on {path} has no csrf_token"
                assert re.fullmatch(r"[0-9a-f]{64}", token)
                seen.add(re.sub(r"/\d+", "/{id}", form.action))
            else:
                # a GET form would put the token into URLs, logs and Referer headers
                assert form.hidden("csrf_token") is None, f"GET form {form.action} on {path}"
    assert {
        "/logout",
        "/admin/users",
        "/admin/users/{id}",
        "/admin/api-keys",
        "/admin/api-keys/{id}/revoke",
    } <= seen

    # and the tokens on the page are the ones the server accepts: logging out works
    logout = parse(c.get("/").text).form_to("/logout")
    assert submit(c, logout).status_code == 303


def _in_an_hour() -> datetime:
    return utcnow() + timedelta(hours=1)


def _walk(routes: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, set[str]]]:
    """(path, methods) of every route, descending into included routers.

    Older FastAPI copies included routes into ``app.routes``; newer FastAPI keeps an
    ``_IncludedRouter`` wrapper there that holds the ``original_router``.
    """
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            context = getattr(route, "include_context", None)
            yield from _walk(inner.routes, prefix + str(getattr(context, "prefix", "") or ""))
            continue
        methods = getattr(route, "methods", None)
        path = getattr(route, "path", None)
        if methods and path is not None and not isinstance(route, Mount):
            yield prefix + path, set(methods)


#: API routes outside /v1: HMA-compatible endpoints, authenticated by API key (no cookies,
#: so no CSRF exposure); tests/matching/test_hma.py covers them.
API_PREFIXES = ("/v1", "/h/", "/m/", "/c/")


def web_post_routes(app: FastAPI) -> list[str]:
    return sorted(
        {
            path
            for path, methods in _walk(app.routes)
            if "POST" in methods and not path.startswith(API_PREFIXES)
        }
    )


def test_every_web_post_route_rejects_a_missing_token(
    app: FastAPI, admin: User, make_key: KeyFactory, login_as: LoginAs, sql: SqlScalar
) -> None:
    make_key([Scope.SCAN], kind=KeyKind.INTEGRATION)
    routes = web_post_routes(app)
    assert {
        "/login",
        "/logout",
        "/admin/users",
        "/admin/users/{user_id}",
        "/admin/api-keys",
        "/admin/api-keys/{key_id}/revoke",
        "/scan",
        "/banks",
    } <= set(routes), routes
    c = login_as("root", PASSWORD)  # an admin, so a 403 can only come from the CSRF check
    events = int(sql("SELECT count(*) FROM events"))
    plausible = {
        "username": "mallory",
        "password": "a long enough password",
        "role": "admin",
        "action": "deactivate",
        "name": "stolen",
        "kind": "integration",
        "scopes": "scan",
    }
    for path in routes:
        url = re.sub(r"\{[^}]+\}", "1", path)
        response = c.post(url, data=plausible, follow_redirects=False)
        assert response.status_code == 403, (path, response.status_code, response.text[:300])
        # and an empty token is no better than none
        response = c.post(url, data={**plausible, "csrf_token": ""}, follow_redirects=False)
        assert response.status_code == 403, path
    assert sql("SELECT count(*) FROM events") == events
    assert sql("SELECT count(*) FROM users WHERE username = 'mallory'") == 0
    assert sql("SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL") == 0
    assert sql("SELECT count(*) FROM users WHERE is_active = :t", t=True) == 1
    assert c.get("/", follow_redirects=False).status_code == 200  # still logged in
