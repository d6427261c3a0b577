"""Helpers for outbox tests: a settable clock and a way to request an action and commit."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select

from shieldwall.actions import service as actions
from shieldwall.actions.models import Action
from shieldwall.actions.service import ActionType
from shieldwall.audit.models import Event
from shieldwall.config import Settings
from shieldwall.db.base import utcnow
from shieldwall.db.engine import Database
from shieldwall.jobs.models import OutboxItem


class Clock:
    """A clock tests move by hand (the receiver "down for hours" without sleeping)."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or utcnow()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def set(self, when: datetime) -> None:
        self.now = when


def request(
    db: Database,
    settings: Settings,
    key: str = "case:1:content.remove",
    *,
    action: ActionType = ActionType.CONTENT_REMOVE,
    subject_ref: str = "post-1",
    case_id: int | None = 1,
) -> Action:
    """Request an action and commit, as a decision would."""
    with db.session() as session:
        return actions.request_action(
            session,
            settings,
            action,
            subject_kind="content",
            subject_ref=subject_ref,
            case_id=case_id,
            labels=["A1"],
            reason="violating: A1",
            key=key,
            actor="system:tests",
            principles=[2],
        )


def item_of(db: Database, action: Action) -> OutboxItem:
    assert action.outbox_item_id is not None
    with db.session() as session:
        item = session.get(OutboxItem, action.outbox_item_id)
        assert item is not None
        session.expunge(item)
        return item


def events(db: Database, kind: str) -> list[Event]:
    with db.session() as session:
        rows = list(session.scalars(select(Event).where(Event.kind == kind).order_by(Event.id)))
        for row in rows:
            session.expunge(row)
        return rows


def wait_until(check: Callable[[], bool], *, timeout: float = 20.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in time: {what}")
        time.sleep(0.02)
