"""reporting: CyberTipline and hotline reports, their lifecycle steps

Revision ID: 0011_reporting
Revises: 0010_text
Create Date: 2026-11-29
"""

from __future__ import annotations

revision = "0011_reporting"
down_revision = "0010_text"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
