"""User reports, survivors' takedown requests, and the rate-limit windows guarding both.

Nothing here holds a person's network address or a reporter's platform id in the clear:
both are kept only as keyed hashes (HMAC-SHA256 with the installation's secret key). Free
text (a report's text, a requester's contact and message) is sealed with
:mod:`shieldwall.core.sealing`, bound to its row.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from shieldwall.db.base import Base, JSONType, utcnow

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UserReport(Base):
    """One report by a platform's user about content, an account or a conversation.

    ``subject_kind``/``subject_ref`` name the case subject the report was filed under; a later
    report about the same content (same content id, URL or hash) reuses the subject of the
    earliest one, so they join one case. ``text_sealed`` is the free text sealed with
    associated data ``user_report:<id>:text``.
    """

    __tablename__ = "user_reports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    submitted_by: Mapped[str] = mapped_column(String(120))
    reporter_key: Mapped[str] = mapped_column(String(64), index=True)
    category: Mapped[str] = mapped_column(String(40))
    child_in_danger: Mapped[bool] = mapped_column(Boolean, default=False)
    content_id: Mapped[str | None] = mapped_column(String(200), default=None)
    url: Mapped[str | None] = mapped_column(Text, default=None)
    account_id: Mapped[str | None] = mapped_column(String(200), default=None)
    conversation_id: Mapped[str | None] = mapped_column(String(200), default=None)
    hashes: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    text_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    text_chars: Mapped[int] = mapped_column(Integer, default=0)
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject_ref: Mapped[str] = mapped_column(String(200))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None, index=True)


class UserReportKey(Base):
    """What a report points at, as lookup keys: SHA-256 of ``content\\0<id>``,
    ``url\\0<url>`` or ``<signal type>\\0<hash>``. Repeated reports find each other here."""

    __tablename__ = "user_report_keys"
    __table_args__ = (UniqueConstraint("report_id", "key", name="uq_user_report_keys_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    report_id: Mapped[int] = mapped_column(BigId, ForeignKey("user_reports.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64), index=True)


class TakedownRequest(Base):
    """A survivor's (or their helper's) request to block known imagery, by hashes only.

    ``token_hash`` is the SHA-256 of the status token handed out once. ``contact_sealed`` and
    ``message_sealed`` hold what the requester chose to share, sealed with associated data
    ``takedown_request:<id>:contact`` / ``:message``. ``status`` is ``received``, ``approved``
    (hashes in place since ``in_place_since``) or ``declined`` (``status_reason`` says why in
    plain words, never who decided).
    """

    __tablename__ = "takedown_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    status_reason: Mapped[str | None] = mapped_column(String(400), default=None)
    category: Mapped[str | None] = mapped_column(String(40), default=None)
    on_behalf: Mapped[bool] = mapped_column(Boolean, default=False)
    hashes: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    hash_count: Mapped[int] = mapped_column(Integer)
    contact_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    message_sealed: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), default=None, index=True)
    bank_entry_ids: Mapped[list[int]] = mapped_column(JSONType)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(default=None)
    in_place_since: Mapped[datetime | None] = mapped_column(default=None)


class RateLimitWindow(Base):
    """Requests counted for one caller in one fixed window of one limit (``bucket``).

    ``caller_key`` is a keyed hash (never an address or a platform id). Two consecutive
    windows give a sliding-window estimate; a row is no longer needed at ``expires_at`` (the
    end of the window after its own) and is deleted when the next window starts for anyone.
    """

    __tablename__ = "rate_limit_windows"
    __table_args__ = (
        UniqueConstraint(
            "bucket", "caller_key", "window_start", name="uq_rate_limit_windows_window"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bucket: Mapped[str] = mapped_column(String(40))
    caller_key: Mapped[str] = mapped_column(String(64))
    window_start: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(index=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
