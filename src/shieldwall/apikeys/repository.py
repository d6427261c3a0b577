"""All SQL for API keys."""

from __future__ import annotations

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from shieldwall.apikeys.models import ApiKey
from shieldwall.db.base import utcnow

#: Key ids are 32-bit integers: a larger number names no key (and overflows the driver).
MAX_KEY_ID = 2**31 - 1


def get(session: Session, key_id: int) -> ApiKey | None:
    if not 1 <= key_id <= MAX_KEY_ID:
        return None
    return session.get(ApiKey, key_id)


def get_by_prefix(session: Session, prefix: str) -> ApiKey | None:
    return session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))


def list_keys(session: Session, *, include_revoked: bool = True) -> list[ApiKey]:
    stmt = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        stmt = stmt.where(ApiKey.revoked_at.is_(None))
    return list(session.scalars(stmt))


def count_active(session: Session) -> int:
    """Keys that work now: not revoked and not expired."""
    stmt = (
        select(func.count())
        .select_from(ApiKey)
        .where(
            ApiKey.revoked_at.is_(None),
            or_(ApiKey.expires_at.is_(None), ApiKey.expires_at > utcnow()),
        )
    )
    return int(session.scalar(stmt) or 0)
