"""A reviewer's day in a real Chromium against a real uvicorn whose outbox worker sends signed
webhooks to a local receiver: open the queue, see the media blurred, reveal it (logged),
decide, and watch the platform receive the action.

The media are benign generated pictures (tests/web/review_cases.py).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from shieldwall.cases import service as cases
from shieldwall.config import Settings
from shieldwall.core.access import Role
from shieldwall.db.engine import Database
from shieldwall.integrations.webhooks import verify
from shieldwall.users.models import User
from tests.conftest import PASSWORD, KeyFactory, LiveServer, auth, make_user, wait_for_sync
from tests.jobs.helpers import wait_until
from tests.jobs.receiver import Receiver, receiver_fixture
from tests.web.conftest import ARTIFACTS, SqlScalar
from tests.web.review_cases import MediaCase, media_case, picture
from tests.web.test_browser import log_in

pytestmark = pytest.mark.browser

Page = Any  # playwright.sync_api.Page
KNOWN = picture(1)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiver_fixture()


@pytest.fixture
def settings(settings: Settings, receiver: Receiver) -> Settings:
    """The live server's outbox worker sends webhooks to the local receiver."""
    return settings.model_copy(
        update={
            "webhook_url": receiver.url,
            "webhook_secret": SecretStr(receiver.secret),
            "webhook_timeout_seconds": 5.0,
            "outbox_poll_seconds": 0.05,
            "index_poll_seconds": 0.1,
            "case_confirm_bank": "CONFIRMED",
        }
    )


@pytest.fixture
def rita(db: Database) -> User:
    return make_user(db, "rita", Role.REVIEWER)


@pytest.fixture
def mcase(db: Database, settings: Settings) -> MediaCase:
    return media_case(db, settings)


def revealed_events(sql: SqlScalar) -> int:
    return int(sql("SELECT count(*) FROM events WHERE kind = 'media.revealed'"))


def state_of(page: Page) -> str:
    return str(page.get_attribute("[data-testid=media-item]", "data-state"))


def wait_for_picture(page: Page, selector: str) -> None:
    page.wait_for_function(
        "s => { const i = document.querySelector(s);"
        " return !!i && i.complete && i.naturalWidth > 0 }",
        arg=selector,
    )


def scanned_case(live_server: LiveServer, key: str) -> MediaCase:
    """The platform uploads a picture that a review bank knows: the scan opens a case and
    keeps the picture (sealed) for the reviewer."""
    headers = auth(key)
    with httpx.Client(base_url=live_server.url, headers=headers, timeout=10) as api:
        made = api.post("/v1/banks", json={"name": "REVIEW_FIRST", "action": "review"})
        assert made.status_code == 201, made.text
        md5 = hashlib.md5(KNOWN).hexdigest()  # noqa: S324 - a file digest, not security
        added = api.post(
            "/v1/banks/REVIEW_FIRST/entries",
            json={"signal_type": "md5", "value": md5, "labels": ["A1"]},
        )
        assert added.status_code in (200, 201), added.text
        wait_for_sync(live_server.app)
        scanned = api.post(
            "/v1/scan",
            files={"file": ("upload.jpg", KNOWN)},
            data={"content_id": "post-1", "account_id": "acct-1"},
        )
        assert scanned.status_code == 200, scanned.text
        result = scanned.json()
    assert result["verdict"] == "review"
    with live_server.db.session() as s:
        (media_id,) = cases.media_ids(s, result["case_id"])
    return MediaCase(result["case_id"], media_id, KNOWN)


def test_reviewer_reveals_decides_and_the_platform_gets_a_signed_webhook(
    page: Page,
    live_server: LiveServer,
    rita: User,
    make_key: KeyFactory,
    sql: SqlScalar,
    receiver: Receiver,
) -> None:
    mcase = scanned_case(live_server, make_key())
    # Script errors and Content-Security-Policy refusals ("Refused to ...") show here.
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    originals: list[dict[str, str]] = []
    page.on(
        "response",
        lambda r: originals.append(r.headers) if "/original" in r.url else None,
    )
    log_in(page, "rita", PASSWORD)

    # -- the queue; j moves to the first case and Enter opens it
    page.click("nav >> text=Review")
    assert page.locator(f"tr[data-case='{mcase.case_id}']").count() == 1
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "review-queue.png"), full_page=True)
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.dataset.role") == "open"
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/review/cases/{mcase.case_id}")

    # -- blurred and grayscale: the image is the server's preview, and CSS blurs it again
    wait_for_picture(page, "img.preview")
    assert state_of(page) == "blurred"
    preview = page.locator("img.preview")
    assert preview.evaluate("i => new URL(i.currentSrc).pathname").endswith("/preview")
    filter_ = preview.evaluate("i => getComputedStyle(i).filter")
    assert "blur(" in filter_
    assert "grayscale(1)" in filter_
    assert page.locator(".original").count() == 0
    assert originals == [], "the original was fetched without a reveal"
    assert revealed_events(sql) == 0
    page.screenshot(path=str(ARTIFACTS / "review-case-blurred.png"), full_page=True)

    # -- typing r in the note does not reveal anything
    page.fill("textarea[name=note]", "")
    page.focus("textarea[name=note]")
    page.keyboard.type("r j k v n e")
    assert state_of(page) == "blurred"
    assert page.locator("input[name=outcome]:checked").count() == 0
    page.fill("textarea[name=note]", "")

    # -- a deliberate click reveals it; the fetch is logged and not cacheable
    page.click("[data-testid=reveal]")
    wait_for_picture(page, "img.original")
    assert state_of(page) == "revealed"
    assert page.locator("img.preview").is_hidden()
    assert revealed_events(sql) == 1
    assert originals[-1]["cache-control"].startswith("no-store")
    # still grayscale by default (the reviewer may switch to colour), no longer blurred
    shown = page.locator("img.original").evaluate("i => getComputedStyle(i).filter")
    assert shown == "grayscale(1)"
    page.click("text=Show colour")
    assert page.locator("img.original").evaluate("i => getComputedStyle(i).filter") == "none"
    assert (
        sql("SELECT subject FROM events WHERE kind = 'media.revealed'") == f"case:{mcase.case_id}"
    )
    assert sql("SELECT actor FROM events WHERE kind = 'media.revealed'") == f"user:{rita.id}"

    # -- leaving the page blurs it again and drops the original from the page
    page.evaluate("window.dispatchEvent(new PageTransitionEvent('pagehide'))")
    assert state_of(page) == "blurred"
    assert page.locator(".original").count() == 0
    assert page.locator("img.preview").is_visible()

    # -- r reveals again: fetched again (no cache), logged again; r blurs it
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("r")
    wait_for_picture(page, "img.original")
    assert revealed_events(sql) == 2
    page.keyboard.press("r")
    assert state_of(page) == "blurred"

    # -- decide with the keyboard: v picks violating and moves to the label list
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("v")
    assert page.is_checked("input[name=outcome][value=violating]")
    assert page.evaluate("document.activeElement.name") == "label"
    page.select_option("select[name=label]", "A1")
    page.fill("textarea[name=note]", "clear A1 match")
    page.click("[data-testid=decide]")
    page.wait_for_url(f"**/review/cases/{mcase.case_id}?done=decided")
    assert page.inner_text("[data-testid=notice]") == "Decision recorded."
    assert page.inner_text("[data-testid=case-status]") == "decided"
    assert "CONFIRMED" in page.inner_text("[data-testid=decisions]")  # hash-on-confirm

    # -- the platform receives a signed content.remove, after the commit
    (delivery,) = receiver.wait_for(1)
    verify(delivery.headers.get("shieldwall-signature"), delivery.body, receiver.secret)
    document = delivery.document
    assert document["type"] == "content.remove"
    assert document["id"] == delivery.key == f"case:{mcase.case_id}:content.remove"
    assert document["data"]["case_id"] == mcase.case_id
    assert document["data"]["subject_ref"] == "post-1"
    assert document["data"]["labels"] == ["A1"]

    # -- and the case page shows the delivery (reload until the worker has recorded it)
    webhook = f"webhook:case:{mcase.case_id}:content.remove"
    wait_until(
        lambda: sql("SELECT status FROM outbox_items WHERE key = :k", k=webhook) == "sent",
        what="the delivery recorded as sent",
    )
    page.reload()
    assert page.inner_text("[data-testid=delivery]") == "sent"
    page.screenshot(path=str(ARTIFACTS / "review-case-decided.png"), full_page=True)
    assert problems == []


def test_without_javascript_the_reveal_link_and_the_decision_form_still_work(
    browser: Any,
    live_server: LiveServer,
    rita: User,
    mcase: MediaCase,
    sql: SqlScalar,
    receiver: Receiver,
) -> None:
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    context.set_default_timeout(15_000)
    try:
        page = context.new_page()
        log_in(page, "rita", PASSWORD)
        page.goto(f"/review/cases/{mcase.case_id}")
        assert state_of(page) == "blurred"
        assert revealed_events(sql) == 0
        page.click("[data-testid=reveal]")  # a plain link to the one-item page
        page.wait_for_load_state()
        wait_for_picture(page, "img[data-testid=original]")
        assert revealed_events(sql) == 1
        page.click("[data-testid=back]")
        page.wait_for_load_state()
        assert state_of(page) == "blurred"
        page.check("input[name=outcome][value=not_violating]")
        page.click("[data-testid=decide]")
        page.wait_for_load_state()
        assert page.inner_text("[data-testid=case-status]") == "decided"
        assert sql("SELECT outcome FROM cases WHERE id = :i", i=mcase.case_id) == "not_violating"
        assert receiver.deliveries == []  # not violating: nothing is asked of the platform
    finally:
        context.close()
