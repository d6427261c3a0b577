"""scan requests: stored answers for idempotent scans

Revision ID: 0003_scan_requests
Revises: 0002_banks
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_scan_requests"
down_revision = "0002_banks"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "scan_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("request_digest", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scan_requests"),
        sa.UniqueConstraint("actor", "idempotency_key", name="uq_scan_requests_key"),
    )
    op.create_index("ix_scan_requests_created_at", "scan_requests", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_scan_requests_created_at", table_name="scan_requests")
    op.drop_table("scan_requests")
