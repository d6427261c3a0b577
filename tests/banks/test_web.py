"""The bank pages: who sees what, and the create, enable and import forms with CSRF."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shieldwall.banks import repository
from shieldwall.core.access import Role
from shieldwall.db.engine import Database
from shieldwall.users.models import User
from tests.banks.conftest import BankFactory, entries_of, md5_of, pdq_of
from tests.conftest import PASSWORD, make_user
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


@pytest.fixture
def filled_bank(make_bank: BankFactory, db: Database) -> str:
    from shieldwall.banks import service
    from shieldwall.banks.schemas import EntryIn
    from tests.conftest import SYSTEM

    make_bank("KNOWN", labels=["A1", "B1"], description="benign stand-in hashes")
    with db.session() as s:
        service.add_entries(
            s,
            "KNOWN",
            [
                EntryIn(signal_type="pdq", value=pdq_of(1), labels=["A1"]),
                EntryIn(signal_type="md5", value=md5_of(1)),
            ],
            actor=SYSTEM,
        )
    return "KNOWN"


@pytest.mark.parametrize("path", ["/banks", "/banks/KNOWN"])
def test_strangers_go_to_the_login_page(client: TestClient, path: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert urlsplit(response.headers["location"]).path == "/login"


@pytest.mark.usefixtures("filled_bank")
def test_admin_sees_list_detail_and_forms(admin: User, login_as: LoginAs) -> None:
    c = login_as(admin.username)
    home = parse(c.get("/").text)
    assert "/banks" in {a.get("href") for tag, a in home.tags if tag == "a"}
    listing = c.get("/banks")
    assert listing.status_code == 200
    page = parse(listing.text)
    row = page.text_of("banks")
    assert "KNOWN" in row
    assert "md5 1" in row
    assert "pdq 1" in row
    assert "A1 B1" in row
    assert page.forms_to("/banks")
    detail = c.get("/banks/KNOWN")
    assert detail.status_code == 200
    assert "benign stand-in hashes" in detail.text
    assert pdq_of(1) in detail.text  # admins may see hash values
    page = parse(detail.text)
    assert page.forms_to("/banks/KNOWN/enabled")
    assert page.forms_to("/banks/KNOWN/import")
    changes = page.text_of("changes")
    assert "bank.entries_added" in changes
    assert "bank.created" in changes


@pytest.mark.usefixtures("filled_bank")
def test_reviewer_reads_with_values_but_has_no_forms(
    db: Database, login_as: LoginAs, admin: User
) -> None:
    make_user(db, "rita", Role.REVIEWER)
    c = login_as("rita")
    assert "/banks" in {a.get("href") for tag, a in parse(c.get("/").text).tags if tag == "a"}
    detail = c.get("/banks/KNOWN")
    assert detail.status_code == 200
    assert pdq_of(1) in detail.text
    page = parse(detail.text)
    assert not page.forms_to("/banks/KNOWN/enabled")
    assert not page.forms_to("/banks/KNOWN/import")
    assert not parse(c.get("/banks").text).forms_to("/banks")
    token = page.forms_to("/logout")[0].fields["csrf_token"]
    refused = c.post("/banks", data={"csrf_token": token, "name": "SNEAKY"})
    assert refused.status_code == 403
    assert "banks:write" in refused.text
    with db.session() as s:
        assert repository.get_bank_by_name(s, "SNEAKY") is None


@pytest.mark.usefixtures("filled_bank", "admin")
def test_analyst_sees_counts_but_not_values(db: Database, login_as: LoginAs) -> None:
    make_user(db, "ana", Role.ANALYST)
    detail = login_as("ana").get("/banks/KNOWN")
    assert detail.status_code == 200
    assert pdq_of(1) not in detail.text
    assert md5_of(1) not in detail.text
    assert "hidden" in detail.text


def test_create_a_bank_through_the_form(admin: User, login_as: LoginAs, db: Database) -> None:
    c = login_as(admin.username)
    form = parse(c.get("/banks").text).form_to("/banks")
    response = submit(
        c,
        form,
        name="NEW_LIST",
        labels="A1, A2 B1",
        pdq_threshold="25",
        dihedral="on",
        action="review",
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/banks/NEW_LIST"
    with db.session() as s:
        bank = repository.get_bank_by_name(s, "NEW_LIST")
        assert bank is not None
        assert (bank.labels, bank.pdq_threshold, bank.dihedral, bank.action) == (
            ["A1", "A2", "B1"],
            25,
            True,
            "review",
        )
    page = c.get("/banks/NEW_LIST").text
    assert "review" in page

    form = parse(c.get("/banks").text).form_to("/banks")
    bad = submit(c, form, name="bad name")
    assert bad.status_code == 422
    assert "upper-case" in bad.text or "pattern" in bad.text
    assert 'value="bad name"' in bad.text  # the form keeps what was typed
    dup = submit(c, parse(c.get("/banks").text).form_to("/banks"), name="NEW_LIST")
    assert dup.status_code == 409
    assert "already exists" in dup.text


def test_forms_without_a_valid_token_are_refused(
    admin: User, login_as: LoginAs, db: Database, make_bank: BankFactory
) -> None:
    bank = make_bank("GUARDED")
    c = login_as(admin.username)
    no_token = c.post("/banks", data={"name": "NO_TOKEN"})
    assert no_token.status_code == 403
    forged = c.post(
        "/banks/GUARDED/import",
        data={"csrf_token": "0" * 64, "format": "auto"},
        files={"file": ("a.txt", f"md5 {md5_of(1)}\n".encode())},
    )
    assert forged.status_code == 403
    form = parse(c.get("/banks/GUARDED").text).form_to("/banks/GUARDED/enabled")
    other_site = c.post(
        "/banks/GUARDED/enabled", data=form.fields, headers={"Origin": "https://evil.example"}
    )
    assert other_site.status_code == 403
    with db.session() as s:
        assert repository.get_bank_by_name(s, "NO_TOKEN") is None
        assert repository.get_bank_by_name(s, "GUARDED").enabled  # type: ignore[union-attr]
    assert entries_of(db, bank.id) == []


def test_enable_and_disable(
    admin: User, login_as: LoginAs, db: Database, make_bank: BankFactory
) -> None:
    make_bank("SWITCH")
    c = login_as(admin.username)
    form = parse(c.get("/banks/SWITCH").text).form_to("/banks/SWITCH/enabled")
    assert form.fields["enabled"] == "false"
    response = submit(c, form)
    assert response.status_code == 303
    page = parse(c.get("/banks/SWITCH").text)
    assert page.text_of("enabled") == "no"
    assert "bank.updated" in page.text_of("changes")
    submit(c, page.form_to("/banks/SWITCH/enabled"))
    assert parse(c.get("/banks/SWITCH").text).text_of("enabled") == "yes"


def test_import_a_file_through_the_form(
    admin: User, login_as: LoginAs, db: Database, make_bank: BankFactory
) -> None:
    bank = make_bank("UPLOAD", labels=["A1"])
    c = login_as(admin.username)
    form = parse(c.get("/banks/UPLOAD").text).form_to("/banks/UPLOAD/import")
    data = (
        "signal_type,value,labels,source_record_id,quality\n"
        f"md5,{md5_of(1)},A1,,\n"
        f"pdq,{pdq_of(1)},,,95\n"
        f"pdq,{pdq_of(2)[:32]},,,\n"
    ).encode()
    response = c.post(form.action, data=form.fields, files={"file": ("list.csv", data, "text/csv")})
    assert response.status_code == 200, response.text
    page = parse(response.text)
    assert "2 added" in page.text_of("notice")
    assert "1 rejected" in page.text_of("notice")
    assert "line 4:" in page.text_of("rejections")
    assert response.headers["cache-control"] == "no-store"
    assert len(entries_of(db, bank.id)) == 2
    assert "bank.imported" in page.text_of("changes")

    # reloading the answer re-sends the old form: refused, nothing imported twice
    again = c.post(form.action, data=form.fields, files={"file": ("list.csv", data)})
    assert again.status_code == 403

    fresh = parse(c.get("/banks/UPLOAD").text).form_to("/banks/UPLOAD/import")
    fatal = c.post(fresh.action, data=fresh.fields, files={"file": ("x.jsonl", b"[1, 2]\n")})
    assert fatal.status_code == 422
    assert "not an object" in fatal.text
    assert len(entries_of(db, bank.id)) == 2


@pytest.mark.usefixtures("admin")
def test_unknown_bank_page(login_as: LoginAs) -> None:
    response = login_as("root").get("/banks/NOPE")
    assert response.status_code == 404
    assert "no bank named" in response.text
