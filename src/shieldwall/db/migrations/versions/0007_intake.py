"""intake: user reports, survivor takedown requests, rate-limit windows

Revision ID: 0007_intake
Revises: 0006_cases
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007_intake"
down_revision = "0006_cases"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "user_reports",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("submitted_by", sa.String(120), nullable=False),
        sa.Column("reporter_key", sa.String(64), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("child_in_danger", sa.Boolean(), nullable=False),
        sa.Column("content_id", sa.String(200), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("account_id", sa.String(200), nullable=True),
        sa.Column("conversation_id", sa.String(200), nullable=True),
        sa.Column("hashes", JSON, nullable=False),
        sa.Column("text_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("text_chars", sa.Integer(), nullable=False),
        sa.Column("subject_kind", sa.String(20), nullable=False),
        sa.Column("subject_ref", sa.String(200), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_user_reports"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_user_reports_case_id_cases"),
    )
    op.create_index("ix_user_reports_received_at", "user_reports", ["received_at"])
    op.create_index("ix_user_reports_reporter_key", "user_reports", ["reporter_key"])
    op.create_index("ix_user_reports_case_id", "user_reports", ["case_id"])

    op.create_table(
        "user_report_keys",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("report_id", BIG_ID, nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_user_report_keys"),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["user_reports.id"],
            name="fk_user_report_keys_report_id_user_reports",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("report_id", "key", name="uq_user_report_keys_key"),
    )
    op.create_index("ix_user_report_keys_key", "user_report_keys", ["key"])

    op.create_table(
        "takedown_requests",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reason", sa.String(400), nullable=True),
        sa.Column("category", sa.String(40), nullable=True),
        sa.Column("on_behalf", sa.Boolean(), nullable=False),
        sa.Column("hashes", JSON, nullable=False),
        sa.Column("hash_count", sa.Integer(), nullable=False),
        sa.Column("contact_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("message_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("bank_entry_ids", JSON, nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("in_place_since", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_takedown_requests"),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name="fk_takedown_requests_case_id_cases"
        ),
    )
    op.create_index("ix_takedown_requests_case_id", "takedown_requests", ["case_id"])

    op.create_table(
        "rate_limit_windows",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("bucket", sa.String(40), nullable=False),
        sa.Column("caller_key", sa.String(64), nullable=False),
        sa.Column("window_start", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rate_limit_windows"),
        sa.UniqueConstraint(
            "bucket", "caller_key", "window_start", name="uq_rate_limit_windows_window"
        ),
    )
    op.create_index("ix_rate_limit_windows_expires_at", "rate_limit_windows", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_rate_limit_windows_expires_at", table_name="rate_limit_windows")
    op.drop_table("rate_limit_windows")
    op.drop_index("ix_takedown_requests_case_id", table_name="takedown_requests")
    op.drop_table("takedown_requests")
    op.drop_index("ix_user_report_keys_key", table_name="user_report_keys")
    op.drop_table("user_report_keys")
    op.drop_index("ix_user_reports_case_id", table_name="user_reports")
    op.drop_index("ix_user_reports_reporter_key", table_name="user_reports")
    op.drop_index("ix_user_reports_received_at", table_name="user_reports")
    op.drop_table("user_reports")
