"""Actions asked of the platform (block, remove, restore, suspend) and how they were sent."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from shieldwall.db.base import Base, JSONType, utcnow
from shieldwall.jobs.models import BigId


class Action(Base):
    """One action requested of the platform, for one subject, usually because of a case.

    ``key`` is the idempotency key the platform sees (the webhook's ``id`` and
    ``Idempotency-Key``); asking again with the same key returns this row. ``outbox_item_id``
    points at the webhook's delivery, or is empty when no webhook URL was configured.
    ``case_id`` is a plain column: the cases table belongs to a later migration.
    """

    __tablename__ = "actions"
    __table_args__ = (Index("ix_actions_subject", "subject_kind", "subject_ref"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    type: Mapped[str] = mapped_column(String(30))
    subject_kind: Mapped[str] = mapped_column(String(20))
    subject_ref: Mapped[str] = mapped_column(String(200))
    case_id: Mapped[int | None] = mapped_column(BigInteger, default=None, index=True)
    labels: Mapped[list[str]] = mapped_column(JSONType)
    reason: Mapped[str] = mapped_column(String(300), default="")
    principles: Mapped[list[int]] = mapped_column(JSONType)
    requested_by: Mapped[str] = mapped_column(String(120))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    outbox_item_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("outbox_items.id"), default=None, index=True
    )
