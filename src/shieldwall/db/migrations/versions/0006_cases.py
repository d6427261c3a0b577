"""cases: the review queue, signals, decisions, scan history, review preferences

Revision ID: 0006_cases
Revises: 0005_media
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0006_cases"
down_revision = "0005_media"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subject_kind", sa.String(20), nullable=False),
        sa.Column("subject_ref", sa.String(200), nullable=False),
        sa.Column("account_ref", sa.String(200), nullable=True),
        sa.Column("active_key", sa.String(240), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("sources", JSON, nullable=False),
        sa.Column("principles", JSON, nullable=False),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("priority_rule", sa.String(60), nullable=False),
        sa.Column("child_in_danger", sa.Boolean(), nullable=False),
        sa.Column("top_score", sa.Float(), nullable=True),
        sa.Column("signal_count", sa.Integer(), nullable=False),
        sa.Column("media_id", BIG_ID, nullable=True),
        sa.Column("assignee_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", TS, nullable=True),
        sa.Column("detected_at", TS, nullable=False),
        sa.Column("first_reviewed_at", TS, nullable=True),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("due_at", TS, nullable=True),
        sa.Column("closed_at", TS, nullable=True),
        sa.Column("outcome", sa.String(20), nullable=True),
        sa.Column("label", sa.String(40), nullable=True),
        sa.Column("decided_by", sa.String(120), nullable=True),
        sa.Column("appeal_of_case_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
        sa.UniqueConstraint("active_key", name="uq_cases_active_key"),
        sa.ForeignKeyConstraint(["assignee_id"], ["users.id"], name="fk_cases_assignee_id_users"),
        sa.ForeignKeyConstraint(
            ["appeal_of_case_id"], ["cases.id"], name="fk_cases_appeal_of_case_id_cases"
        ),
    )
    op.create_index("ix_cases_queue", "cases", ["status", "priority", "detected_at"])
    op.create_index("ix_cases_subject", "cases", ["subject_kind", "subject_ref"])
    op.create_index("ix_cases_assignee_id", "cases", ["assignee_id"])
    op.create_index("ix_cases_appeal_of_case_id", "cases", ["appeal_of_case_id"])

    op.create_table(
        "case_signals",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(30), nullable=False),
        sa.Column("ref", sa.String(200), nullable=True),
        sa.Column("principles", JSON, nullable=False),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("labels", JSON, nullable=False),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("child_in_danger", sa.Boolean(), nullable=False),
        sa.Column("media_id", BIG_ID, nullable=True),
        sa.Column("hashes", JSON, nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_case_signals"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_case_signals_case_id_cases"),
        sa.UniqueConstraint("case_id", "ref", name="uq_case_signals_ref"),
    )
    op.create_index("ix_case_signals_case_id", "case_signals", ["case_id"])

    op.create_table(
        "case_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("label", sa.String(40), nullable=True),
        sa.Column("state", sa.String(30), nullable=False),
        sa.Column("note_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("decided_by", sa.String(120), nullable=False),
        sa.Column("decided_by_user_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", TS, nullable=False),
        sa.Column("confirmed_by", sa.String(120), nullable=True),
        sa.Column("confirmed_by_user_id", sa.Integer(), nullable=True),
        sa.Column("confirmed_at", TS, nullable=True),
        sa.Column("confirm_note_sealed", sa.LargeBinary(), nullable=True),
        sa.Column("bank", sa.String(100), nullable=True),
        sa.Column("bank_entry_ids", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_case_decisions"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_case_decisions_case_id_cases"),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"], ["users.id"], name="fk_case_decisions_decided_by_user_id_users"
        ),
        sa.ForeignKeyConstraint(
            ["confirmed_by_user_id"],
            ["users.id"],
            name="fk_case_decisions_confirmed_by_user_id_users",
        ),
    )
    op.create_index("ix_case_decisions_case_id", "case_decisions", ["case_id"])

    op.create_table(
        "scan_records",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("scan_id", sa.String(32), nullable=False),
        sa.Column("content_ref", sa.String(200), nullable=True),
        sa.Column("account_ref", sa.String(200), nullable=True),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("media_kind", sa.String(20), nullable=False),
        sa.Column("verdict", sa.String(10), nullable=False),
        sa.Column("md5", sa.String(32), nullable=True),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.Column("pdq", sa.String(64), nullable=True),
        sa.Column("case_id", sa.Integer(), nullable=True),
        sa.Column("scanned_at", TS, nullable=False),
        sa.Column("retain_until", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_scan_records"),
        sa.UniqueConstraint("scan_id", name="uq_scan_records_scan_id"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_scan_records_case_id_cases"),
    )
    op.create_index("ix_scan_records_content_ref", "scan_records", ["content_ref"])
    op.create_index("ix_scan_records_account_ref", "scan_records", ["account_ref"])
    op.create_index("ix_scan_records_md5", "scan_records", ["md5"])
    op.create_index("ix_scan_records_sha256", "scan_records", ["sha256"])
    op.create_index("ix_scan_records_scanned_at", "scan_records", ["scanned_at"])
    op.create_index("ix_scan_records_retain_until", "scan_records", ["retain_until"])

    op.create_table(
        "review_preferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner", sa.String(40), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("blur", sa.Boolean(), nullable=True),
        sa.Column("grayscale", sa.Boolean(), nullable=True),
        sa.Column("video_muted", sa.Boolean(), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("updated_by", sa.String(120), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_review_preferences"),
        sa.UniqueConstraint("owner", name="uq_review_preferences_owner"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name="fk_review_preferences_user_id_users",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_review_preferences_user_id", "review_preferences", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_review_preferences_user_id", table_name="review_preferences")
    op.drop_table("review_preferences")
    for name in ("retain_until", "scanned_at", "sha256", "md5", "account_ref", "content_ref"):
        op.drop_index(f"ix_scan_records_{name}", table_name="scan_records")
    op.drop_table("scan_records")
    op.drop_index("ix_case_decisions_case_id", table_name="case_decisions")
    op.drop_table("case_decisions")
    op.drop_index("ix_case_signals_case_id", table_name="case_signals")
    op.drop_table("case_signals")
    for name in ("appeal_of_case_id", "assignee_id", "subject", "queue"):
        op.drop_index(f"ix_cases_{name}", table_name="cases")
    op.drop_table("cases")
