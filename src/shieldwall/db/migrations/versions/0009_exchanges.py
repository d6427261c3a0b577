"""exchanges: hash exchanges fetched into banks

Revision ID: 0009_exchanges
Revises: 0008_accountability
Create Date: 2026-11-29
"""

from __future__ import annotations

revision = "0009_exchanges"
down_revision = "0008_accountability"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
