"""evidence: the encrypted evidence vault with retention and legal hold

Revision ID: 0012_evidence
Revises: 0011_reporting
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_evidence"
down_revision = "0011_reporting"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "evidence_items",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False),
        sa.Column("dedupe_key", sa.String(80), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("media_id", BIG_ID, nullable=True),
        sa.Column("report_id", BIG_ID, nullable=True),
        sa.Column("file_state", sa.String(20), nullable=False),
        sa.Column("no_file_reason", sa.String(40), nullable=True),
        sa.Column("content_sha256", sa.String(64), nullable=True),
        sa.Column("content_size", sa.BigInteger(), nullable=True),
        sa.Column("media_type", sa.String(100), nullable=True),
        sa.Column("data_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("data_sha256", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("legal_hold", sa.Boolean(), nullable=False),
        sa.Column("preserved_by", sa.String(120), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("reported_at", TS, nullable=True),
        sa.Column("retain_until", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_evidence_items"),
        sa.UniqueConstraint("uuid", name="uq_evidence_items_uuid"),
        sa.UniqueConstraint("dedupe_key", name="uq_evidence_items_dedupe_key"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_evidence_items_case_id_cases"),
    )
    op.create_index("ix_evidence_items_case_id", "evidence_items", ["case_id"])
    op.create_index("ix_evidence_items_report_id", "evidence_items", ["report_id"])
    op.create_index("ix_evidence_items_key_id", "evidence_items", ["key_id"])
    op.create_index("ix_evidence_items_retain_until", "evidence_items", ["retain_until"])
    op.create_table(
        "evidence_holds",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("evidence_id", BIG_ID, nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("placed_by", sa.String(120), nullable=False),
        sa.Column("placed_at", TS, nullable=False),
        sa.Column("released_by", sa.String(120), nullable=True),
        sa.Column("released_at", TS, nullable=True),
        sa.Column("release_reason", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_evidence_holds"),
        sa.ForeignKeyConstraint(
            ["evidence_id"],
            ["evidence_items.id"],
            name="fk_evidence_holds_evidence_id_evidence_items",
        ),
    )
    op.create_index("ix_evidence_holds_evidence_id", "evidence_holds", ["evidence_id"])


def downgrade() -> None:
    op.drop_index("ix_evidence_holds_evidence_id", table_name="evidence_holds")
    op.drop_table("evidence_holds")
    op.drop_index("ix_evidence_items_retain_until", table_name="evidence_items")
    op.drop_index("ix_evidence_items_key_id", table_name="evidence_items")
    op.drop_index("ix_evidence_items_report_id", table_name="evidence_items")
    op.drop_index("ix_evidence_items_case_id", table_name="evidence_items")
    op.drop_table("evidence_items")
