"""accountability: the industry tracker

Revision ID: 0008_accountability
Revises: 0007_intake
Create Date: 2026-11-29
"""

from __future__ import annotations

revision = "0008_accountability"
down_revision = "0007_intake"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
