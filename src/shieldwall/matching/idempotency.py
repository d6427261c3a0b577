"""Idempotent scans: the same ``Idempotency-Key`` from the same caller gets the same answer."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shieldwall.core.errors import Conflict, InvalidInput
from shieldwall.db.base import utcnow
from shieldwall.matching.models import ScanRequest

MAX_KEY_LENGTH = 200


def digest(*parts: bytes | str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode() if isinstance(part, str) else part)
        h.update(b"\x00")
    return h.hexdigest()


def check_key(key: str) -> str:
    key = key.strip()
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1-{MAX_KEY_LENGTH} printable characters",
            field="Idempotency-Key",
        )
    return key


def stored(
    session: Session, actor: str, key: str, request_digest: str, *, ttl_hours: int
) -> ScanRequest | None:
    """The earlier answer for this key within the last ``ttl_hours``, or None; Conflict if
    the key was used for another request."""
    row = session.scalar(
        select(ScanRequest).where(
            ScanRequest.actor == actor,
            ScanRequest.idempotency_key == key,
            ScanRequest.created_at >= _cutoff(ttl_hours),
        )
    )
    if row is None:
        return None
    if row.request_digest != request_digest:
        raise Conflict(
            "this Idempotency-Key was already used for a different request; use a new key",
            field="Idempotency-Key",
        )
    return row


def remember(
    session: Session,
    actor: str,
    key: str,
    request_digest: str,
    response: dict[str, Any],
    *,
    ttl_hours: int,
    status_code: int = 200,
) -> ScanRequest:
    """Store the answer, dropping answers older than ``ttl_hours`` (an indexed delete that
    usually finds nothing); when a concurrent request stored one first, return that
    instead."""
    purge(session, ttl_hours=ttl_hours)
    row = ScanRequest(
        actor=actor,
        idempotency_key=key,
        request_digest=request_digest,
        status_code=status_code,
        response=response,
    )
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        earlier = stored(session, actor, key, request_digest, ttl_hours=ttl_hours)
        if earlier is None:  # pragma: no cover - the row that clashed is gone again
            raise
        return earlier
    return row


def _cutoff(ttl_hours: int) -> datetime:
    return utcnow() - timedelta(hours=ttl_hours)


def purge(session: Session, *, ttl_hours: int) -> int:
    result = session.execute(delete(ScanRequest).where(ScanRequest.created_at < _cutoff(ttl_hours)))
    return int(getattr(result, "rowcount", 0) or 0)
