"""Cases, their signals and decisions, scan history, and reviewers' media preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from shieldwall.db.base import Base, JSONType, utcnow

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Case(Base):
    """One subject (content, account or conversation) and every signal about it.

    ``active_key`` is ``<subject_kind>:<subject_ref>`` while the case is active (open,
    in review, escalated) and NULL afterwards. It is unique, so the database itself keeps
    one active case per subject, whatever the number of processes.
    """

    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_queue", "status", "priority", "detected_at"),
        Index("ix_cases_subject", "subject_kind", "subject_ref"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject_ref: Mapped[str] = mapped_column(String(200))
    account_ref: Mapped[str | None] = mapped_column(String(200), default=None)
    active_key: Mapped[str | None] = mapped_column(String(240), unique=True, default=None)
    status: Mapped[str] = mapped_column(String(20))
    sources: Mapped[list[str]] = mapped_column(JSONType)
    principles: Mapped[list[int]] = mapped_column(JSONType)
    labels: Mapped[list[str]] = mapped_column(JSONType)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    priority_rule: Mapped[str] = mapped_column(String(60), default="")
    child_in_danger: Mapped[bool] = mapped_column(default=False)
    top_score: Mapped[float | None] = mapped_column(Float, default=None)
    signal_count: Mapped[int] = mapped_column(Integer, default=0)
    media_id: Mapped[int | None] = mapped_column(BigId, default=None)
    assignee_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), default=None, index=True
    )
    assigned_at: Mapped[datetime | None] = mapped_column(default=None)
    detected_at: Mapped[datetime] = mapped_column(default=utcnow)
    first_reviewed_at: Mapped[datetime | None] = mapped_column(default=None)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)
    outcome: Mapped[str | None] = mapped_column(String(20), default=None)
    label: Mapped[str | None] = mapped_column(String(40), default=None)
    decided_by: Mapped[str | None] = mapped_column(String(120), default=None)
    appeal_of_case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id"), default=None, index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class CaseSignal(Base):
    """One signal joined to a case. ``hashes`` are kept for hash-on-confirm and never shown
    in events; ``summary`` holds ids, labels, scores and counts only."""

    __tablename__ = "case_signals"
    __table_args__ = (UniqueConstraint("case_id", "ref", name="uq_case_signals_ref"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    source: Mapped[str] = mapped_column(String(30))
    ref: Mapped[str | None] = mapped_column(String(200), default=None)
    principles: Mapped[list[int]] = mapped_column(JSONType)
    summary: Mapped[dict[str, Any]] = mapped_column(JSONType)
    labels: Mapped[list[str]] = mapped_column(JSONType)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    child_in_danger: Mapped[bool] = mapped_column(default=False)
    # No foreign key: media expire by retention; a case keeps its record of what was seen.
    media_id: Mapped[int | None] = mapped_column(BigId, default=None)
    hashes: Mapped[list[list[str]]] = mapped_column(JSONType)
    actor: Mapped[str] = mapped_column(String(120))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class CaseDecision(Base):
    """A reviewer's decision on a case. The note is sealed (core.sealing) with the case id as
    associated data. ``bank_entry_ids`` are the entries hash-on-confirm added or revived (an
    upheld appeal removes exactly those)."""

    __tablename__ = "case_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    label: Mapped[str | None] = mapped_column(String(40), default=None)
    state: Mapped[str] = mapped_column(String(30))
    note_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    decided_by: Mapped[str] = mapped_column(String(120))
    decided_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    decided_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_by: Mapped[str | None] = mapped_column(String(120), default=None)
    confirmed_by_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    confirmed_at: Mapped[datetime | None] = mapped_column(default=None)
    confirm_note_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    bank: Mapped[str | None] = mapped_column(String(100), default=None)
    bank_entry_ids: Mapped[list[int]] = mapped_column(JSONType)


class ScanRecord(Base):
    """One scan: its references, hashes and verdict, kept ``scan_retention_days`` so later
    knowledge (a survivor's hashes, a confirmed case) can find past uploads."""

    __tablename__ = "scan_records"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    scan_id: Mapped[str] = mapped_column(String(32), unique=True)
    content_ref: Mapped[str | None] = mapped_column(String(200), default=None, index=True)
    account_ref: Mapped[str | None] = mapped_column(String(200), default=None, index=True)
    actor: Mapped[str] = mapped_column(String(120))
    source: Mapped[str] = mapped_column(String(10))
    media_kind: Mapped[str] = mapped_column(String(20))
    verdict: Mapped[str] = mapped_column(String(10))
    md5: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    sha256: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    pdq: Mapped[str | None] = mapped_column(String(64), default=None)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None)
    scanned_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    retain_until: Mapped[datetime] = mapped_column(index=True)


class ReviewPreference(Base):
    """Media display preferences: the organisation's defaults (``owner`` = ``organisation``)
    or one reviewer's (``owner`` = ``user:<id>``). NULL means "inherit"."""

    __tablename__ = "review_preferences"

    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str] = mapped_column(String(40), unique=True)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), default=None, index=True
    )
    blur: Mapped[bool | None] = mapped_column(default=None)
    grayscale: Mapped[bool | None] = mapped_column(default=None)
    video_muted: Mapped[bool | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str] = mapped_column(String(120))
