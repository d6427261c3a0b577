from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Float,
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

BigId = BigInteger().with_variant(Integer(), "sqlite")


class TermList(Base):
    """A named list of terms, phrases, patterns, hashed terms, URLs or domains.

    ``version`` goes up with every change to the list or its entries; the sum of versions
    over all lists tells a process whether its compiled matcher is stale.
    """

    __tablename__ = "term_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    deleted_at: Mapped[datetime | None] = mapped_column(default=None)


class TermEntry(Base):
    """One entry. ``value_key`` is the SHA-256 of kind and canonical value (uniqueness)."""

    __tablename__ = "term_entries"
    __table_args__ = (UniqueConstraint("list_id", "value_key", name="uq_term_entries_value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("term_lists.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(Text)
    value_key: Mapped[str] = mapped_column(String(64))
    word_count: Mapped[int] = mapped_column(Integer, default=1)
    category: Mapped[str] = mapped_column(String(40))
    severity: Mapped[str] = mapped_column(String(10))
    language: Mapped[str] = mapped_column(String(20), default="")
    source: Mapped[str] = mapped_column(String(100), default="")
    source_record_id: Mapped[str | None] = mapped_column(String(200), default=None)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)
    added_by: Mapped[str] = mapped_column(String(120))


class Conversation(Base):
    """A platform's conversation as shieldwall scores it. Participants' age information is
    kept per participant reference (platform ids, never names)."""

    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ref: Mapped[str] = mapped_column(String(200), unique=True)
    participants: Mapped[dict[str, dict[str, object]]] = mapped_column(JSONType)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    indicators: Mapped[list[str]] = mapped_column(JSONType)
    rules_version: Mapped[str] = mapped_column(String(40), default="")
    case_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ConversationMessage(Base):
    """One message in a conversation's window; its text is sealed (core.sealing) and kept
    only while the window needs it, or while a case preserves it (``preserved``)."""

    __tablename__ = "conversation_messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "message_ref", name="uq_conversation_messages_ref"),
        Index("ix_conversation_messages_window", "conversation_id", "sent_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[int] = mapped_column(BigId, ForeignKey("conversations.id"))
    message_ref: Mapped[str] = mapped_column(String(200))
    sender_ref: Mapped[str] = mapped_column(String(200))
    recipient_refs: Mapped[list[str]] = mapped_column(JSONType)
    sent_at: Mapped[datetime] = mapped_column()
    sealed_text: Mapped[bytes] = mapped_column(LargeBinary)
    indicators: Mapped[list[dict[str, object]]] = mapped_column(JSONType)
    preserved: Mapped[bool] = mapped_column(default=False)
    received_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
