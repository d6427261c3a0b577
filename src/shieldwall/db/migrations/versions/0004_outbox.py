"""outbox: durable background work sent after commit; actions asked of the platform

Revision ID: 0004_outbox
Revises: 0003_scan_requests
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004_outbox"
down_revision = "0003_scan_requests"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "outbox_items",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("principles", JSON, nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("next_attempt_at", TS, nullable=False),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("lease_owner", sa.String(120), nullable=True),
        sa.Column("last_attempt_at", TS, nullable=True),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outbox_items"),
        sa.UniqueConstraint("key", name="uq_outbox_items_key"),
    )
    op.create_index("ix_outbox_items_due", "outbox_items", ["status", "next_attempt_at"])
    op.create_table(
        "actions",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("type", sa.String(30), nullable=False),
        sa.Column("subject_kind", sa.String(20), nullable=False),
        sa.Column("subject_ref", sa.String(200), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("principles", JSON, nullable=False),
        sa.Column("requested_by", sa.String(120), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("outbox_item_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_actions"),
        sa.UniqueConstraint("key", name="uq_actions_key"),
        sa.ForeignKeyConstraint(
            ["outbox_item_id"], ["outbox_items.id"], name="fk_actions_outbox_item_id_outbox_items"
        ),
    )
    op.create_index("ix_actions_case_id", "actions", ["case_id"])
    op.create_index("ix_actions_outbox_item_id", "actions", ["outbox_item_id"])
    op.create_index("ix_actions_subject", "actions", ["subject_kind", "subject_ref"])


def downgrade() -> None:
    op.drop_index("ix_actions_subject", table_name="actions")
    op.drop_index("ix_actions_outbox_item_id", table_name="actions")
    op.drop_index("ix_actions_case_id", table_name="actions")
    op.drop_table("actions")
    op.drop_index("ix_outbox_items_due", table_name="outbox_items")
    op.drop_table("outbox_items")
