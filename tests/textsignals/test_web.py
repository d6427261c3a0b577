"""The term-list pages and the conversation window of a case: who sees what, forms with
CSRF, texts hidden until revealed (each reveal an event)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from shieldwall.audit.models import Event
from shieldwall.core.access import Role
from shieldwall.db.engine import Database
from shieldwall.users.models import User
from tests.conftest import PASSWORD, make_user
from tests.textsignals.test_api import GROOMING, message
from tests.web.html_forms import login, parse, submit

pytestmark = pytest.mark.db

LoginAs = Callable[[str], TestClient]


@pytest.fixture
def login_as(app: FastAPI) -> Iterator[LoginAs]:
    with ExitStack() as stack:

        def factory(username: str) -> TestClient:
            c = stack.enter_context(
                TestClient(app, base_url="https://testserver", raise_server_exceptions=False)
            )
            assert login(c, username, PASSWORD).status_code == 303
            return c

        yield factory


def test_strangers_go_to_the_login_page(client: TestClient) -> None:
    for path in ("/terms", "/terms/X", "/review/cases/1/conversation"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert urlsplit(response.headers["location"]).path == "/login"


def test_admin_creates_a_list_adds_and_imports_entries(
    admin: User, login_as: LoginAs, db: Database
) -> None:
    c = login_as(admin.username)
    assert "/terms" in {a.get("href") for tag, a in parse(c.get("/").text).tags if tag == "a"}
    page = parse(c.get("/terms").text)
    created = submit(c, page.form_to("/terms"), name="SEARCH", description="stand-in words")
    assert created.status_code == 303
    detail = parse(c.get("/terms/SEARCH").text)
    added = submit(
        c,
        detail.form_to("/terms/SEARCH/entries"),
        kind="term",
        value="zorblax",
        category="csam_seeking",
        severity="high",
    )
    assert added.status_code == 303
    refused = submit(
        c,
        parse(c.get("/terms/SEARCH").text).form_to("/terms/SEARCH/entries"),
        kind="regex",
        value="(a+)+",
        category="csam_seeking",
    )
    assert refused.status_code == 422
    assert "nested quantifiers" in refused.text
    form = parse(c.get("/terms/SEARCH").text).form_to("/terms/SEARCH/import")
    imported = c.post(
        "/terms/SEARCH/import",
        data={"csrf_token": form.fields["csrf_token"], "format": "auto"},
        files={
            "file": ("t.csv", b"kind,value,category\nterm,quuxfeed,solicitation\nterm,x,nope\n")
        },
    )
    assert imported.status_code == 200
    assert "1 added" in imported.text
    assert "line 3" in parse(imported.text).text_of("rejections")
    assert parse(c.get("/terms/SEARCH").text).text_of("entry-count") == "2"
    assert "zorblax" in c.get("/terms/SEARCH").text  # admins see the terms
    # a form without its CSRF token is refused
    assert c.post("/terms", data={"name": "NOPE"}).status_code in (400, 403)


def test_analyst_sees_counts_not_terms_and_cannot_write(
    admin: User, login_as: LoginAs, db: Database
) -> None:
    c = login_as(admin.username)
    submit(c, parse(c.get("/terms").text).form_to("/terms"), name="L")
    submit(
        c,
        parse(c.get("/terms/L").text).form_to("/terms/L/entries"),
        kind="term",
        value="zorblax",
        category="csam_seeking",
    )
    make_user(db, "ana", Role.ANALYST)
    a = login_as("ana")
    page = a.get("/terms/L")
    assert page.status_code == 200
    assert "zorblax" not in page.text
    assert not parse(page.text).forms_to("/terms/L/entries")


def test_conversation_window_hides_texts_until_revealed(
    client: TestClient, integration: dict[str, str], login_as: LoginAs, db: Database, admin: User
) -> None:
    msgs = [message(i, s, t) for i, (s, t) in enumerate(GROOMING)]
    r = client.post("/v1/messages", headers=integration, json={"messages": msgs})
    case_id = r.json()["conversations"][0]["case_id"]
    assert case_id is not None
    make_user(db, "rita", Role.REVIEWER)
    c = login_as("rita")
    case_page = c.get(f"/review/cases/{case_id}")
    assert case_page.status_code == 200
    link = parse(case_page.text).text_of("conversation-link")
    assert "conversation window" in link
    assert f'href="/review/cases/{case_id}/conversation"' in case_page.text
    assert "secret" not in case_page.text
    page = c.get(f"/review/cases/{case_id}/conversation")
    assert page.status_code == 200
    assert "secret" not in page.text  # hidden by default
    parsed = parse(page.text)
    assert "c-1" in parsed.text_of("conversation-facts")
    shown = c.get(f"/review/cases/{case_id}/conversation", params={"reveal": "c-1-m3"})
    assert "our little secret" in shown.text
    assert "<mark" in shown.text
    assert "add me on snap" not in shown.text  # only the one message
    with db.session() as s:
        events = list(s.scalars(select(Event).where(Event.kind == "conversation.revealed")))
    assert len(events) == 1
    assert events[0].payload["messages"] == ["c-1-m3"]
    assert "secret" not in str(events[0].payload)
    make_user(db, "ana", Role.ANALYST)
    assert login_as("ana").get(f"/review/cases/{case_id}/conversation").status_code == 403
