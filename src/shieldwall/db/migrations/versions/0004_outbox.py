"""outbox: durable background work sent after commit

Revision ID: 0004_outbox
Revises: 0003_scan_requests
Create Date: 2026-11-29
"""

from __future__ import annotations

revision = "0004_outbox"
down_revision = "0003_scan_requests"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
