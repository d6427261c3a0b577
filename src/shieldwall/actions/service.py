"""Rules for actions asked of the platform. Flushes, never commits.

:func:`request_action` records what was asked (an :class:`~shieldwall.actions.models.Action`
row and the event ``action.requested``) and, when a webhook URL is configured, queues the
signed webhook in the outbox in the same transaction: it is sent only after the caller
commits, retried until delivered or given up, and every delivery carries the action's key as
``Idempotency-Key``. Events carry ids and labels, never content.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shieldwall.actions import repository
from shieldwall.actions.models import Action
from shieldwall.actions.schemas import (
    LABEL_PATTERN,
    MAX_KEY,
    MAX_LABELS,
    MAX_REASON,
    MAX_REF,
    ActionOut,
    ActionType,
    DeliveryOut,
    DeliveryState,
    SubjectKind,
)
from shieldwall.audit import service as audit
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.core.errors import Conflict, InvalidInput, NotFound
from shieldwall.core.principles import validate_principles
from shieldwall.db.base import utcnow
from shieldwall.jobs import outbox
from shieldwall.jobs import repository as outbox_repository
from shieldwall.jobs.models import OutboxItem

__all__ = [
    "WEBHOOK_KIND",
    "ActionType",
    "describe",
    "get_action",
    "list_actions",
    "request_action",
    "webhook_body",
]

#: The outbox kind that sends action webhooks (events ``webhook.delivered``/``webhook.failed``).
WEBHOOK_KIND = "webhook"
_LABEL = re.compile(LABEL_PATTERN)


def _actor_ref(actor: Principal | str) -> str:
    return actor.actor if isinstance(actor, Principal) else actor


def _clean_text(value: str, *, field: str, limit: int, required: bool) -> str:
    text = value.strip()
    if required and not text:
        raise InvalidInput(f"{field} must not be empty", field=field)
    if len(text) > limit:
        raise InvalidInput(f"{field} is longer than {limit} characters ({len(text)})", field=field)
    if any(unicodedata.category(c) == "Cc" for c in text):
        raise InvalidInput(
            f"{field} must not contain control characters (line breaks, tabs...)", field=field
        )
    return text


def _clean_labels(labels: Iterable[str]) -> list[str]:
    out: list[str] = []
    for label in labels:
        if not isinstance(label, str) or not _LABEL.fullmatch(label):
            raise InvalidInput(
                "labels must be 1-40 letters, digits or _ . : - (e.g. A1, grooming)",
                field="labels",
            )
        if label not in out:
            out.append(label)
    if len(out) > MAX_LABELS:
        raise InvalidInput(f"at most {MAX_LABELS} labels", field="labels")
    return out


def webhook_body(action: Action) -> dict[str, Any]:
    """The webhook's JSON body for ``action``; the same on every delivery attempt."""
    return {
        "id": action.key,
        "type": action.type,
        "created_at": action.requested_at.isoformat().replace("+00:00", "Z"),
        "data": {
            "case_id": action.case_id,
            "subject_kind": action.subject_kind,
            "subject_ref": action.subject_ref,
            "labels": list(action.labels),
            "reason": action.reason,
        },
    }


def request_action(
    session: Session,
    settings: Settings,
    action: ActionType,
    *,
    subject_kind: str,
    subject_ref: str,
    case_id: int | None,
    labels: Sequence[str],
    reason: str,
    key: str,
    actor: Principal | str,
    principles: Iterable[int] = (),
) -> Action:
    """Ask the platform to act on a subject; returns the recorded action.

    Idempotent on ``key``: asking again with the same key returns the first action and adds
    nothing (no second event, no second webhook); the same key for a different action type or
    subject is a :class:`Conflict`. ``reason`` is a short plain-words reason shown to the
    platform (e.g. "violating: A1"), never content. ``principles`` (the case's) go into the
    events. Raises :class:`InvalidInput` for malformed values, before anything is written.
    """
    try:
        kind = ActionType(action)
    except ValueError:
        known = ", ".join(t.value for t in ActionType)
        raise InvalidInput(f"unknown action {str(action)[:40]!r}; known: {known}") from None
    try:
        subject = SubjectKind(subject_kind)
    except ValueError:
        known = ", ".join(k.value for k in SubjectKind)
        raise InvalidInput(
            f"unknown subject kind {str(subject_kind)[:40]!r}; known: {known}",
            field="subject_kind",
        ) from None
    ref = _clean_text(subject_ref, field="subject_ref", limit=MAX_REF, required=True)
    key = _clean_text(key, field="key", limit=MAX_KEY, required=True)
    why = _clean_text(reason, field="reason", limit=MAX_REASON, required=False)
    clean_labels = _clean_labels(labels)
    if case_id is not None and not (1 <= case_id < 2**63):
        raise InvalidInput("case_id must be a positive id", field="case_id")
    try:
        numbers = list(validate_principles(tuple(principles)))
    except ValueError as exc:
        raise InvalidInput(str(exc), field="principles") from None

    existing = repository.get_by_key(session, key)
    if existing is not None:
        return _same_or_conflict(existing, kind, subject, ref)

    row = Action(
        key=key,
        type=kind.value,
        subject_kind=subject.value,
        subject_ref=ref,
        case_id=case_id,
        labels=clean_labels,
        reason=why,
        principles=numbers,
        requested_by=_actor_ref(actor),
        requested_at=utcnow(),
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        existing = repository.get_by_key(session, key)
        if existing is None:
            raise
        return _same_or_conflict(existing, kind, subject, ref)

    item: OutboxItem | None = None
    if settings.webhook_url.strip():
        item = outbox.enqueue(
            session,
            kind=WEBHOOK_KIND,
            key=f"{WEBHOOK_KIND}:{key}",
            payload={"action_id": row.id, "body": webhook_body(row)},
            subject=f"action:{row.id}",
            principles=numbers,
        )
        row.outbox_item_id = item.id
        session.flush()
    audit.record(
        session,
        "action.requested",
        actor=actor,
        subject=f"action:{row.id}",
        principles=numbers,
        payload={
            "action_id": row.id,
            "type": kind.value,
            "case_id": case_id,
            "labels": clean_labels,
            "outbox_item_id": item.id if item is not None else None,
        },
    )
    return row


def _same_or_conflict(existing: Action, kind: ActionType, subject: SubjectKind, ref: str) -> Action:
    if (existing.type, existing.subject_kind, existing.subject_ref) != (
        kind.value,
        subject.value,
        ref,
    ):
        raise Conflict(
            f"idempotency key already used for action {existing.id} "
            f"({existing.type} on another subject or of another type)",
            action_id=existing.id,
        )
    return existing


def get_action(session: Session, action_id: int) -> Action:
    # ids are 64-bit: a larger number names no action (and overflows the database driver)
    action = repository.get(session, action_id) if 1 <= action_id < 2**63 else None
    if action is None:
        raise NotFound(f"no action with id {action_id}")
    return action


def list_actions(
    session: Session,
    *,
    case_id: int | None = None,
    subject_kind: str | None = None,
    subject_ref: str | None = None,
    action_type: ActionType | str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Action]:
    """Actions, newest first, filtered by case, subject or type; page with ``before_id``."""
    return list(
        repository.list_actions(
            session,
            case_id=case_id,
            subject_kind=subject_kind,
            subject_ref=subject_ref,
            action_type=str(action_type) if action_type is not None else None,
            before_id=before_id,
            limit=max(1, min(limit, 500)),
        )
    )


def _delivery(item: OutboxItem | None) -> DeliveryOut:
    if item is None:
        return DeliveryOut(state=DeliveryState.NOT_SENT)
    state = DeliveryState(item.status)
    return DeliveryOut(
        state=state,
        attempts=item.attempts,
        last_attempt_at=item.last_attempt_at,
        next_attempt_at=item.next_attempt_at
        if state in (DeliveryState.PENDING, DeliveryState.SENDING)
        else None,
        delivered_at=item.finished_at if state is DeliveryState.SENT else None,
        last_error=item.last_error,
    )


def describe(session: Session, actions: Sequence[Action]) -> list[ActionOut]:
    """Actions with their webhook delivery state, in one query for the deliveries."""
    ids = {a.outbox_item_id for a in actions if a.outbox_item_id is not None}
    items = outbox_repository.get_many(session, ids)
    return [
        ActionOut(
            id=a.id,
            key=a.key,
            type=ActionType(a.type),
            subject_kind=a.subject_kind,
            subject_ref=a.subject_ref,
            case_id=a.case_id,
            labels=list(a.labels),
            reason=a.reason,
            requested_by=a.requested_by,
            requested_at=a.requested_at,
            delivery=_delivery(
                items.get(a.outbox_item_id) if a.outbox_item_id is not None else None
            ),
        )
        for a in actions
    ]
