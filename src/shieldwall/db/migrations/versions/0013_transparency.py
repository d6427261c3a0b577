"""transparency: published transparency reports

Revision ID: 0013_transparency
Revises: 0012_evidence
Create Date: 2026-11-29
"""

from __future__ import annotations

revision = "0013_transparency"
down_revision = "0012_evidence"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
