"""The pages themselves: who may open what, the people and API-key forms, home, headers, docs."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, or_, select

import shieldwall.web
from shieldwall.apikeys.models import ApiKey
from shieldwall.apikeys.schemas import KeyKind
from shieldwall.audit import service as audit
from shieldwall.audit.models import Event
from shieldwall.core.access import Role, Scope
from shieldwall.core.principles import PRINCIPLES
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from shieldwall.users.models import User
from tests.conftest import PASSWORD, SYSTEM, KeyFactory, auth, make_user
from tests.web.conftest import ClientFactory, LoginAs, SqlScalar
from tests.web.html_forms import counts, login, parse, submit

PAGES = ["/", "/admin/users", "/admin/api-keys", "/events"]
WEB_DIR = Path(shieldwall.web.__file__).parent


# ---- who may open what ----------------------------------------------------------------------


@pytest.mark.parametrize("path", [*PAGES, "/events?kind=user.created"])
def test_pages_send_strangers_to_the_login_page(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    location = urlsplit(response.headers["location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [path]


@pytest.mark.usefixtures("admin")
def test_after_login_the_person_lands_where_they_were_going(client: TestClient) -> None:
    target = client.get("/events?kind=user.created", follow_redirects=False).headers["location"]
    next_path = parse_qs(urlsplit(target).query)["next"][0]
    response = login(client, "root", PASSWORD, next_path=next_path)
    assert response.headers["location"] == "/events?kind=user.created"


@pytest.mark.usefixtures("admin")
def test_reviewer_sees_home_but_not_admin_pages_or_events(db: Database, login_as: LoginAs) -> None:
    make_user(db, "rita", Role.REVIEWER)
    c = login_as("rita", PASSWORD)
    home = c.get("/")
    assert home.status_code == 200
    assert "rita · reviewer" in home.text
    nav = {a.get("href") for tag, a in parse(home.text).tags if tag == "a"}
    assert "/admin/users" not in nav
    assert "/admin/api-keys" not in nav
    assert "/events" not in nav
    for path in ("/admin/users", "/admin/api-keys", "/events"):
        response = c.get(path, follow_redirects=False)
        assert response.status_code == 403, path
        assert "Not allowed" in response.text
        assert "reviewer" in response.text


@pytest.mark.usefixtures("admin")
def test_analyst_sees_events_but_not_admin_pages(db: Database, login_as: LoginAs) -> None:
    make_user(db, "ana", Role.ANALYST)
    c = login_as("ana", PASSWORD)
    events = c.get("/events")
    assert events.status_code == 200
    assert "user.created" in events.text
    home = c.get("/")
    nav = {a.get("href") for tag, a in parse(home.text).tags if tag == "a"}
    assert "/events" in nav
    assert "/admin/users" not in nav
    for path in ("/admin/users", "/admin/api-keys"):
        assert c.get(path, follow_redirects=False).status_code == 403, path


# ---- people ---------------------------------------------------------------------------------


def test_admin_adds_a_person_who_can_then_log_in(
    admin: User, login_as: LoginAs, new_client: ClientFactory, sql: SqlScalar
) -> None:
    c = login_as("root", PASSWORD)
    form = parse(c.get("/admin/users").text).form_to("/admin/users")
    response = submit(
        c,
        form,
        username="Bob",
        display_name="Bob B",
        password="bobs long password",
        role="reviewer",
    )
    assert response.status_code == 201, response.text
    assert "Created bob (reviewer)." in response.text
    assert 'data-username="bob"' in response.text
    bob_id = sql("SELECT id FROM users WHERE username = 'bob'")
    assert sql("SELECT role FROM users WHERE id = :i", i=bob_id) == "reviewer"
    created = sql(
        "SELECT actor FROM events WHERE kind = 'user.created' AND subject = :s",
        s=f"user:{bob_id}",
    )
    assert created == f"user:{admin.id}"

    bob = new_client()
    assert login(bob, "bob", "bobs long password").status_code == 303
    assert "bob · reviewer" in bob.get("/").text


@pytest.mark.usefixtures("admin")
def test_admin_changes_a_role_and_it_applies_to_a_live_session(
    db: Database, login_as: LoginAs, sql: SqlScalar
) -> None:
    carol = make_user(db, "carol", Role.REVIEWER)
    carol_client = login_as("carol", PASSWORD)
    assert carol_client.get("/events", follow_redirects=False).status_code == 403

    c = login_as("root", PASSWORD)
    form = parse(c.get("/admin/users").text).form_to(f"/admin/users/{carol.id}", action="role")
    assert form.fields["role"] == "reviewer"  # the current role is the one selected
    response = submit(c, form, role="analyst")
    assert response.status_code == 200
    assert "Updated carol." in response.text
    assert sql("SELECT role FROM users WHERE id = :i", i=carol.id) == "analyst"
    assert carol_client.get("/events", follow_redirects=False).status_code == 200


@pytest.mark.usefixtures("admin")
def test_admin_deactivates_a_person_and_their_session_ends(
    db: Database, login_as: LoginAs, new_client: ClientFactory, sql: SqlScalar
) -> None:
    dave = make_user(db, "dave", Role.ANALYST)
    dave_client = login_as("dave", PASSWORD)
    c = login_as("root", PASSWORD)
    form = parse(c.get("/admin/users").text).form_to(f"/admin/users/{dave.id}", action="deactivate")
    response = submit(c, form)
    assert response.status_code == 200
    row = parse(response.text)
    assert row.form_to(f"/admin/users/{dave.id}", action="activate")
    assert sql("SELECT count(*) FROM web_sessions WHERE user_id = :u", u=dave.id) == 0
    assert dave_client.get("/", follow_redirects=False).status_code == 303
    assert login(new_client(), "dave", PASSWORD).status_code == 401


@pytest.mark.usefixtures("admin")
@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"username": "eve", "password": "short"}, "password"),
        ({"username": "root", "password": "a long enough password"}, "already exists"),
        ({"username": "not ok!", "password": "a long enough password"}, "username"),
        ({"username": "frank", "password": "a long enough password", "role": "owner"}, "role"),
    ],
    ids=["short-password", "duplicate", "bad-username", "unknown-role"],
)
def test_a_bad_person_form_shows_an_error_and_writes_nothing(
    login_as: LoginAs, sql: SqlScalar, fields: dict[str, str], message: str
) -> None:
    c = login_as("root", PASSWORD)
    users_before = sql("SELECT count(*) FROM users")
    events_before = sql("SELECT count(*) FROM events")
    form = parse(c.get("/admin/users").text).form_to("/admin/users")
    response = submit(c, form, **fields)
    assert response.status_code == 422
    page = parse(response.text)
    error = [a for tag, a in page.tags if a.get("role") == "alert"]
    assert error, "no error shown"
    assert message in response.text
    assert page.form_to("/admin/users")  # the form is there to try again
    assert sql("SELECT count(*) FROM users") == users_before
    assert sql("SELECT count(*) FROM events") == events_before


@pytest.mark.usefixtures("admin")
def test_the_last_admin_cannot_be_deactivated_from_the_page(
    admin: User, login_as: LoginAs, sql: SqlScalar
) -> None:
    c = login_as("root", PASSWORD)
    form = parse(c.get("/admin/users").text).form_to(
        f"/admin/users/{admin.id}", action="deactivate"
    )
    response = submit(c, form)
    assert response.status_code == 422
    assert "last active admin" in response.text
    assert sql("SELECT is_active FROM users WHERE id = :i", i=admin.id) in (1, True)


# ---- API keys -------------------------------------------------------------------------------


def test_integration_key_is_shown_once_works_and_dies_when_revoked(
    admin: User, login_as: LoginAs, new_client: ClientFactory, sql: SqlScalar
) -> None:
    c = login_as("root", PASSWORD)
    form = parse(c.get("/admin/api-keys").text).form_to("/admin/api-keys")
    response = submit(
        c, form, name="upload-service", kind="integration", scopes=["scan"], owner_id=""
    )
    if response.status_code == 303:  # Post/Redirect/Get: the key is on the page it leads to
        response = c.get(response.headers["location"])
    assert response.status_code in (200, 201), response.text
    key = parse(response.text).text_of("new-key")
    assert re.fullmatch(r"sw_[a-z2-7]{10}_[A-Za-z0-9_-]{40,}", key), key
    prefix = key.split("_")[1]

    stored = sql("SELECT secret_hash FROM api_keys WHERE prefix = :p", p=prefix)
    assert stored == hashlib.sha256(key.encode()).hexdigest()

    api = new_client()
    me = api.get("/v1/me", headers=auth(key))
    assert me.status_code == 200, me.text
    assert me.json()["scopes"] == ["scan"]
    assert me.json()["kind"] == "apikey"

    again = c.get("/admin/api-keys")
    assert again.status_code == 200
    assert "new-key" not in again.text
    assert key not in again.text
    assert key.split("_", 2)[2] not in again.text
    assert f'data-prefix="{prefix}"' in again.text

    key_id = sql("SELECT id FROM api_keys WHERE prefix = :p", p=prefix)
    revoke = parse(again.text).form_to(f"/admin/api-keys/{key_id}/revoke")
    response = submit(c, revoke)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/api-keys"
    assert sql("SELECT revoked_by_id FROM api_keys WHERE id = :i", i=key_id) == admin.id
    assert api.get("/v1/me", headers=auth(key)).status_code == 401
    listing = c.get("/admin/api-keys").text
    assert not parse(listing).forms_to(f"/admin/api-keys/{key_id}/revoke")
    assert "revoked" in listing


@pytest.mark.usefixtures("admin")
def test_integration_key_cannot_hold_a_reviewer_scope(login_as: LoginAs, sql: SqlScalar) -> None:
    c = login_as("root", PASSWORD)
    events = sql("SELECT count(*) FROM events")
    form = parse(c.get("/admin/api-keys").text).form_to("/admin/api-keys")
    response = submit(
        c, form, name="too-much", kind="integration", scopes=["scan", "cases:read"], owner_id=""
    )
    assert response.status_code == 422
    assert "integration keys may hold only" in response.text
    assert "new-key" not in response.text
    assert sql("SELECT count(*) FROM api_keys") == 0
    assert sql("SELECT count(*) FROM events") == events


# ---- home -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("admin")
def test_home_lists_the_eleven_principles(login_as: LoginAs) -> None:
    page = login_as("root", PASSWORD).get("/")
    items = [a for tag, a in parse(page.text).tags if tag == "li" and "value" in a]
    assert [int(a["value"]) for a in items] == list(range(1, 12))
    assert len(PRINCIPLES) == 11
    for p in PRINCIPLES:
        assert p.short_name in page.text


def _expected_counts(db: Database) -> dict[str, int]:
    now = utcnow()
    with db.session() as s:
        return {
            "users_active": s.scalar(
                select(func.count()).select_from(User).where(User.is_active.is_(True))
            ),
            "api_keys_active": s.scalar(
                select(func.count())
                .select_from(ApiKey)
                .where(
                    ApiKey.revoked_at.is_(None),
                    or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > now),
                )
            ),
            "events_total": s.scalar(select(func.count()).select_from(Event)),
            "events_24h": s.scalar(
                select(func.count())
                .select_from(Event)
                .where(Event.occurred_at >= now - timedelta(days=1))
            ),
        }


@pytest.mark.usefixtures("admin")
def test_home_counts_come_from_the_database_and_move(
    login_as: LoginAs, make_key: KeyFactory, db: Database, sql: SqlScalar
) -> None:
    c = login_as("root", PASSWORD)
    first = counts(c.get("/").text)
    assert first == _expected_counts(db)
    assert first["events_total"] == sql("SELECT count(*) FROM events")
    assert first["users_active"] == 1
    assert first["events_total"] >= 2  # user.created, auth.login_succeeded

    make_key([Scope.SCAN], kind=KeyKind.INTEGRATION)
    second = counts(c.get("/").text)
    assert second == _expected_counts(db)
    assert second["events_total"] == sql("SELECT count(*) FROM events")
    assert second["events_total"] == first["events_total"] + 1
    assert second["api_keys_active"] == first["api_keys_active"] + 1


@pytest.mark.usefixtures("admin")
def test_home_does_not_count_expired_keys_as_active(
    login_as: LoginAs, make_key: KeyFactory, db: Database, sql: SqlScalar
) -> None:
    make_key([Scope.SCAN], kind=KeyKind.INTEGRATION, name="still good")
    expired = make_key([Scope.SCAN], kind=KeyKind.INTEGRATION, name="expired")
    with db.session() as s:  # time passes: the key's expiry is now behind us
        key = s.scalars(select(ApiKey).where(ApiKey.prefix == expired.split("_")[1])).one()
        key.expires_at = utcnow() - timedelta(minutes=1)
    c = login_as("root", PASSWORD)
    listing = c.get("/admin/api-keys").text
    shown_active = len(re.findall(r"<td>active</td>", listing))
    assert shown_active == 1
    assert "<td>expired</td>" in listing
    assert counts(c.get("/").text)["api_keys_active"] == shown_active


def test_home_shows_the_empty_state_on_a_fresh_install(
    client: TestClient, db: Database, sql: SqlScalar
) -> None:
    # The most a fresh install can have: its first admin, who logs in. Both steps are events
    # (user.created, auth.login_succeeded), so "no events in the log" can never be seen by
    # anyone logged in. Overview.is_empty says "nothing has happened yet beyond setting up
    # people and keys", and that is what this test holds it to.
    make_user(db, "first", Role.ADMIN)
    assert login(client, "first", PASSWORD).status_code == 303
    with db.session() as s:
        kinds = set(s.scalars(select(Event.kind)))
    assert kinds == {"user.created", "auth.login_succeeded"}
    page = parse(client.get("/").text)
    assert "empty-state" in page.testids, "a fresh install never shows its empty state"


@pytest.mark.usefixtures("admin")
def test_home_hides_the_empty_state_once_something_has_happened(
    login_as: LoginAs, db: Database
) -> None:
    with db.session() as s:
        audit.record(s, "scan.completed", actor=SYSTEM, subject="media:1", principles=[1])
    page = parse(login_as("root", PASSWORD).get("/").text)
    assert "empty-state" not in page.testids


# ---- headers, docs, no CDN ------------------------------------------------------------------


def _assert_html_security_headers(response_headers: dict[str, str], *, csp: bool = True) -> None:
    assert response_headers.get("x-content-type-options") == "nosniff"
    assert response_headers.get("x-frame-options") == "DENY"
    if csp:
        policy = response_headers.get("content-security-policy", "")
        assert "default-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert "script-src 'self'" in policy
        assert "form-action 'self'" in policy
        assert "unsafe-inline" not in policy


@pytest.mark.usefixtures("admin")
def test_html_pages_send_security_headers(
    client: TestClient, db: Database, login_as: LoginAs
) -> None:
    _assert_html_security_headers(dict(client.get("/login").headers))
    c = login_as("root", PASSWORD)
    for path in PAGES:
        response = c.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        _assert_html_security_headers(dict(response.headers))
    make_user(db, "rita", Role.REVIEWER)
    refused = login_as("rita", PASSWORD).get("/admin/users")
    assert refused.status_code == 403
    _assert_html_security_headers(dict(refused.headers))


def _urls_in(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)


def test_docs_serve_swagger_from_the_package_not_a_cdn(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers.get("x-frame-options") == "DENY"
    urls = _urls_in(response.text)
    external = [u for u in urls if re.match(r"^(https?:)?//", u)]
    assert not external, f"/docs loads from outside: {external}"
    scripts = [u for u in urls if u.endswith(".js")]
    styles = [u for u in urls if u.endswith(".css")]
    assert scripts
    assert styles
    for url in scripts + styles:
        assert url.startswith("/docs-static/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url


def test_docs_static_assets_load(client: TestClient) -> None:
    js = client.get("/docs-static/swagger-ui-bundle.js")
    css = client.get("/docs-static/swagger-ui.css")
    assert js.status_code == 200
    assert "javascript" in js.headers["content-type"]
    assert "SwaggerUIBundle" in js.text
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert client.get("/openapi.json").status_code == 200


def test_no_template_or_stylesheet_loads_anything_from_outside() -> None:
    offenders = []
    for path in sorted((WEB_DIR / "templates").rglob("*.html")):
        text = path.read_text()
        for attr, url in re.findall(r"""\b(src|href|action)\s*=\s*["']\s*([^"']*)["']""", text):
            if re.match(r"^(https?:)?//", url):
                offenders.append(f"{path.name}: {attr}={url}")
        for url in re.findall(r"https?://[^\s\"'<>]+", text):
            offenders.append(f"{path.name}: {url}")
    for path in sorted((WEB_DIR / "static").rglob("*.css")):
        for url in re.findall(
            r"""(?:url\(|@import)\s*["']?((?:https?:)?//[^"')\s]+)""", path.read_text()
        ):
            offenders.append(f"{path.name}: {url}")
    assert not offenders, offenders
    assert list((WEB_DIR / "templates").glob("*.html")), "no templates found"
