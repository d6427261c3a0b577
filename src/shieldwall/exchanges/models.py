from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
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


class Exchange(Base):
    """One external source of hashes bound to one bank.

    ``credentials`` is sealed (:mod:`shieldwall.core.sealing`, bound to ``exchange:<id>``).
    ``lease_owner``/``lease_until`` are the fetch lock shared by every process: a fetcher
    takes it with one conditional UPDATE and proves it still holds it in every batch it
    commits. ``checkpoint`` is where the next fetch resumes (the adapter's own shape).
    """

    __tablename__ = "exchanges"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    type: Mapped[str] = mapped_column(String(30))
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType)
    credentials: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    enabled: Mapped[bool] = mapped_column(default=True)
    schedule_minutes: Mapped[int] = mapped_column(Integer, default=60)
    time_limit_seconds: Mapped[int] = mapped_column(Integer, default=600)
    labels: Mapped[list[str]] = mapped_column(JSONType)
    feedback: Mapped[bool] = mapped_column(default=False)
    checkpoint: Mapped[dict[str, Any] | None] = mapped_column(JSONType, default=None)
    next_run_at: Mapped[datetime | None] = mapped_column(default=None, index=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100), default=None)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    last_run_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class ExchangeRun(Base):
    """One fetch: when, why, how far it got and what it changed."""

    __tablename__ = "exchange_runs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id"), index=True)
    trigger: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    owner: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    records: Mapped[int] = mapped_column(BigInteger, default=0)
    added: Mapped[int] = mapped_column(BigInteger, default=0)
    updated: Mapped[int] = mapped_column(BigInteger, default=0)
    removed: Mapped[int] = mapped_column(BigInteger, default=0)
    quarantined: Mapped[int] = mapped_column(BigInteger, default=0)
    skipped: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)


class ExchangeItem(Base):
    """Provenance: one signal (the bank entry ``entry_id``) of one source record, as last
    seen.

    A source record (an NCMEC entry, a StopNCII hash record, a partner's entry) may carry
    several signals, and one signal may be carried by several records (or exchanges) feeding
    the same bank; a bank entry the exchanges added is removed only when no live item in the
    bank still carries it.

    ``record_id`` is ``''`` for a record its source names after its one signal
    (``<prefix>:<value>``, e.g. StopNCII's ``ImagePDQ:<hash>``; see
    :class:`~shieldwall.integrations.exchanges.base.RecordNames`): the name is not kept
    twice, the item is found through its entry, and the unique index grows at its end.
    """

    __tablename__ = "exchange_items"
    __table_args__ = (
        UniqueConstraint("exchange_id", "record_id", "entry_id", name="uq_exchange_items_record"),
        Index("ix_exchange_items_entry", "entry_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id"))
    record_id: Mapped[str] = mapped_column(String(200))
    entry_id: Mapped[int] = mapped_column(BigInteger)
    labels: Mapped[list[str]] = mapped_column(JSONType)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(default=None)


class ExchangeQuarantine(Base):
    """A record (or page) the source sent that could not be used, and why. The value itself
    is never kept: the reason names the field and the problem."""

    __tablename__ = "exchange_quarantine"
    __table_args__ = (
        UniqueConstraint("exchange_id", "record_id", name="uq_exchange_quarantine_record"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    exchange_id: Mapped[int] = mapped_column(ForeignKey("exchanges.id"))
    record_id: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(500))
    run_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    times: Mapped[int] = mapped_column(Integer, default=1)


class ExchangeShare(Base):
    """A bank published to partners as a signed feed."""

    __tablename__ = "exchange_shares"

    id: Mapped[int] = mapped_column(primary_key=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[str] = mapped_column(String(120))
