"""actions.service: what is recorded, idempotency, validation before any write."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from shieldwall.actions import service
from shieldwall.actions.models import Action
from shieldwall.actions.service import ActionType
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.core.errors import Conflict, InvalidInput
from shieldwall.db.engine import Database
from shieldwall.jobs.models import OutboxItem
from tests.jobs.helpers import events, item_of, request

pytestmark = pytest.mark.db


def counts(db: Database) -> tuple[int, int]:
    with db.session() as session:
        actions = session.scalar(select(func.count()).select_from(Action))
        items = session.scalar(select(func.count()).select_from(OutboxItem))
    return int(actions or 0), int(items or 0)


def test_request_records_the_action_an_event_and_the_webhook(
    db: Database, settings: Settings
) -> None:
    reviewer = Principal.system("tests")
    with db.session() as session:
        action = service.request_action(
            session,
            settings,
            ActionType.ACCOUNT_SUSPEND,
            subject_kind="account",
            subject_ref=" acct-9 ",
            case_id=12,
            labels=["A1", "grooming", "A1"],
            reason="violating: grooming",
            key="case:12:account.suspend",
            actor=reviewer,
            principles=[3, 2],
        )
    assert (action.type, action.subject_kind, action.subject_ref) == (
        "account.suspend",
        "account",
        "acct-9",
    )
    assert action.labels == ["A1", "grooming"]
    assert action.requested_by == "system:tests"
    item = item_of(db, action)
    assert item.kind == "webhook"
    assert item.key == "webhook:case:12:account.suspend"
    assert item.subject == f"action:{action.id}"
    assert item.principles == [2, 3]
    assert item.payload["body"] == service.webhook_body(action)
    (event,) = events(db, "action.requested")
    assert event.actor == "system:tests"
    assert event.subject == f"action:{action.id}"
    assert event.principles == [2, 3]
    assert event.payload == {
        "action_id": action.id,
        "type": "account.suspend",
        "case_id": 12,
        "labels": ["A1", "grooming"],
        "outbox_item_id": item.id,
    }


def test_the_same_key_returns_the_same_action_and_adds_nothing(
    db: Database, settings: Settings
) -> None:
    first = request(db, settings, key="case:3:content.remove")
    again = request(db, settings, key="case:3:content.remove")
    assert again.id == first.id
    assert counts(db) == (1, 1)
    assert len(events(db, "action.requested")) == 1


def test_the_same_key_for_another_action_is_a_conflict(db: Database, settings: Settings) -> None:
    request(db, settings, key="k-1")
    with pytest.raises(Conflict, match="idempotency key already used"):
        request(db, settings, key="k-1", subject_ref="another-post")
    with pytest.raises(Conflict):
        request(db, settings, key="k-1", action=ActionType.CONTENT_BLOCK)
    assert counts(db) == (1, 1)


def test_concurrent_requests_with_one_key_make_one_action(db: Database, settings: Settings) -> None:
    """Two transactions racing on one key (PostgreSQL: truly concurrent; SQLite: serialised)."""
    barrier = threading.Barrier(4)
    results: list[int] = []
    errors: list[BaseException] = []

    def attempt() -> None:
        other = Database(settings.effective_database_url)
        try:
            barrier.wait()
            results.append(request(other, settings, key="case:5:content.remove").id)
        except BaseException as exc:
            errors.append(exc)
        finally:
            other.dispose()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert len(set(results)) == 1
    assert counts(db) == (1, 1)
    assert len(events(db, "action.requested")) == 1


BASE: dict[str, Any] = {
    "subject_kind": "content",
    "subject_ref": "post-1",
    "case_id": 1,
    "labels": ["A1"],
    "reason": "violating: A1",
    "key": "k",
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"action": "content.delete"}, "unknown action"),
        ({"subject_kind": "user"}, "unknown subject kind"),
        ({"subject_ref": "  "}, "subject_ref must not be empty"),
        ({"subject_ref": "x" * 201}, "subject_ref is longer than 200"),
        ({"subject_ref": "post\n1"}, "control characters"),
        ({"key": ""}, "key must not be empty"),
        ({"key": "k" * 201}, "key is longer than 200"),
        ({"reason": "r" * 301}, "reason is longer than 300"),
        ({"reason": "line one\nline two"}, "control characters"),
        ({"labels": ["A 1"]}, "labels must be"),
        ({"labels": [f"L{n}" for n in range(21)]}, "at most 20 labels"),
        ({"case_id": 0}, "case_id must be a positive id"),
        ({"principles": [12]}, "unknown principle"),
    ],
)
def test_malformed_requests_write_nothing(
    db: Database, settings: Settings, change: dict[str, Any], message: str
) -> None:
    values = {**BASE, "action": ActionType.CONTENT_REMOVE, **change}
    action = values.pop("action")
    with pytest.raises(InvalidInput, match=message), db.session() as session:
        service.request_action(session, settings, action, actor="system:tests", **values)
    assert counts(db) == (0, 0)
    assert events(db, "action.requested") == []


def test_list_filters_and_pages_newest_first(db: Database, settings: Settings) -> None:
    made = [request(db, settings, key=f"case:{n % 2}:{n}", case_id=n % 2 + 1) for n in range(5)]
    with db.session() as session:
        everything = service.list_actions(session)
        assert [a.id for a in everything] == [a.id for a in reversed(made)]
        assert {a.case_id for a in service.list_actions(session, case_id=2)} == {2}
        assert len(service.list_actions(session, case_id=2)) == 2
        page = service.list_actions(session, limit=2, before_id=made[3].id)
        assert [a.id for a in page] == [made[2].id, made[1].id]
        assert service.list_actions(session, action_type=ActionType.CONTENT_BLOCK) == []
        described = service.describe(session, everything)
    assert {d.delivery.state for d in described} == {"pending"}
    assert described[0].delivery.attempts == 0
