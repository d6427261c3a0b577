"""The evidence page of a case: file held or "no file held", legal hold forms (CSRF, admins
only), refusals for people without evidence:read."""

from __future__ import annotations

import pytest

from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.evidence import service
from shieldwall.users.models import User
from tests.conftest import PASSWORD
from tests.evidence.conftest import MakeCase, preserve
from tests.web.conftest import LoginAs
from tests.web.html_forms import parse, submit

pytestmark = pytest.mark.db


def test_reviewer_sees_the_files_and_the_hash_only_note_without_hold_forms(
    db: Database, settings: Settings, make_case: MakeCase, rita: User, login_as: LoginAs
) -> None:
    case, media_id = make_case(1)
    held = preserve(db, settings, case.id, media_id)
    bare = preserve(db, settings, case.id, None)
    client = login_as("rita", PASSWORD)
    page = client.get(f"/cases/{case.id}/evidence")
    assert page.status_code == 200, page.text
    parsed = parse(page.text)
    assert parsed.text_of(f"file-{held.id}").startswith("held (")
    assert "No file held" in parsed.text_of(f"file-{bare.id}")
    assert parsed.forms_to(f"/evidence/{held.id}/hold") == []
    assert f"/review/cases/{case.id}" in page.text
    # nothing was read: looking at the page is not reading evidence
    with db.session() as s:
        from shieldwall.audit import repository as audit_repository

        assert audit_repository.list_events(s, kind="evidence.read") == []


def test_admin_places_and_releases_a_hold_with_a_reason(
    db: Database, settings: Settings, make_case: MakeCase, boss: User, login_as: LoginAs
) -> None:
    case, media_id = make_case(2)
    item = preserve(db, settings, case.id, media_id)
    client = login_as("boss", PASSWORD)
    form = parse(client.get(f"/cases/{case.id}/evidence").text).form_to(f"/evidence/{item.id}/hold")
    empty = submit(client, form, reason="   ")
    assert empty.status_code == 422
    assert "reason" in empty.text
    done = submit(client, form, reason="preservation request 2026-114")
    assert done.status_code == 303
    assert done.headers["location"] == f"/cases/{case.id}/evidence"
    page = parse(client.get(f"/cases/{case.id}/evidence").text)
    assert page.text_of(f"hold-{item.id}").startswith("yes: preservation request 2026-114")
    with db.session() as s:
        assert service.get(s, item.id).legal_hold

    form = page.form_to(f"/evidence/{item.id}/release")
    no_token = client.post(
        f"/evidence/{item.id}/release", data={"reason": "x"}, follow_redirects=False
    )
    assert no_token.status_code == 403
    assert submit(client, form, reason="matter closed").status_code == 303
    with db.session() as s:
        assert not service.get(s, item.id).legal_hold


def test_people_without_the_scope_are_refused(
    db: Database,
    settings: Settings,
    make_case: MakeCase,
    ann: User,
    rita: User,
    login_as: LoginAs,
) -> None:
    case, media_id = make_case(3)
    item = preserve(db, settings, case.id, media_id)
    analyst = login_as("ann", PASSWORD)
    assert analyst.get(f"/cases/{case.id}/evidence", follow_redirects=False).status_code == 403
    reviewer = login_as("rita", PASSWORD)
    token_page = parse(reviewer.get(f"/cases/{case.id}/evidence").text)
    assert token_page.forms_to(f"/evidence/{item.id}/hold") == []
    assert reviewer.get("/cases/9999/evidence").status_code == 404


def test_the_decided_case_page_links_to_its_evidence(
    db: Database, settings: Settings, make_case: MakeCase, rita: User, login_as: LoginAs
) -> None:
    from tests.evidence.conftest import decide_violating

    case, _ = make_case(4)
    client = login_as("rita", PASSWORD)
    assert 'data-testid="evidence-link"' not in client.get(f"/review/cases/{case.id}").text
    decide_violating(db, settings, case.id, rita)
    page = client.get(f"/review/cases/{case.id}")
    assert f'href="/cases/{case.id}/evidence"' in page.text
    with db.session() as s:
        (item,) = service.for_case(s, case.id)
    evidence = parse(client.get(f"/cases/{case.id}/evidence").text)
    assert evidence.text_of(f"file-{item.id}").startswith("held (")
