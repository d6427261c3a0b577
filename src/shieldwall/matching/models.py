from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shieldwall.db.base import Base, JSONType, utcnow


class ScanRequest(Base):
    """The stored answer to a scan sent with an ``Idempotency-Key``, so a retried request
    gets the same answer (and the scan is counted once). Kept for ``idempotency_ttl_hours``."""

    __tablename__ = "scan_requests"
    __table_args__ = (UniqueConstraint("actor", "idempotency_key", name="uq_scan_requests_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    actor: Mapped[str] = mapped_column(String(120))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    request_digest: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSONType)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
