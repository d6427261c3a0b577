"""The web shell in a real Chromium against a real uvicorn (http://127.0.0.1:<port>).

Besides the flows, these prove the cookies work in a browser: the session and csrf cookies
are Secure, and Chromium accepts Secure cookies from http://127.0.0.1 because loopback is a
secure context. If it did not, every login here would fail with the CSRF refusal page.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shieldwall.users.models import User
from shieldwall.web.security import CSRF_COOKIE, SESSION_COOKIE
from tests.conftest import PASSWORD, LiveServer
from tests.web.conftest import ARTIFACTS

pytestmark = pytest.mark.browser

Page = Any  # playwright.sync_api.Page; imported lazily so collection works without it


def log_in(page: Page, username: str, password: str) -> None:
    page.goto("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_load_state()


def who(page: Page) -> str:
    return str(page.inner_text("[data-testid=who]"))


def me(live_server: LiveServer, key: str) -> httpx.Response:
    return httpx.get(
        f"{live_server.url}/v1/me", headers={"Authorization": f"Bearer {key}"}, timeout=10
    )


def test_admin_journey_keys_people_and_roles(
    page: Page, live_server: LiveServer, admin: User
) -> None:
    # -- log in through the real form, with Secure cookies over http://127.0.0.1
    log_in(page, "root", PASSWORD)
    assert page.url == f"{live_server.url}/"
    assert who(page) == "root · admin"
    cookies = {c["name"]: c for c in page.context.cookies()}
    assert cookies[SESSION_COOKIE]["secure"] is True
    assert cookies[SESSION_COOKIE]["httpOnly"] is True
    assert cookies[SESSION_COOKIE]["sameSite"] == "Lax"
    assert cookies[CSRF_COOKIE]["secure"] is True
    assert cookies[CSRF_COOKIE]["sameSite"] == "Strict"
    assert page.evaluate("document.cookie") == ""  # HttpOnly: scripts cannot read them

    # -- home: the eleven principles, and a picture for people to look at
    assert page.locator("[data-testid=principles] > li").count() == 11
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "home.png"), full_page=True)

    # -- API keys: create an integration key with scope scan, use it, revoke it
    page.click("nav >> text=API keys")
    page.fill("input[name=name]", "upload-service")
    page.select_option("select[name=kind]", "integration")
    page.check("input[name=scopes][value=scan]")
    page.click("text=Create key")
    key = page.inner_text("[data-testid=new-key]").strip()
    assert key.startswith("sw_")
    response = me(live_server, key)
    assert response.status_code == 200, response.text
    assert response.json()["scopes"] == ["scan"]

    page.goto("/admin/api-keys")  # opening the page again does not show the key again
    assert page.locator("[data-testid=new-key]").count() == 0
    assert key not in page.content()
    prefix = key.split("_")[1]
    page.click(f"tr[data-prefix='{prefix}'] >> text=Revoke")
    page.wait_for_load_state()
    assert page.url == f"{live_server.url}/admin/api-keys"
    assert "revoked" in page.inner_text(f"tr[data-prefix='{prefix}']")
    assert me(live_server, key).status_code == 401

    # -- People: add a reviewer, then log out
    page.click("nav >> text=People")
    page.fill("form[action='/admin/users'] input[name=username]", "rita")
    page.fill("form[action='/admin/users'] input[name=display_name]", "Rita Reviewer")
    page.select_option("form[action='/admin/users'] select[name=role]", "reviewer")
    page.fill("form[action='/admin/users'] input[name=password]", "ritas long password")
    page.click("form[action='/admin/users'] button[type=submit]")
    assert "Created rita (reviewer)." in page.inner_text("[role=status]")
    assert page.locator("tr[data-username=rita]").count() == 1

    page.click("text=Log out")
    page.wait_for_load_state()
    assert page.url.startswith(f"{live_server.url}/login")
    page.goto("/")
    assert page.url.startswith(f"{live_server.url}/login")  # really logged out

    # -- the reviewer sees no People link and is refused the page
    log_in(page, "rita", "ritas long password")
    assert who(page) == "rita · reviewer"
    nav = page.locator("nav[aria-label=Main]")
    assert nav.locator("text=People").count() == 0
    assert nav.locator("text=API keys").count() == 0
    response = page.goto("/admin/users")
    assert response is not None
    assert response.status == 403
    assert page.inner_text("h1") == "Not allowed"


def test_four_wrong_passwords_show_the_lock_out(page: Page, admin: User) -> None:
    log_in(page, "root", "wrong password 0")
    assert page.inner_text("[role=alert]") == "Wrong username or password."
    for attempt in range(1, 4):
        log_in(page, "root", f"wrong password {attempt}")
    assert "Too many failed attempts" in page.inner_text("[role=alert]")
    log_in(page, "root", PASSWORD)  # even the right password is refused while locked
    assert "Too many failed attempts" in page.inner_text("[role=alert]")
    assert page.inner_text("h1") == "Log in"
    assert SESSION_COOKIE not in {c["name"] for c in page.context.cookies()}


def test_reloading_the_new_key_page_does_not_mint_another_key(
    page: Page, live_server: LiveServer, admin: User
) -> None:
    # The create form's answer is rendered straight from the POST, so the browser's reload
    # button re-sends the form. The csrf cookie is rotated after a key is made, so the
    # re-sent form is refused ("nothing was done") instead of minting a second key.
    log_in(page, "root", PASSWORD)
    page.goto("/admin/api-keys")
    page.fill("input[name=name]", "upload-service")
    page.check("input[name=scopes][value=scan]")
    page.click("text=Create key")
    assert page.locator("[data-testid=new-key]").count() == 1
    page.reload()
    assert "nothing was done" in page.inner_text("[role=alert]")
    assert page.locator("[data-testid=new-key]").count() == 0
    page.goto("/admin/api-keys")
    assert page.locator("tbody tr[data-prefix]").count() == 1, "a reload created another key"
    assert page.locator("[data-testid=new-key]").count() == 0
