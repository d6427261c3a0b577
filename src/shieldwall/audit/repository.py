"""All SQL for the event log."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from shieldwall.audit.models import Event, EventChainHead


def lock_head(session: Session) -> EventChainHead:
    """The chain head, locked for this transaction (a row lock on PostgreSQL)."""
    stmt = (
        select(EventChainHead)
        .where(EventChainHead.id == 1)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    head = session.execute(stmt).scalar_one_or_none()
    if head is None:
        raise RuntimeError("event_chain_head row is missing; was the database migrated?")
    return head


def get_head(session: Session) -> EventChainHead | None:
    return session.get(EventChainHead, 1, populate_existing=True)


def iter_event_rows(session: Session, *, batch: int = 2000) -> Iterator[Row[Any]]:
    """Every event as a plain row, in id order, fetched in keyset batches.

    Rows, not ORM objects, so verifying a long chain keeps memory flat.
    """
    cols = (
        Event.id,
        Event.occurred_at,
        Event.actor,
        Event.kind,
        Event.subject,
        Event.principles,
        Event.payload,
        Event.prev_hash,
        Event.hash,
    )
    last = 0
    while True:
        rows = session.execute(
            select(*cols).where(Event.id > last).order_by(Event.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def list_events(
    session: Session,
    *,
    kind: str | None = None,
    kind_prefix: str | None = None,
    actor: str | None = None,
    subject: str | None = None,
    principle: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[Event]:
    stmt = select(Event)
    if kind:
        stmt = stmt.where(Event.kind == kind)
    if kind_prefix:
        stmt = stmt.where(Event.kind.startswith(kind_prefix, autoescape=True))
    if actor:
        stmt = stmt.where(Event.actor == actor)
    if subject:
        stmt = stmt.where(Event.subject == subject)
    if since:
        stmt = stmt.where(Event.occurred_at >= since)
    if until:
        stmt = stmt.where(Event.occurred_at < until)
    if before_id:
        stmt = stmt.where(Event.id < before_id)
    stmt = stmt.order_by(Event.id.desc())
    if principle is None:
        return list(session.scalars(stmt.limit(limit)))
    # JSON containment differs per database; principle lists are tiny, so filter here.
    out: list[Event] = []
    for event in session.scalars(stmt.execution_options(yield_per=500)):
        if principle in event.principles:
            out.append(event)
            if len(out) >= limit:
                break
    return out


def count_events(
    session: Session,
    *,
    since: datetime | None = None,
    exclude_prefixes: tuple[str, ...] = (),
) -> int:
    stmt = select(func.count()).select_from(Event)
    if since:
        stmt = stmt.where(Event.occurred_at >= since)
    for prefix in exclude_prefixes:
        stmt = stmt.where(~Event.kind.startswith(prefix, autoescape=True))
    return int(session.scalar(stmt) or 0)
