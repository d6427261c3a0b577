"""exchanges: hash exchanges fetched into banks

Revision ID: 0009_exchanges
Revises: 0008_accountability
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009_exchanges"
down_revision = "0008_accountability"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "exchanges",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("type", sa.String(30), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("credentials", sa.LargeBinary(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("schedule_minutes", sa.Integer(), nullable=False),
        sa.Column("time_limit_seconds", sa.Integer(), nullable=False),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("feedback", sa.Boolean(), nullable=False),
        sa.Column("checkpoint", JSON, nullable=True),
        sa.Column("next_run_at", TS, nullable=True),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("last_run_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("deleted_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_exchanges"),
        sa.ForeignKeyConstraint(["bank_id"], ["banks.id"], name="fk_exchanges_bank_id_banks"),
        sa.UniqueConstraint("name", name="uq_exchanges_name"),
    )
    op.create_index("ix_exchanges_bank_id", "exchanges", ["bank_id"])
    op.create_index("ix_exchanges_next_run_at", "exchanges", ["next_run_at"])
    op.create_table(
        "exchange_runs",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("exchange_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("owner", sa.String(100), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.Column("added", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.Column("removed", sa.BigInteger(), nullable=False),
        sa.Column("quarantined", sa.BigInteger(), nullable=False),
        sa.Column("skipped", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_exchange_runs"),
        sa.ForeignKeyConstraint(
            ["exchange_id"], ["exchanges.id"], name="fk_exchange_runs_exchange_id_exchanges"
        ),
    )
    op.create_index("ix_exchange_runs_exchange_id", "exchange_runs", ["exchange_id"])
    op.create_table(
        "exchange_items",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("exchange_id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(200), nullable=False),
        sa.Column("signal_type", sa.String(20), nullable=False),
        sa.Column("value_key", sa.String(64), nullable=False),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("removed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_exchange_items"),
        sa.ForeignKeyConstraint(
            ["exchange_id"], ["exchanges.id"], name="fk_exchange_items_exchange_id_exchanges"
        ),
        sa.UniqueConstraint(
            "exchange_id", "record_id", "signal_type", "value_key",
            name="uq_exchange_items_record",
        ),
    )
    op.create_index(
        "ix_exchange_items_value", "exchange_items", ["bank_id", "signal_type", "value_key"]
    )
    op.create_table(
        "exchange_quarantine",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("exchange_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("run_id", sa.BigInteger(), nullable=True),
        sa.Column("first_seen", TS, nullable=False),
        sa.Column("last_seen", TS, nullable=False),
        sa.Column("times", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_exchange_quarantine"),
        sa.ForeignKeyConstraint(
            ["exchange_id"], ["exchanges.id"],
            name="fk_exchange_quarantine_exchange_id_exchanges",
        ),
        sa.UniqueConstraint("exchange_id", "record_id", name="uq_exchange_quarantine_record"),
    )
    op.create_table(
        "exchange_shares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("bank_id", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_exchange_shares"),
        sa.ForeignKeyConstraint(
            ["bank_id"], ["banks.id"], name="fk_exchange_shares_bank_id_banks"
        ),
        sa.UniqueConstraint("bank_id", name="uq_exchange_shares_bank_id"),
    )


def downgrade() -> None:
    op.drop_table("exchange_shares")
    op.drop_table("exchange_quarantine")
    op.drop_index("ix_exchange_items_value", table_name="exchange_items")
    op.drop_table("exchange_items")
    op.drop_index("ix_exchange_runs_exchange_id", table_name="exchange_runs")
    op.drop_table("exchange_runs")
    op.drop_index("ix_exchanges_next_run_at", table_name="exchanges")
    op.drop_index("ix_exchanges_bank_id", table_name="exchanges")
    op.drop_table("exchanges")
