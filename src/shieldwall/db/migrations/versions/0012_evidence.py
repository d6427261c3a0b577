"""evidence: the encrypted evidence vault with retention and legal hold

Revision ID: 0012_evidence
Revises: 0011_reporting
Create Date: 2026-11-29
"""

from __future__ import annotations

revision = "0012_evidence"
down_revision = "0011_reporting"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
