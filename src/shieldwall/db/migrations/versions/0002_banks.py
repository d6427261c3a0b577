"""banks: hash banks, their entries with provenance, the bank change sequence

Revision ID: 0002_banks
Revises: 0001_foundation
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_banks"
down_revision = "0001_foundation"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "banks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("pdq_threshold", sa.Integer(), nullable=False),
        sa.Column("vpdq_distance", sa.Integer(), nullable=False),
        sa.Column("vpdq_query_pct", sa.Float(), nullable=False),
        sa.Column("vpdq_target_pct", sa.Float(), nullable=False),
        sa.Column("dihedral", sa.Boolean(), nullable=False),
        sa.Column("letterbox", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("deleted_at", TS, nullable=True),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_banks"),
        sa.UniqueConstraint("name", name="uq_banks_name"),
    )
    op.create_index("ix_banks_change_seq", "banks", ["change_seq"])
    op.create_table(
        "bank_entries",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("signal_type", sa.String(20), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("value_key", sa.String(64), nullable=False),
        sa.Column("quality", sa.Integer(), nullable=True),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("source_record_id", sa.String(200), nullable=True),
        sa.Column("added_at", TS, nullable=False),
        sa.Column("added_by", sa.String(120), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("disabled_until", TS, nullable=True),
        sa.Column("removed_at", TS, nullable=True),
        sa.Column("change_seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bank_entries"),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], name="fk_bank_entries_bank_id_banks"),
        sa.UniqueConstraint("bank_id", "signal_type", "value_key", name="uq_bank_entries_value"),
    )
    op.create_index("ix_bank_entries_bank_id", "bank_entries", ["bank_id"])
    op.create_index("ix_bank_entries_change_seq", "bank_entries", ["change_seq"])
    op.create_index("ix_bank_entries_lookup", "bank_entries", ["signal_type", "value_key"])
    op.create_table(
        "bank_change_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_bank_change_head"),
    )
    op.execute("INSERT INTO bank_change_head (id, seq) VALUES (1, 0)")


def downgrade() -> None:
    op.drop_table("bank_change_head")
    op.drop_index("ix_bank_entries_lookup", table_name="bank_entries")
    op.drop_index("ix_bank_entries_change_seq", table_name="bank_entries")
    op.drop_index("ix_bank_entries_bank_id", table_name="bank_entries")
    op.drop_table("bank_entries")
    op.drop_index("ix_banks_change_seq", table_name="banks")
    op.drop_table("banks")
