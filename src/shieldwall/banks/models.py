from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from shieldwall.db.base import Base, JSONType, utcnow

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Bank(Base):
    """A named hash list. ``change_seq`` moves whenever matching must look again."""

    __tablename__ = "banks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    kind: Mapped[str] = mapped_column(String(10))  # block | allow
    action: Mapped[str] = mapped_column(String(10))  # block | review (what a match asks for)
    enabled: Mapped[bool] = mapped_column(default=True)
    labels: Mapped[list[str]] = mapped_column(JSONType)  # allowed labels, e.g. A1 A2 B1 B2
    pdq_threshold: Mapped[int] = mapped_column(Integer, default=31)
    vpdq_distance: Mapped[int] = mapped_column(Integer, default=31)
    vpdq_query_pct: Mapped[float] = mapped_column(Float, default=80.0)
    vpdq_target_pct: Mapped[float] = mapped_column(Float, default=0.0)
    dihedral: Mapped[bool] = mapped_column(default=False)
    letterbox: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0, index=True)


class BankEntry(Base):
    """One hash in one bank, with where it came from.

    ``value_key`` is the value itself for short signals and the SHA-256 of the canonical value
    for long ones (vPDQ), so uniqueness and lookups use a short indexed column. Removal is soft
    (``removed_at``) so every server's index sees it through ``change_seq``.
    """

    __tablename__ = "bank_entries"
    __table_args__ = (
        # (signal_type, value_key) first: it also serves lookups of a value across banks
        UniqueConstraint("signal_type", "value_key", "bank_id", name="uq_bank_entries_value"),
        # changes in order: for every server's live index, and for one bank's shared feed
        Index("ix_bank_entries_change", "change_seq", "id"),
        Index("ix_bank_entries_feed", "bank_id", "change_seq", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    bank_id: Mapped[int] = mapped_column(ForeignKey("banks.id"), index=True)
    signal_type: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(Text)
    value_key: Mapped[str] = mapped_column(String(64))
    quality: Mapped[int | None] = mapped_column(Integer, default=None)
    labels: Mapped[list[str]] = mapped_column(JSONType)
    source: Mapped[str] = mapped_column(String(20))
    source_record_id: Mapped[str | None] = mapped_column(String(200), default=None)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_by: Mapped[str] = mapped_column(String(120))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    disabled_until: Mapped[datetime | None] = mapped_column(default=None)
    removed_at: Mapped[datetime | None] = mapped_column(default=None)
    change_seq: Mapped[int] = mapped_column(BigInteger, default=0)


class BankChangeHead(Base):
    """The newest change sequence number. A transaction that changes banks locks this row,
    takes the next number once, and holds the lock until it commits, so sequence numbers
    become visible in order and a reader that remembers the last one it saw misses nothing."""

    __tablename__ = "bank_change_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
