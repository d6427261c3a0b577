"""reporting: CyberTipline and hotline reports, their lifecycle steps

Revision ID: 0011_reporting
Revises: 0010_text
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_reporting"
down_revision = "0010_text"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("destination", sa.String(40), nullable=False),
        sa.Column("environment", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("group_key", sa.String(240), nullable=True),
        sa.Column("external_id", sa.String(100), nullable=True),
        sa.Column("data_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("file_count", sa.Integer(), nullable=False),
        sa.Column("case_count", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(500), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("queued_by", sa.String(120), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("retracted_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_reports"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_reports_case_id_cases"),
    )
    op.create_index("ix_reports_group", "reports", ["destination", "group_key", "status"])
    op.create_index("ix_reports_status", "reports", ["status"])
    op.create_index("ix_reports_case_id", "reports", ["case_id"])

    op.create_table(
        "report_cases",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("report_id", BIG_ID, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("added_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_report_cases"),
        sa.UniqueConstraint("case_id", name="uq_report_cases_case_id"),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name="fk_report_cases_report_id_reports"
        ),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_report_cases_case_id_cases"),
    )
    op.create_index("ix_report_cases_report_id", "report_cases", ["report_id"])

    op.create_table(
        "report_steps",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("report_id", BIG_ID, nullable=False),
        sa.Column("step", sa.String(20), nullable=False),
        sa.Column("file_index", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("external_ref", sa.String(200), nullable=True),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_report_steps"),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name="fk_report_steps_report_id_reports"
        ),
    )
    op.create_index("ix_report_steps_report_id", "report_steps", ["report_id"])

    op.create_table(
        "report_contexts",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("data_sealed", sa.LargeBinary(), nullable=False),
        sa.Column("updated_by", sa.String(120), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_report_contexts"),
        sa.UniqueConstraint("case_id", name="uq_report_contexts_case_id"),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_report_contexts_case_id_cases"),
    )


def downgrade() -> None:
    op.drop_table("report_contexts")
    op.drop_index("ix_report_steps_report_id", table_name="report_steps")
    op.drop_table("report_steps")
    op.drop_index("ix_report_cases_report_id", table_name="report_cases")
    op.drop_table("report_cases")
    op.drop_index("ix_reports_case_id", table_name="reports")
    op.drop_index("ix_reports_status", table_name="reports")
    op.drop_index("ix_reports_group", table_name="reports")
    op.drop_table("reports")
