"""transparency: published transparency reports

Revision ID: 0013_transparency
Revises: 0012_evidence
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013_transparency"
down_revision = "0012_evidence"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "transparency_reports",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("schema_version", sa.String(10), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("document", JSON, nullable=False),
        sa.Column("published_by", sa.String(120), nullable=False),
        sa.Column("published_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_transparency_reports"),
    )
    op.create_index(
        "ix_transparency_reports_period_start", "transparency_reports", ["period_start"]
    )


def downgrade() -> None:
    op.drop_index("ix_transparency_reports_period_start", table_name="transparency_reports")
    op.drop_table("transparency_reports")
