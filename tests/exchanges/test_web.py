"""The exchanges pages: list, add, detail with runs and quarantine, fetch now, sharing."""

from __future__ import annotations

import json
import re
import time

import pytest

from shieldwall.banks.models import Bank
from shieldwall.core.access import Role
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_stopncii import FakeStopNcii, pdq_for, record
from shieldwall.users.models import User
from tests.conftest import PASSWORD, make_user
from tests.exchanges.conftest import STOPNCII_CREDENTIALS
from tests.web.conftest import LoginAs
from tests.web.html_forms import parse, submit

pytestmark = pytest.mark.db


def test_add_an_exchange_fetch_it_and_see_runs_and_quarantine(
    login_as: LoginAs, admin: User, bank: Bank, stopncii: tuple[FakeStopNcii, str]
) -> None:
    fake, url = stopncii
    fake.set_records(
        [record(pdq_for(i), ts=1_700_000_000 + i) for i in range(7)]
        + [record("beef", ts=1_700_000_050)]
    )
    c = login_as("root", PASSWORD)
    page = c.get("/exchanges")
    assert page.status_code == 200
    assert 'href="/exchanges"' in page.text  # in the navigation
    form = parse(page.text).form_to("/exchanges")
    created = submit(
        c,
        form,
        name="stopncii",
        type="stop_ncii",
        bank=bank.name,
        settings_json=json.dumps({"base_url": url, "page_size": 5}),
        credentials_json=json.dumps(STOPNCII_CREDENTIALS),
        schedule_minutes="0",
    )
    assert created.status_code == 303, created.text
    detail = c.get(created.headers["location"])
    assert detail.status_code == 200
    assert "set (never shown)" in detail.text
    for secret in STOPNCII_CREDENTIALS.values():
        assert secret not in detail.text
    fetch = parse(detail.text).form_to("/exchanges/stopncii/fetch")
    assert submit(c, fetch).status_code == 303
    deadline = time.monotonic() + 30
    while True:
        text = c.get("/exchanges/stopncii").text
        if re.search(r"<td>(succeeded|failed|partial)</td>", text):
            break
        assert time.monotonic() < deadline
        time.sleep(0.05)
    page = parse(text)
    assert "succeeded" in page.text_of("runs")
    assert "64 hex characters" in page.text_of("quarantine")
    assert page.text_of("records") == "7"


def test_bad_settings_are_shown_and_credentials_not_echoed(
    login_as: LoginAs, admin: User, bank: Bank
) -> None:
    c = login_as("root", PASSWORD)
    form = parse(c.get("/exchanges").text).form_to("/exchanges")
    response = submit(
        c,
        form,
        name="broken",
        type="stop_ncii",
        bank=bank.name,
        settings_json="{not json",
        credentials_json=json.dumps(STOPNCII_CREDENTIALS),
    )
    assert response.status_code == 422
    assert "settings must be a JSON object" in response.text
    assert STOPNCII_CREDENTIALS["subscription_key"] not in response.text


def test_share_and_unshare_a_bank(login_as: LoginAs, admin: User, bank: Bank) -> None:
    c = login_as("root", PASSWORD)
    page = parse(c.get("/exchanges").text)
    assert page.text_of("signing-key").startswith("ed25519:")
    share = page.form_to("/exchanges/shares", share="on")
    assert submit(c, share, bank=bank.name).status_code == 303
    page = parse(c.get("/exchanges").text)
    assert bank.name in page.text_of("shares")
    stop = page.form_to("/exchanges/shares", share="off", bank=bank.name)
    assert submit(c, stop).status_code == 303
    assert "No bank is shared" in parse(c.get("/exchanges").text).text_of("shares")


def test_reviewers_read_but_cannot_manage(
    login_as: LoginAs, admin: User, bank: Bank, db: Database
) -> None:
    make_user(db, "rita", Role.REVIEWER)
    c = login_as("rita", PASSWORD)
    page = c.get("/exchanges")
    assert page.status_code == 200
    assert parse(page.text).forms_to("/exchanges") == []
    token = parse(page.text).form_to("/logout").hidden("csrf_token") or ""
    denied = c.post("/exchanges", data={"csrf_token": token, "name": "x"}, follow_redirects=False)
    assert denied.status_code == 403
