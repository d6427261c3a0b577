"""Reports, the cases each covers, and every step of their lifecycle."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from shieldwall.cases.models import BigId
from shieldwall.db.base import Base, utcnow


class Report(Base):
    """One report to one destination. ``data_sealed`` is the report's content
    (:class:`~shieldwall.integrations.cybertipline.model.ReportData` as JSON), sealed with
    the primary case id as associated data; the row itself holds ids and states only.
    ``group_key`` (``user:<account>``) lets later cases of the same user join the report
    while it is still ``queued``."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_group", "destination", "group_key", "status"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    destination: Mapped[str] = mapped_column(String(40))
    environment: Mapped[str] = mapped_column(String(20), default="")
    status: Mapped[str] = mapped_column(String(20), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    group_key: Mapped[str | None] = mapped_column(String(240), default=None)
    external_id: Mapped[str | None] = mapped_column(String(100), default=None)
    data_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    file_count: Mapped[int] = mapped_column(Integer, default=0)
    case_count: Mapped[int] = mapped_column(Integer, default=1)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    queued_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    retracted_at: Mapped[datetime | None] = mapped_column(default=None)


class ReportCase(Base):
    """A case a report covers. ``case_id`` is unique: a case is never reported twice."""

    __tablename__ = "report_cases"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class ReportStep(Base):
    """One step of a report's lifecycle, done or failed. The ``done`` steps are how a
    worker that resumes after a crash knows where to start: ``submit`` (``external_ref`` =
    the report id), ``upload`` and ``fileinfo`` per file (``file_index``; the upload's
    ``external_ref`` = the file id), ``finish``, ``retract``, ``package``."""

    __tablename__ = "report_steps"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id"), index=True)
    step: Mapped[str] = mapped_column(String(20))
    file_index: Mapped[int | None] = mapped_column(Integer, default=None)
    outcome: Mapped[str] = mapped_column(String(20))
    external_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    detail: Mapped[str] = mapped_column(String(500), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)


class ReportContext(Base):
    """What the platform told us about a case for its report (the reported user's screen
    name, IP capture events, device ids, recipients, victims, jurisdictions...), sealed at
    rest with the case id as associated data. One per case."""

    __tablename__ = "report_contexts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    data_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    updated_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
