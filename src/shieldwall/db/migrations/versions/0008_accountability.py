"""accountability: the industry tracker

Revision ID: 0008_accountability
Revises: 0007_intake
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_accountability"
down_revision = "0007_intake"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}")


def _provenance() -> list[sa.Column[object]]:
    return [
        sa.Column("source_url", sa.Text(), nullable=False),
        sa.Column("retrieved_on", sa.Date(), nullable=False),
        sa.Column("dataset", sa.String(200), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "acc_companies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(80), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("dataset", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_acc_companies"),
        sa.UniqueConstraint("slug", name="uq_acc_companies_slug"),
    )
    op.create_table(
        "acc_services",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(80), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("dataset", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_acc_services"),
        _fk("acc_services", "company_id", "acc_companies"),
        sa.UniqueConstraint("slug", name="uq_acc_services_slug"),
    )
    op.create_index("ix_acc_services_company_id", "acc_services", ["company_id"])
    op.create_table(
        "acc_aliases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("combined", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("dataset", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_acc_aliases"),
        _fk("acc_aliases", "company_id", "acc_companies"),
        _fk("acc_aliases", "service_id", "acc_services"),
        sa.UniqueConstraint("key", name="uq_acc_aliases_key"),
    )
    op.create_index("ix_acc_aliases_company_id", "acc_aliases", ["company_id"])
    op.create_table(
        "acc_commitments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fact_key", sa.String(64), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("framework", sa.String(120), nullable=False),
        sa.Column("event", sa.String(60), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("precision", sa.String(10), nullable=False),
        sa.Column("name_as_written", sa.String(300), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        *_provenance(),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_acc_commitments"),
        _fk("acc_commitments", "company_id", "acc_companies"),
        sa.UniqueConstraint("fact_key", name="uq_acc_commitments_fact_key"),
    )
    op.create_index("ix_acc_commitments_company_id", "acc_commitments", ["company_id"])
    op.create_table(
        "acc_statements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fact_key", sa.String(64), nullable=False),
        sa.Column("on_date", sa.Date(), nullable=False),
        sa.Column("framework", sa.String(200), nullable=False),
        sa.Column("statement", sa.Text(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        *_provenance(),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_acc_statements"),
        sa.UniqueConstraint("fact_key", name="uq_acc_statements_fact_key"),
    )
    op.create_table(
        "acc_disclosures",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("fact_key", sa.String(64), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("metric", sa.String(40), nullable=False),
        sa.Column("term", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(20), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("rounded_to", sa.BigInteger(), nullable=True),
        sa.Column("period", sa.String(30), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("granularity", sa.String(10), nullable=False),
        sa.Column("primary_source", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(40), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        *_provenance(),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_acc_disclosures"),
        _fk("acc_disclosures", "company_id", "acc_companies"),
        _fk("acc_disclosures", "service_id", "acc_services"),
        sa.UniqueConstraint("fact_key", name="uq_acc_disclosures_fact_key"),
    )
    op.create_index(
        "ix_acc_disclosures_company_metric", "acc_disclosures", ["company_id", "metric"]
    )
    op.create_table(
        "acc_ncmec_counts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fact_key", sa.String(64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("esp_name", sa.String(300), nullable=False),
        sa.Column("reports", sa.BigInteger(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("combined", sa.Boolean(), nullable=False),
        *_provenance(),
        sa.PrimaryKeyConstraint("id", name="pk_acc_ncmec_counts"),
        _fk("acc_ncmec_counts", "company_id", "acc_companies"),
        _fk("acc_ncmec_counts", "service_id", "acc_services"),
        sa.UniqueConstraint("fact_key", name="uq_acc_ncmec_counts_fact_key"),
    )
    op.create_index("ix_acc_ncmec_counts_year", "acc_ncmec_counts", ["year"])
    op.create_index("ix_acc_ncmec_counts_company_id", "acc_ncmec_counts", ["company_id"])
    op.create_table(
        "acc_ncmec_totals",
        sa.Column("year", sa.Integer(), nullable=False, autoincrement=False),
        sa.Column("total_reports", sa.BigInteger(), nullable=False),
        sa.Column("esp_reports", sa.BigInteger(), nullable=True),
        *_provenance(),
        sa.PrimaryKeyConstraint("year", name="pk_acc_ncmec_totals"),
    )
    op.create_table(
        "acc_evidence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("fact_key", sa.String(64), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        sa.Column("principle", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("quote", sa.Text(), nullable=False),
        sa.Column("evidence_date", sa.Date(), nullable=True),
        *_provenance(),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_acc_evidence"),
        _fk("acc_evidence", "company_id", "acc_companies"),
        sa.UniqueConstraint("fact_key", name="uq_acc_evidence_fact_key"),
    )
    op.create_index("ix_acc_evidence_company_id", "acc_evidence", ["company_id"])
    op.create_table(
        "acc_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dataset", sa.String(200), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("imported_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_acc_imports"),
    )
    op.create_index("ix_acc_imports_dataset", "acc_imports", ["dataset"])


def downgrade() -> None:
    op.drop_index("ix_acc_imports_dataset", table_name="acc_imports")
    op.drop_table("acc_imports")
    op.drop_index("ix_acc_evidence_company_id", table_name="acc_evidence")
    op.drop_table("acc_evidence")
    op.drop_table("acc_ncmec_totals")
    op.drop_index("ix_acc_ncmec_counts_company_id", table_name="acc_ncmec_counts")
    op.drop_index("ix_acc_ncmec_counts_year", table_name="acc_ncmec_counts")
    op.drop_table("acc_ncmec_counts")
    op.drop_index("ix_acc_disclosures_company_metric", table_name="acc_disclosures")
    op.drop_table("acc_disclosures")
    op.drop_table("acc_statements")
    op.drop_index("ix_acc_commitments_company_id", table_name="acc_commitments")
    op.drop_table("acc_commitments")
    op.drop_index("ix_acc_aliases_company_id", table_name="acc_aliases")
    op.drop_table("acc_aliases")
    op.drop_index("ix_acc_services_company_id", table_name="acc_services")
    op.drop_table("acc_services")
    op.drop_table("acc_companies")
