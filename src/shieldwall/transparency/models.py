"""Published transparency reports: the exact document as it was published."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from shieldwall.cases.models import BigId
from shieldwall.db.base import Base, JSONType, utcnow


class PublishedReport(Base):
    """A snapshot of a report when it was published. The numbers of a past period can be
    recomputed from the append-only log, but the live configuration and the settings behind
    its other sections change, so the published document is kept as it was; ``sha256`` is of
    its canonical JSON."""

    __tablename__ = "transparency_reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    period_start: Mapped[date] = mapped_column(Date, index=True)
    period_end: Mapped[date] = mapped_column(Date)
    schema_version: Mapped[str] = mapped_column(String(10))
    sha256: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column(JSONType)
    published_by: Mapped[str] = mapped_column(String(120))
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
