"""All SQL of the transparency report: it reads the event log, and nothing else of its own."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.orm import Session

from shieldwall.audit.models import Event
from shieldwall.transparency.models import PublishedReport


def event_rows(
    session: Session, kinds: Sequence[str], *, until: datetime, batch: int = 5000
) -> Iterator[Row[Any]]:
    """Events of ``kinds`` that happened before ``until``, in id order, in keyset batches."""
    cols = (Event.id, Event.occurred_at, Event.kind, Event.subject, Event.payload)
    last = 0
    while True:
        rows = session.execute(
            select(*cols)
            .where(Event.id > last, Event.kind.in_(kinds), Event.occurred_at < until)
            .order_by(Event.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last = rows[-1].id


def kinds_ever(session: Session) -> set[str]:
    """Every event kind the log has ever held."""
    return set(session.scalars(select(Event.kind).distinct()))


def events_by_id(session: Session, ids: Sequence[int]) -> list[Event]:
    out: list[Event] = []
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        out.extend(session.scalars(select(Event).where(Event.id.in_(chunk))))
    return sorted(out, key=lambda e: e.id)


def last_event_before(session: Session, until: datetime) -> tuple[int, str] | None:
    """(id, hash) of the newest event before ``until``: anchors the report to the chain."""
    newest = session.scalar(select(func.max(Event.id)).where(Event.occurred_at < until))
    if newest is None:
        return None
    digest = session.scalar(select(Event.hash).where(Event.id == newest))
    return int(newest), str(digest)


def count_in(session: Session, since: datetime, until: datetime) -> int:
    stmt = select(func.count()).select_from(Event)
    return int(
        session.scalar(stmt.where(Event.occurred_at >= since, Event.occurred_at < until)) or 0
    )


def add_published(session: Session, row: PublishedReport) -> PublishedReport:
    session.add(row)
    session.flush()
    return row


def list_published(session: Session, *, limit: int = 100) -> list[PublishedReport]:
    stmt = select(PublishedReport).order_by(PublishedReport.id.desc()).limit(limit)
    return list(session.scalars(stmt))


def get_published(session: Session, report_id: int) -> PublishedReport | None:
    return session.get(PublishedReport, report_id)
