"""Evidence items and the legal holds placed on them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from shieldwall.cases.models import BigId
from shieldwall.db.base import Base, utcnow


class EvidenceItem(Base):
    """What one case knew about one piece of content (or, hash-only, about none).

    ``dedupe_key`` is ``case:<id>:media:<id|none>``: unique, so preserving twice gives the
    same item whatever the number of processes. The content bytes, when held, are sealed in
    ``<data_dir>/evidence/<uuid>`` (associated data: the uuid); ``content_sha256`` is of the
    plaintext. ``data_sealed`` is the JSON document of what the case and its reports knew,
    sealed with the uuid as associated data; ``data_sha256`` is of its plaintext.
    ``key_id`` names the master key wrapping both (hex). ``file_state`` is ``held`` or
    ``not_held``; ``no_file_reason`` says why (``hash_only``, ``media_expired``,
    ``media_unreadable``). ``legal_hold`` is true while an :class:`EvidenceHold` is active.
    """

    __tablename__ = "evidence_items"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    dedupe_key: Mapped[str] = mapped_column(String(80), unique=True)
    # cases are never deleted; a report id is kept without a foreign key so the vault does
    # not depend on the reporting tables' life
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    media_id: Mapped[int | None] = mapped_column(BigId, default=None)
    report_id: Mapped[int | None] = mapped_column(BigId, default=None, index=True)
    file_state: Mapped[str] = mapped_column(String(20))
    no_file_reason: Mapped[str | None] = mapped_column(String(40), default=None)
    content_sha256: Mapped[str | None] = mapped_column(String(64), default=None)
    content_size: Mapped[int | None] = mapped_column(BigInteger, default=None)
    media_type: Mapped[str | None] = mapped_column(String(100), default=None)
    data_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    data_sha256: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str] = mapped_column(String(16), index=True)
    legal_hold: Mapped[bool] = mapped_column(default=False)
    preserved_by: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    reported_at: Mapped[datetime | None] = mapped_column(default=None)
    retain_until: Mapped[datetime] = mapped_column(index=True)


class EvidenceHold(Base):
    """One legal hold on an item: placed with a reason, released with a reason. The item is
    held while any of its holds has no ``released_at``."""

    __tablename__ = "evidence_holds"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    evidence_id: Mapped[int] = mapped_column(ForeignKey("evidence_items.id"), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    placed_by: Mapped[str] = mapped_column(String(120))
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_by: Mapped[str | None] = mapped_column(String(120), default=None)
    released_at: Mapped[datetime | None] = mapped_column(default=None)
    release_reason: Mapped[str | None] = mapped_column(String(500), default=None)
