"""All SQL for stored media."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from shieldwall.media.models import MediaObject


def get(session: Session, media_id: int) -> MediaObject | None:
    return session.get(MediaObject, media_id)


def by_sha256(session: Session, sha256: str, *, lock: bool = False) -> MediaObject | None:
    query = select(MediaObject).where(MediaObject.sha256 == sha256)
    if lock:
        query = query.with_for_update()
    return session.scalars(query).one_or_none()


def expired(session: Session, now: datetime, *, limit: int, after_id: int = 0) -> list[MediaObject]:
    """Objects past their retention with an id above ``after_id``, in id order, locked
    (PostgreSQL) so a concurrent store that extends one waits for this transaction or is
    waited for."""
    query = (
        select(MediaObject)
        .where(MediaObject.retain_until <= now, MediaObject.id > after_id)
        .order_by(MediaObject.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def delete_ids(session: Session, ids: Sequence[int]) -> None:
    session.execute(delete(MediaObject).where(MediaObject.id.in_(ids)))


def known_uuids(session: Session, uuids: Iterable[str]) -> set[str]:
    wanted = list(uuids)
    if not wanted:
        return set()
    return set(session.scalars(select(MediaObject.uuid).where(MediaObject.uuid.in_(wanted))))


def not_under_key(session: Session, key_id: str, *, after_id: int, limit: int) -> list[MediaObject]:
    query = (
        select(MediaObject)
        .where(MediaObject.key_id != key_id, MediaObject.id > after_id)
        .order_by(MediaObject.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def count_by_key(session: Session) -> dict[str, int]:
    rows = session.execute(select(MediaObject.key_id, func.count()).group_by(MediaObject.key_id))
    return {key: int(n) for key, n in rows}
