"""The outbox table: durable work committed with the change that asked for it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shieldwall.db.base import Base, JSONType, utcnow

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class OutboxStatus(StrEnum):
    """Where an item is in its life.

    ``pending`` waits for ``next_attempt_at``; ``sending`` is claimed by a worker until
    ``lease_until`` (a worker that dies leaves it to be claimed again after that); ``sent`` is
    done; ``failed`` was refused for good (the handler raised ``PermanentFailure``); ``dead``
    was given up after the kind's maximum age.
    """

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    DEAD = "dead"


#: States a worker never touches again (an operator may re-queue them).
FINISHED = frozenset({OutboxStatus.SENT, OutboxStatus.FAILED, OutboxStatus.DEAD})


class OutboxItem(Base):
    """One piece of work to do after commit: a webhook to send, a report to file.

    ``key`` is unique: enqueueing a key twice keeps the first item. ``payload`` holds ids and
    labels only, never content. ``attempts`` counts claims, so a worker killed mid-send still
    counts as an attempt.
    """

    __tablename__ = "outbox_items"
    __table_args__ = (Index("ix_outbox_items_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(60))
    key: Mapped[str] = mapped_column(String(200), unique=True)
    subject: Mapped[str] = mapped_column(String(200), default="")
    principles: Mapped[list[int]] = mapped_column(JSONType)
    payload: Mapped[dict[str, Any]] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(10), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    lease_owner: Mapped[str | None] = mapped_column(String(120), default=None)
    last_attempt_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(String(500), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
