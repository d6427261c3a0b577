"""All SQL for the outbox.

Claims take one due row with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so two workers never
take the same row and neither waits for the other; on SQLite the transaction's
``BEGIN IMMEDIATE`` already serialises writers. Outcome updates are conditional (``WHERE``
the row is still in the state the worker left it in), so a worker that lost its lease never
overwrites the newer claim.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from shieldwall.jobs.models import OutboxItem, OutboxStatus

#: States a worker may claim once ``next_attempt_at`` has passed (for ``sending`` that is the
#: end of the lease: the worker that held it died or hung).
CLAIMABLE = (OutboxStatus.PENDING.value, OutboxStatus.SENDING.value)


def get(session: Session, item_id: int) -> OutboxItem | None:
    if not 1 <= item_id < 2**63:
        return None  # names no item (ids are 64-bit), and would overflow the driver
    return session.get(OutboxItem, item_id)


def get_by_key(session: Session, key: str) -> OutboxItem | None:
    return session.scalars(select(OutboxItem).where(OutboxItem.key == key)).first()


def claim_next(
    session: Session,
    *,
    kinds: Collection[str],
    now: datetime,
    lease_until: datetime,
    owner: str,
) -> OutboxItem | None:
    """Take the oldest due item of one of ``kinds`` and lease it to ``owner``; flushes."""
    if not kinds:
        return None
    item = session.scalars(
        select(OutboxItem)
        .where(
            OutboxItem.status.in_(CLAIMABLE),
            OutboxItem.next_attempt_at <= now,
            OutboxItem.kind.in_(sorted(kinds)),
        )
        .order_by(OutboxItem.next_attempt_at, OutboxItem.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if item is None:
        return None
    item.status = OutboxStatus.SENDING.value
    item.attempts += 1
    item.lease_until = lease_until
    item.lease_owner = owner
    item.last_attempt_at = now
    # One indexed column orders both pending items and expired leases.
    item.next_attempt_at = lease_until
    session.flush()
    return item


def _still_ours(item_id: int, owner: str, attempts: int) -> Any:
    return (
        (OutboxItem.id == item_id)
        & (OutboxItem.status == OutboxStatus.SENDING.value)
        & (OutboxItem.lease_owner == owner)
        & (OutboxItem.attempts == attempts)
    )


def mark_sent(session: Session, item_id: int, *, now: datetime) -> bool:
    """Sent, unless it already was (or was finished otherwise): True when this call changed it.

    Not tied to the lease: a delivery that happened counts even if a slow worker lost its
    lease meanwhile; the other worker's later update then changes nothing.
    """
    result = session.execute(
        update(OutboxItem)
        .where(OutboxItem.id == item_id, OutboxItem.status.in_(CLAIMABLE))
        .values(
            status=OutboxStatus.SENT.value,
            finished_at=now,
            lease_until=None,
            lease_owner=None,
            last_error=None,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_retry(
    session: Session,
    item_id: int,
    *,
    owner: str,
    attempts: int,
    next_attempt_at: datetime,
    error: str,
    now: datetime,
) -> bool:
    """Back to pending until ``next_attempt_at``; only while the claim is still ours."""
    result = session.execute(
        update(OutboxItem)
        .where(_still_ours(item_id, owner, attempts))
        .values(
            status=OutboxStatus.PENDING.value,
            next_attempt_at=next_attempt_at,
            lease_until=None,
            lease_owner=None,
            last_error=error,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_finished(
    session: Session,
    item_id: int,
    *,
    owner: str,
    attempts: int,
    status: OutboxStatus,
    error: str,
    now: datetime,
) -> bool:
    """Failed or dead for good; only while the claim is still ours."""
    result = session.execute(
        update(OutboxItem)
        .where(_still_ours(item_id, owner, attempts))
        .values(
            status=status.value,
            finished_at=now,
            lease_until=None,
            lease_owner=None,
            last_error=error,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def requeue(session: Session, item: OutboxItem, *, now: datetime) -> None:
    """A finished item due again now, as if new (attempts and age start again)."""
    item.status = OutboxStatus.PENDING.value
    item.attempts = 0
    item.created_at = now
    item.next_attempt_at = now
    item.lease_until = None
    item.lease_owner = None
    item.finished_at = None
    session.flush()


def list_items(
    session: Session,
    *,
    status: str | None = None,
    kind: str | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> Sequence[OutboxItem]:
    """Newest first."""
    query = select(OutboxItem).order_by(OutboxItem.id.desc()).limit(limit)
    if status is not None:
        query = query.where(OutboxItem.status == status)
    if kind is not None:
        query = query.where(OutboxItem.kind == kind)
    if before_id is not None:
        query = query.where(OutboxItem.id < before_id)
    return session.scalars(query).all()


def get_many(session: Session, ids: Collection[int]) -> dict[int, OutboxItem]:
    if not ids:
        return {}
    rows = session.scalars(select(OutboxItem).where(OutboxItem.id.in_(sorted(ids))))
    return {row.id: row for row in rows}


def count_by_status(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(OutboxItem.status, func.count()).group_by(OutboxItem.status)
    ).all()
    return {status: int(count) for status, count in rows}
