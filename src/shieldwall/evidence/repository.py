"""All SQL for the evidence vault."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from shieldwall.evidence.models import EvidenceHold, EvidenceItem


def get(session: Session, evidence_id: int, *, lock: bool = False) -> EvidenceItem | None:
    """The item (from the session when it already holds it; ``lock``: read it again, locked)."""
    if lock:
        return session.get(EvidenceItem, evidence_id, with_for_update=True)
    return session.get(EvidenceItem, evidence_id)


def by_key(session: Session, dedupe_key: str, *, lock: bool = False) -> EvidenceItem | None:
    query = select(EvidenceItem).where(EvidenceItem.dedupe_key == dedupe_key)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def for_case(session: Session, case_id: int, *, lock: bool = False) -> list[EvidenceItem]:
    query = select(EvidenceItem).where(EvidenceItem.case_id == case_id).order_by(EvidenceItem.id)
    if lock:
        query = query.with_for_update()
    return list(session.scalars(query))


def page(session: Session, *, case_id: int | None, after_id: int, limit: int) -> list[EvidenceItem]:
    query = select(EvidenceItem).where(EvidenceItem.id > after_id)
    if case_id is not None:
        query = query.where(EvidenceItem.case_id == case_id)
    return list(session.scalars(query.order_by(EvidenceItem.id).limit(limit)))


def active_hold(session: Session, evidence_id: int) -> EvidenceHold | None:
    query = (
        select(EvidenceHold)
        .where(EvidenceHold.evidence_id == evidence_id, EvidenceHold.released_at.is_(None))
        .order_by(EvidenceHold.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def active_holds(session: Session, evidence_ids: Sequence[int]) -> dict[int, EvidenceHold]:
    if not evidence_ids:
        return {}
    query = select(EvidenceHold).where(
        EvidenceHold.evidence_id.in_(list(evidence_ids)), EvidenceHold.released_at.is_(None)
    )
    return {hold.evidence_id: hold for hold in session.scalars(query)}


def holds_of(session: Session, evidence_id: int) -> list[EvidenceHold]:
    query = select(EvidenceHold).where(EvidenceHold.evidence_id == evidence_id)
    return list(session.scalars(query.order_by(EvidenceHold.id)))


def expired(session: Session, now: datetime, *, limit: int) -> list[EvidenceItem]:
    """Unheld items past their retention, oldest first; rows another transaction holds
    locked (a hold being placed, a report extending retention) are skipped this time."""
    query = (
        select(EvidenceItem)
        .where(EvidenceItem.retain_until <= now, EvidenceItem.legal_hold.is_(False))
        .order_by(EvidenceItem.retain_until, EvidenceItem.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def count_expired_held(session: Session, now: datetime) -> int:
    query = select(func.count()).where(
        EvidenceItem.retain_until <= now, EvidenceItem.legal_hold.is_(True)
    )
    return int(session.scalar(query) or 0)


def delete_ids(session: Session, ids: Sequence[int]) -> None:
    session.execute(delete(EvidenceHold).where(EvidenceHold.evidence_id.in_(ids)))
    session.execute(delete(EvidenceItem).where(EvidenceItem.id.in_(ids)))


def known_uuids(session: Session, uuids: Iterable[str]) -> set[str]:
    wanted = list(uuids)
    if not wanted:
        return set()
    return set(session.scalars(select(EvidenceItem.uuid).where(EvidenceItem.uuid.in_(wanted))))


def not_under_key(
    session: Session, key_id: str, *, after_id: int, limit: int
) -> list[EvidenceItem]:
    query = (
        select(EvidenceItem)
        .where(EvidenceItem.key_id != key_id, EvidenceItem.id > after_id)
        .order_by(EvidenceItem.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def count_by_key(session: Session) -> dict[str, int]:
    rows = session.execute(select(EvidenceItem.key_id, func.count()).group_by(EvidenceItem.key_id))
    return {key: int(n) for key, n in rows}
