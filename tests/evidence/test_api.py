"""/v1/evidence: metadata, content (bytes, logged), data, legal hold and release, access."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from shieldwall.audit import repository as audit_repository
from shieldwall.config import Settings
from shieldwall.core.access import INTEGRATION_SCOPES, Role, Scope, scopes_for_role
from shieldwall.db.engine import Database
from shieldwall.users.models import User
from tests.api.problem_check import assert_problem
from tests.conftest import KeyFactory, auth
from tests.evidence.conftest import MakeCase, preserve
from tests.media.samples import picture

pytestmark = pytest.mark.db


def test_scopes_reviewers_read_only_admins_hold_never_integrations() -> None:
    assert Scope.EVIDENCE_READ in scopes_for_role(Role.REVIEWER)
    assert Scope.EVIDENCE_HOLD not in scopes_for_role(Role.REVIEWER)
    assert Scope.EVIDENCE_READ not in scopes_for_role(Role.ANALYST)
    assert {Scope.EVIDENCE_READ, Scope.EVIDENCE_HOLD} <= scopes_for_role(Role.ADMIN)
    assert not ({Scope.EVIDENCE_READ, Scope.EVIDENCE_HOLD} & INTEGRATION_SCOPES)


def test_list_show_content_and_data_with_every_read_logged(
    client: TestClient,
    db: Database,
    settings: Settings,
    make_case: MakeCase,
    make_key: KeyFactory,
    rita: User,
) -> None:
    case, media_id = make_case(1)
    held = preserve(db, settings, case.id, media_id, data={"file_name": "a.jpg"})
    bare_case, _ = make_case(2, with_media=False)
    bare = preserve(db, settings, bare_case.id, None)
    key = auth(make_key([Scope.EVIDENCE_READ], owner=rita))

    page = client.get(f"/v1/evidence?case_id={case.id}", headers=key)
    assert page.status_code == 200
    (row,) = page.json()["items"]
    assert row["id"] == held.id
    assert row["file_held"] is True
    assert row["legal_hold"] is False
    assert "data_sealed" not in row
    assert len(client.get("/v1/evidence", headers=key).json()["items"]) == 2

    one = client.get(f"/v1/evidence/{bare.id}", headers=key).json()
    assert one["file_held"] is False
    assert one["no_file_reason"] == "hash_only"
    assert "No file held" in one["no_file_text"]

    content = client.get(f"/v1/evidence/{held.id}/content", headers=key)
    assert content.status_code == 200
    assert content.content == picture(1)
    assert content.headers["cache-control"] == "no-store"
    assert content.headers["content-type"].startswith("image/png")

    data = client.get(f"/v1/evidence/{held.id}/data", headers=key)
    assert data.json()["entries"][0]["data"] == {"file_name": "a.jpg"}

    missing = client.get(f"/v1/evidence/{bare.id}/content", headers=key)
    assert_problem(missing, 404, "not-found")
    assert "no file" in missing.json()["detail"]
    assert_problem(client.get("/v1/evidence/999", headers=key), 404, "not-found")

    with db.session() as s:
        reads = audit_repository.list_events(s, kind="evidence.read", limit=10)
    assert sorted(e.payload["part"] for e in reads) == ["content", "data"]
    assert {e.actor for e in reads} == {reads[0].actor}
    assert reads[0].actor.startswith("apikey:")


def test_people_and_keys_without_the_scope_are_refused_and_nothing_is_logged(
    client: TestClient,
    db: Database,
    settings: Settings,
    make_case: MakeCase,
    make_key: KeyFactory,
    ann: User,
) -> None:
    case, media_id = make_case(3)
    item = preserve(db, settings, case.id, media_id)
    analyst = auth(make_key([Scope.REPORTS_READ], owner=ann))
    for path in ("", f"/{item.id}", f"/{item.id}/content", f"/{item.id}/data"):
        assert_problem(client.get(f"/v1/evidence{path}", headers=analyst), 403, "permission-denied")
    assert_problem(client.get(f"/v1/evidence/{item.id}/content"), 401, "authentication-required")
    with db.session() as s:
        assert audit_repository.list_events(s, kind="evidence.read") == []


def test_hold_and_release_need_a_reason_and_the_hold_scope(
    client: TestClient,
    db: Database,
    settings: Settings,
    make_case: MakeCase,
    make_key: KeyFactory,
    admin_key: str,
    rita: User,
) -> None:
    case, media_id = make_case(4)
    item = preserve(db, settings, case.id, media_id)
    reviewer = auth(make_key([Scope.EVIDENCE_READ], owner=rita))
    admin = auth(admin_key)
    body = {"reason": "preservation request 2026-114"}

    assert_problem(
        client.post(f"/v1/evidence/{item.id}/hold", json=body, headers=reviewer),
        403,
        "permission-denied",
    )
    assert_problem(
        client.post(f"/v1/evidence/{item.id}/hold", json={}, headers=admin), 422, "invalid-input"
    )
    assert_problem(
        client.post(f"/v1/evidence/{item.id}/hold", json={"reason": ""}, headers=admin),
        422,
        "invalid-input",
    )
    placed = client.post(f"/v1/evidence/{item.id}/hold", json=body, headers=admin)
    assert placed.status_code == 200
    assert placed.json()["legal_hold"] is True
    assert placed.json()["hold"]["reason"] == body["reason"]
    assert_problem(
        client.post(f"/v1/evidence/{item.id}/hold", json=body, headers=admin), 409, "conflict"
    )
    released = client.post(
        f"/v1/evidence/{item.id}/release", json={"reason": "matter closed"}, headers=admin
    )
    assert released.status_code == 200
    assert released.json()["legal_hold"] is False
    assert released.json()["hold"] is None
    assert_problem(
        client.post(f"/v1/evidence/{item.id}/release", json=body, headers=admin), 409, "conflict"
    )
