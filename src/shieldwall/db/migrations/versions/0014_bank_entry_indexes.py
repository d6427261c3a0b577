"""bank entries: indexes that follow changes in order

Revision ID: 0014_bank_entry_indexes
Revises: 0013_transparency
Create Date: 2026-11-29

* ``ix_bank_entries_change`` (change_seq, id) replaces (change_seq): the live index reads
  changes in (change_seq, id) order, page after page, without sorting what it skips.
* ``ix_bank_entries_feed`` (bank_id, change_seq, id): a shared bank's feed reads one bank's
  changes in that order; with only (bank_id) every page sorted the whole bank.

(The live index's query also stopped offering ``signal_type`` to the planner: SQLite chose
``ix_bank_entries_lookup`` for it and read, then sorted, every PDQ entry of every bank on
each poll -- 0.4 s per idle poll at a million entries.)
"""

from __future__ import annotations

from alembic import op

revision = "0014_bank_entry_indexes"
down_revision = "0013_transparency"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_bank_entries_change_seq", table_name="bank_entries")
    op.create_index("ix_bank_entries_change", "bank_entries", ["change_seq", "id"])
    op.create_index("ix_bank_entries_feed", "bank_entries", ["bank_id", "change_seq", "id"])


def downgrade() -> None:
    op.drop_index("ix_bank_entries_feed", table_name="bank_entries")
    op.drop_index("ix_bank_entries_change", table_name="bank_entries")
    op.create_index("ix_bank_entries_change_seq", "bank_entries", ["change_seq"])
