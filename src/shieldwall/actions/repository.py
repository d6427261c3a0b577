"""All SQL for actions."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.actions.models import Action


def get(session: Session, action_id: int) -> Action | None:
    return session.get(Action, action_id)


def get_by_key(session: Session, key: str) -> Action | None:
    return session.scalars(select(Action).where(Action.key == key)).first()


def list_actions(
    session: Session,
    *,
    case_id: int | None = None,
    subject_kind: str | None = None,
    subject_ref: str | None = None,
    action_type: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> Sequence[Action]:
    """Newest first."""
    query = select(Action).order_by(Action.id.desc()).limit(limit)
    if case_id is not None:
        query = query.where(Action.case_id == case_id)
    if subject_kind is not None:
        query = query.where(Action.subject_kind == subject_kind)
    if subject_ref is not None:
        query = query.where(Action.subject_ref == subject_ref)
    if action_type is not None:
        query = query.where(Action.type == action_type)
    if before_id is not None:
        query = query.where(Action.id < before_id)
    return session.scalars(query).all()
