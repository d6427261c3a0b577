"""exchange provenance points at its bank entry; one index fewer on bank entries

Revision ID: 0015_exchange_items_entry
Revises: 0014_bank_entry_indexes
Create Date: 2026-11-29

An exchange writes one bank entry and one provenance item per record. Each item repeated
its entry's (bank_id, signal_type, value_key) and had two indexes over those 64-character
keys; the entries had two more (the unique constraint and ``ix_bank_entries_lookup``).
Every one of them is written at a random place for every record, which is most of what a
million-record fetch costs the database.

* ``exchange_items`` keeps ``entry_id`` instead of (bank_id, signal_type, value_key):
  unique on (exchange_id, record_id, entry_id), and ``ix_exchange_items_entry`` (entry_id),
  written in order as entries are made. Items whose entry no longer exists are dropped (an
  item without its entry carries nothing).
* ``uq_bank_entries_value`` becomes (signal_type, value_key, bank_id), so it also serves
  lookups by value across banks, and ``ix_bank_entries_lookup`` (signal_type, value_key) goes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_exchange_items_entry"
down_revision = "0014_bank_entry_indexes"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("exchange_items", sa.Column("entry_id", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE exchange_items SET entry_id = (SELECT e.id FROM bank_entries e "
        "WHERE e.bank_id = exchange_items.bank_id AND e.signal_type = exchange_items.signal_type "
        "AND e.value_key = exchange_items.value_key)"
    )
    op.execute("DELETE FROM exchange_items WHERE entry_id IS NULL")
    op.drop_index("ix_exchange_items_value", table_name="exchange_items")
    with op.batch_alter_table("exchange_items") as batch:
        batch.drop_constraint("uq_exchange_items_record", type_="unique")
        batch.alter_column("entry_id", existing_type=sa.BigInteger(), nullable=False)
        batch.drop_column("bank_id")
        batch.drop_column("signal_type")
        batch.drop_column("value_key")
        batch.create_unique_constraint(
            "uq_exchange_items_record", ["exchange_id", "record_id", "entry_id"]
        )
    op.create_index("ix_exchange_items_entry", "exchange_items", ["entry_id"])

    op.drop_index("ix_bank_entries_lookup", table_name="bank_entries")
    with op.batch_alter_table("bank_entries") as batch:
        batch.drop_constraint("uq_bank_entries_value", type_="unique")
        batch.create_unique_constraint(
            "uq_bank_entries_value", ["signal_type", "value_key", "bank_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("bank_entries") as batch:
        batch.drop_constraint("uq_bank_entries_value", type_="unique")
        batch.create_unique_constraint(
            "uq_bank_entries_value", ["bank_id", "signal_type", "value_key"]
        )
    op.create_index("ix_bank_entries_lookup", "bank_entries", ["signal_type", "value_key"])

    op.drop_index("ix_exchange_items_entry", table_name="exchange_items")
    op.add_column("exchange_items", sa.Column("bank_id", sa.Integer(), nullable=True))
    op.add_column("exchange_items", sa.Column("signal_type", sa.String(20), nullable=True))
    op.add_column("exchange_items", sa.Column("value_key", sa.String(64), nullable=True))
    for column in ("bank_id", "signal_type", "value_key"):
        op.execute(
            f"UPDATE exchange_items SET {column} = (SELECT e.{column} FROM bank_entries e "  # noqa: S608
            "WHERE e.id = exchange_items.entry_id)"
        )
    with op.batch_alter_table("exchange_items") as batch:
        batch.drop_constraint("uq_exchange_items_record", type_="unique")
        batch.alter_column("bank_id", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("signal_type", existing_type=sa.String(20), nullable=False)
        batch.alter_column("value_key", existing_type=sa.String(64), nullable=False)
        batch.drop_column("entry_id")
        batch.create_unique_constraint(
            "uq_exchange_items_record", ["exchange_id", "record_id", "signal_type", "value_key"]
        )
    op.create_index(
        "ix_exchange_items_value", "exchange_items", ["bank_id", "signal_type", "value_key"]
    )
