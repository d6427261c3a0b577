"""cases: the review queue, signals, scan history

Revision ID: 0006_cases
Revises: 0005_media
Create Date: 2026-11-29
"""

from __future__ import annotations

revision = "0006_cases"
down_revision = "0005_media"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
