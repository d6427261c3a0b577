"""intake: user reports, survivor takedown requests, appeals

Revision ID: 0007_intake
Revises: 0006_cases
Create Date: 2026-11-29
"""

from __future__ import annotations

revision = "0007_intake"
down_revision = "0006_cases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
