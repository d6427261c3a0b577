from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from shieldwall.db.base import Base, utcnow

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class MediaObject(Base):
    """One stored piece of media. The bytes are sealed in ``<data_dir>/media/<uuid>`` with the
    uuid as associated data, so a file moved to another object's name does not open.

    ``sha256`` is of the plaintext (one object per content); ``key_id`` names the master key
    that wraps the file's data key (hex), so a rotation knows what is left to re-wrap.
    """

    __tablename__ = "media_objects"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str | None] = mapped_column(String(100), default=None)
    purpose: Mapped[str] = mapped_column(String(20))
    key_id: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    retain_until: Mapped[datetime] = mapped_column(index=True)
