"""text: term lists, conversations, URL lists, contact checks

Revision ID: 0010_text
Revises: 0009_exchanges
Create Date: 2026-11-29
"""

from __future__ import annotations

revision = "0010_text"
down_revision = "0009_exchanges"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
