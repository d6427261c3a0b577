"""media: encrypted media objects kept for review

Revision ID: 0005_media
Revises: 0004_outbox
Create Date: 2026-11-29
"""

from __future__ import annotations

revision = "0005_media"
down_revision = "0004_outbox"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
