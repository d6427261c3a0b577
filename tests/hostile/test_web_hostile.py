"""Hostile input through the review pages."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from shieldwall.apikeys import repository as apikeys_repository
from shieldwall.core.access import Role
from shieldwall.db.engine import Database
from tests.conftest import PASSWORD, make_user
from tests.web.conftest import LoginAs, SqlScalar
from tests.web.html_forms import parse, submit

pytestmark = pytest.mark.db


@pytest.mark.parametrize("offset", ["99999999999999999999999", "9223372036854775808"])
def test_queue_page_offset_past_the_database_integers_is_an_empty_page(
    db: Database, login_as: LoginAs, offset: str
) -> None:
    make_user(db, "rita", Role.REVIEWER)
    page = login_as("rita", PASSWORD).get(f"/review?offset={offset}")
    assert page.status_code == 200, page.text[:300]


def test_queue_page_assignee_with_a_nul_byte_says_no_such_user(
    db: Database, login_as: LoginAs
) -> None:
    make_user(db, "rita", Role.REVIEWER)
    page = login_as("rita", PASSWORD).get("/review?assignee=a%00b")
    assert page.status_code == 200, page.text[:300]
    assert "no user named" in page.text


@pytest.mark.parametrize("case_id", ["2147483648", "9223372036854775808"])
@pytest.mark.parametrize(
    "page_of", ["media/1/preview", "media/1/reveal", "media/1/original", "conversation"]
)
def test_pages_of_a_case_id_past_the_case_ids_are_refused(
    db: Database, login_as: LoginAs, case_id: str, page_of: str
) -> None:
    """Refused by the path's bound (422) before any lookup: not a 404 a missing route or
    case would give, nor a database error."""
    make_user(db, "rita", Role.REVIEWER)
    page = login_as("rita", PASSWORD).get(f"/review/cases/{case_id}/{page_of}")
    assert page.status_code == 422, page.text[:300]


# ---- CSRF tokens and Origin headers no browser would send ------------------------------------

FORM = {"content-type": "application/x-www-form-urlencoded"}
STALE = "security token is missing or stale"
FOREIGN = "not sent from a shieldwall page"


def _token(client: TestClient, path: str) -> str:
    token = parse(client.get(path).text).form_to(path).hidden("csrf_token")
    assert token
    return token


@pytest.mark.usefixtures("admin")
@pytest.mark.parametrize("raw", ["%C3%A9", "%ED%A0%80", "%C3%A9" * 32])
def test_a_non_ascii_csrf_token_at_login_is_refused_like_a_wrong_one(
    client: TestClient, sql: SqlScalar, raw: str
) -> None:
    client.get("/login")
    body = f"csrf_token={raw}&username=root&password={PASSWORD}"
    response = client.post("/login", content=body.encode(), headers=FORM)
    assert response.status_code == 403, response.text[:300]
    assert STALE in response.text
    assert sql("SELECT count(*) FROM events WHERE kind LIKE 'auth.login%'") == 0


@pytest.mark.usefixtures("admin")
@pytest.mark.parametrize("raw", ["%C3%A9", "%ED%A0%80"])
def test_a_non_ascii_csrf_token_on_a_logged_in_form_writes_nothing(
    login_as: LoginAs, sql: SqlScalar, raw: str
) -> None:
    c = login_as("root", PASSWORD)
    response = c.post("/banks", content=f"csrf_token={raw}&name=FZ_X".encode(), headers=FORM)
    assert response.status_code == 403, response.text[:300]
    assert STALE in response.text
    assert sql("SELECT count(*) FROM banks WHERE name = 'FZ_X'") == 0


@pytest.mark.usefixtures("admin")
def test_a_csrf_token_sent_as_a_file_is_refused(login_as: LoginAs, sql: SqlScalar) -> None:
    c = login_as("root", PASSWORD)
    token = _token(c, "/banks")
    response = c.post("/banks", data={"name": "FZ_X"}, files={"csrf_token": ("t", token.encode())})
    assert response.status_code == 403, response.text[:300]
    assert sql("SELECT count(*) FROM banks WHERE name = 'FZ_X'") == 0


MALFORMED_ORIGINS = [
    {"Origin": "http://[::1"},
    {"Origin": "http://[zz]/"},
    {"Referer": "http://[::1"},
    {"Referer": "http://[zz]/"},
]


@pytest.mark.usefixtures("admin")
@pytest.mark.parametrize("headers", MALFORMED_ORIGINS)
@pytest.mark.parametrize("path", ["/banks", "/logout"])
def test_a_malformed_origin_on_a_logged_in_form_is_refused(
    login_as: LoginAs, sql: SqlScalar, headers: dict[str, str], path: str
) -> None:
    c = login_as("root", PASSWORD)
    token = _token(c, "/banks")
    response = c.post(
        path,
        data={"csrf_token": token, "name": "FZ_X"},
        headers=headers,
        follow_redirects=False,
    )
    assert response.status_code == 403, response.text[:300]
    assert FOREIGN in response.text
    assert sql("SELECT count(*) FROM banks WHERE name = 'FZ_X'") == 0
    assert c.get("/banks").status_code == 200  # still logged in


# ---- API keys: owner and key ids out of range -----------------------------------------------


@pytest.mark.usefixtures("admin")
@pytest.mark.parametrize(
    "owner_id", ["²", "٣", "1e3", "0x1f", "-1", "0", "9" * 20, str(2**63), str(2**31)]
)
def test_an_api_key_form_with_an_owner_that_is_no_user_id_is_refused(
    login_as: LoginAs, sql: SqlScalar, owner_id: str
) -> None:
    c = login_as("root", PASSWORD)
    form = parse(c.get("/admin/api-keys").text).form_to("/admin/api-keys")
    response = submit(c, form, name="x", kind="personal", scopes=["scan"], owner_id=owner_id)
    assert response.status_code == 422, response.text[:300]
    assert "owner_id" in response.text
    assert sql("SELECT count(*) FROM api_keys") == 0


@pytest.mark.usefixtures("admin")
@pytest.mark.parametrize("key_id", [str(2**31), str(2**63), str(2**64), str(10**30), "0", "-1"])
def test_revoking_an_api_key_id_past_the_column_is_refused(login_as: LoginAs, key_id: str) -> None:
    c = login_as("root", PASSWORD)
    token = _token(c, "/admin/api-keys")
    response = c.post(f"/admin/api-keys/{key_id}/revoke", data={"csrf_token": token})
    assert response.status_code == 422, response.text[:300]


def test_the_api_key_repository_finds_no_key_past_the_column(db: Database) -> None:
    with db.session() as session:
        for key_id in (0, -1, 2**31, 2**63, 10**30):
            assert apikeys_repository.get(session, key_id) is None


# ---- case pages: ids past the column, reveal tokens no page would write ----------------------


@pytest.mark.parametrize("case_id", ["2147483648", "9223372036854775808", str(10**30)])
@pytest.mark.parametrize("action", ["decision", "confirm", "assign", "close"])
def test_case_forms_for_an_id_past_the_column_are_refused(
    db: Database, login_as: LoginAs, case_id: str, action: str
) -> None:
    make_user(db, "rita", Role.REVIEWER)
    c = login_as("rita", PASSWORD)
    token = _token(c, "/review/preferences")
    response = c.post(
        f"/review/cases/{case_id}/{action}",
        data={"csrf_token": token, "outcome": "violating", "label": "A1"},
    )
    assert response.status_code == 422, response.text[:300]


@pytest.mark.parametrize("t", ["%C3%A9", "%ED%A0%80", "%C3%A9" * 20])
@pytest.mark.parametrize("view", ["reveal", "original"])
def test_a_non_ascii_reveal_token_is_refused_like_a_wrong_one(
    db: Database, login_as: LoginAs, t: str, view: str
) -> None:
    make_user(db, "rita", Role.REVIEWER)
    page = login_as("rita", PASSWORD).get(f"/review/cases/1/media/1/{view}?t={t}")
    assert page.status_code == 403, page.text[:300]
    assert "not from your current session" in page.text
