"""The cases API: queue, one case, assignment, decisions (guards, two-person rule), appeals,
preferences. Cases are opened through the service, as a scan or a report would."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from shieldwall.actions.models import Action
from shieldwall.apikeys.schemas import KeyKind
from shieldwall.cases import service
from shieldwall.cases.schemas import MAX_NOTE, CaseSource, SignalIn, Subject
from shieldwall.config import Settings
from shieldwall.core.access import Role, Scope
from shieldwall.db.engine import Database
from shieldwall.users.models import User
from tests.api.problem_check import assert_problem
from tests.conftest import SYSTEM, KeyFactory, auth, make_user

pytestmark = pytest.mark.db

REVIEW = [Scope.CASES_READ, Scope.CASES_WRITE]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    given = {name: getattr(settings, name) for name in settings.model_fields_set}
    return Settings(**{**given, "case_two_person_labels": ["A1"]})


@pytest.fixture
def rita(db: Database) -> User:
    return make_user(db, "rita", Role.REVIEWER)


@pytest.fixture
def sam(db: Database) -> User:
    return make_user(db, "sam", Role.REVIEWER)


@pytest.fixture
def rita_key(make_key: KeyFactory, rita: User) -> str:
    return make_key(REVIEW, owner=rita)


@pytest.fixture
def sam_key(make_key: KeyFactory, sam: User) -> str:
    return make_key(REVIEW, owner=sam)


def open_case(
    db: Database,
    settings: Settings,
    ref: str,
    *,
    labels: tuple[str, ...] = ("B1",),
    danger: bool = False,
) -> int:
    with db.session() as s:
        case = service.attach_signal(
            s,
            settings,
            subject=Subject("content", ref, "acct-1"),
            signal=SignalIn(
                source=CaseSource.USER_REPORT,
                principles=[8],
                summary={"user_report_id": 1},
                labels=list(labels),
                child_in_danger=danger,
            ),
            actor=SYSTEM,
        )
        return case.id


def post(client: TestClient, key: str, path: str, body: dict[str, Any]) -> Any:
    return client.post(path, json=body, headers=auth(key))


def test_queue_and_one_case(
    client: TestClient, db: Database, settings: Settings, rita_key: str, make_key: KeyFactory
) -> None:
    calm = open_case(db, settings, "p-1")
    urgent = open_case(db, settings, "p-2", danger=True)
    page = client.get("/v1/cases", headers=auth(rita_key)).json()
    assert [c["id"] for c in page["items"]] == [urgent, calm]
    assert page["total"] == 2
    assert page["items"][0]["priority_rule"] == "child_in_danger"
    none = client.get("/v1/cases?status=decided", headers=auth(rita_key)).json()
    assert none == {"items": [], "total": 0}
    everything = client.get("/v1/cases?status=all&source=user_report", headers=auth(rita_key))
    assert everything.json()["total"] == 2
    bad = client.get("/v1/cases?status=pending", headers=auth(rita_key))
    assert_problem(bad, 422, "invalid-input")
    assert "known: active, all, open" in bad.json()["detail"]

    reader = make_key([Scope.CASES_READ])  # the admin's key, reading only
    detail = client.get(f"/v1/cases/{calm}", headers=auth(reader)).json()
    assert detail["status"] == "open"
    assert detail["sla"]["first_reviewed_at"] is None
    first_look = client.get(f"/v1/cases/{calm}", headers=auth(rita_key)).json()
    assert first_look["status"] == "in_review"
    assert first_look["sla"]["first_reviewed_at"] is not None
    assert [t["kind"] for t in first_look["timeline"]] == ["case.opened", "case.review_started"]
    assert first_look["signals"][0]["summary"] == {"user_report_id": 1}
    assert_problem(client.get("/v1/cases/999", headers=auth(rita_key)), 404, "not-found")
    rules = client.get("/v1/cases/priority-rules", headers=auth(rita_key)).json()
    assert rules[0]["name"] == "child_in_danger"


def test_decide_confirm_and_the_guards(
    client: TestClient,
    db: Database,
    settings: Settings,
    rita_key: str,
    sam_key: str,
    make_key: KeyFactory,
    rita: User,
) -> None:
    case = open_case(db, settings, "p-1")
    url = f"/v1/cases/{case}"

    unknown = post(client, rita_key, f"{url}/decision", {"outcome": "violating", "label": "Z"})
    assert_problem(unknown, 422, "invalid-input")
    assert "known labels: A1, A2, B1, B2, grooming" in unknown.json()["detail"]
    long_note = post(
        client,
        rita_key,
        f"{url}/decision",
        {"outcome": "violating", "label": "B1", "note": "n" * (MAX_NOTE + 1)},
    )
    assert_problem(long_note, 422, "invalid-input")
    bad_outcome = post(client, rita_key, f"{url}/decision", {"outcome": "maybe"})
    assert_problem(bad_outcome, 422, "invalid-input")
    readonly = make_key([Scope.CASES_READ], owner=rita)
    assert_problem(
        post(client, readonly, f"{url}/decision", {"outcome": "not_violating"}),
        403,
        "permission-denied",
    )

    proposed = post(
        client,
        rita_key,
        f"{url}/decision",
        {"outcome": "violating", "label": "A1", "note": "seen before"},
    )
    assert proposed.status_code == 200, proposed.text
    body = proposed.json()
    assert body["status"] == "in_review"
    assert body["awaiting_confirmation"] is True
    assert body["decisions"][0]["state"] == "awaiting_confirmation"
    assert body["decisions"][0]["note"] == "seen before"
    assert_problem(post(client, rita_key, f"{url}/confirm", {}), 403, "permission-denied")
    confirmed = post(client, sam_key, f"{url}/confirm", {"agree": True})
    assert confirmed.status_code == 200, confirmed.text
    done = confirmed.json()
    assert (done["status"], done["outcome"], done["label"]) == ("decided", "violating", "A1")
    assert [a["type"] for a in done["actions"]] == ["content.remove"]
    assert done["actions"][0]["delivery"]["state"] == "not_sent"  # no webhook configured
    again = post(client, sam_key, f"{url}/decision", {"outcome": "not_violating"})
    assert_problem(again, 409, "conflict")
    closed = post(client, sam_key, f"{url}/close", {})
    assert closed.json()["status"] == "closed"
    assert_problem(
        post(client, sam_key, f"{url}/decision", {"outcome": "escalate"}), 409, "conflict"
    )


def test_assign(
    client: TestClient, db: Database, settings: Settings, rita_key: str, sam: User
) -> None:
    case = open_case(db, settings, "p-1")
    mine = post(client, rita_key, f"/v1/cases/{case}/assign", {})
    assert (mine.json()["assignee"], mine.json()["status"]) == ("rita", "in_review")
    given = post(client, rita_key, f"/v1/cases/{case}/assign", {"username": "sam"})
    assert given.json()["assignee"] == "sam"
    page = client.get("/v1/cases?assignee=sam", headers=auth(rita_key)).json()
    assert [c["id"] for c in page["items"]] == [case]
    off = post(client, rita_key, f"/v1/cases/{case}/assign", {"unassign": True})
    assert off.json()["assignee"] is None
    assert_problem(
        post(client, rita_key, f"/v1/cases/{case}/assign", {"username": "nobody"}), 404, "not-found"
    )


def test_appeal_through_the_api(
    client: TestClient,
    db: Database,
    settings: Settings,
    rita_key: str,
    sam_key: str,
    make_key: KeyFactory,
) -> None:
    case = open_case(db, settings, "p-1")
    post(client, rita_key, f"/v1/cases/{case}/decision", {"outcome": "violating", "label": "B1"})
    with db.session() as s:
        action = s.scalars(select(Action)).one()
        action_id, action_key = action.id, action.key
    platform = make_key([Scope.CASES_SUBMIT], kind=KeyKind.INTEGRATION)
    opened = post(
        client,
        platform,
        "/v1/appeals",
        {"action_id": action_id, "appeal_ref": "ap-1", "reason": "user_disputes"},
    )
    assert opened.status_code == 201, opened.text
    appeal = opened.json()
    assert appeal["appeal_of_case_id"] == case
    assert (appeal["status"], appeal["created"]) == ("open", True)
    again = post(client, platform, "/v1/appeals", {"action_key": action_key, "appeal_ref": "ap-1"})
    assert again.status_code == 200
    assert again.json()["case_id"] == appeal["case_id"]
    assert_problem(post(client, platform, "/v1/appeals", {}), 422, "invalid-input")
    assert_problem(
        post(client, platform, "/v1/appeals", {"case_id": appeal["case_id"]}), 409, "conflict"
    )
    # the platform cannot read the queue
    assert_problem(client.get("/v1/cases", headers=auth(platform)), 403, "permission-denied")

    url = f"/v1/cases/{appeal['case_id']}/decision"
    denied = post(client, rita_key, url, {"outcome": "not_violating"})
    assert_problem(denied, 403, "permission-denied")
    upheld = post(client, sam_key, url, {"outcome": "not_violating"})
    assert upheld.status_code == 200, upheld.text
    assert [a["type"] for a in upheld.json()["actions"]] == ["content.restore"]


def test_preferences(
    client: TestClient, rita_key: str, admin_key: str, make_key: KeyFactory
) -> None:
    mine = client.get("/v1/cases/preferences", headers=auth(rita_key)).json()
    assert (mine["blur"], mine["sources"]["blur"]) == (True, "built-in")
    org = client.put(
        "/v1/cases/preferences/organisation",
        headers=auth(admin_key),
        json={"blur": True, "grayscale": False, "video_muted": True},
    )
    assert org.status_code == 200, org.text
    changed = client.put("/v1/cases/preferences", headers=auth(rita_key), json={"blur": False})
    assert changed.json()["blur"] is False
    assert changed.json()["grayscale"] is False
    assert changed.json()["sources"] == {
        "blur": "user",
        "grayscale": "organisation",
        "video_muted": "organisation",
    }
    assert_problem(
        client.put("/v1/cases/preferences/organisation", headers=auth(rita_key), json={}),
        403,
        "permission-denied",
    )
