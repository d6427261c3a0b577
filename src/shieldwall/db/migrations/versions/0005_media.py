"""media: encrypted media objects kept for review

Revision ID: 0005_media
Revises: 0004_outbox
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_media"
down_revision = "0004_outbox"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "media_objects",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_type", sa.String(100), nullable=True),
        sa.Column("purpose", sa.String(20), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("retain_until", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_media_objects"),
        sa.UniqueConstraint("uuid", name="uq_media_objects_uuid"),
        sa.UniqueConstraint("sha256", name="uq_media_objects_sha256"),
    )
    op.create_index("ix_media_objects_key_id", "media_objects", ["key_id"])
    op.create_index("ix_media_objects_retain_until", "media_objects", ["retain_until"])


def downgrade() -> None:
    op.drop_index("ix_media_objects_retain_until", table_name="media_objects")
    op.drop_index("ix_media_objects_key_id", table_name="media_objects")
    op.drop_table("media_objects")
