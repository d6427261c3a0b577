"""text: term lists, conversations, URL lists, contact checks

Revision ID: 0010_text
Revises: 0009_exchanges
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010_text"
down_revision = "0009_exchanges"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "term_lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.Column("deleted_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_term_lists"),
        sa.UniqueConstraint("name", name="uq_term_lists_name"),
    )
    op.create_table(
        "term_entries",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("value_key", sa.String(64), nullable=False),
        sa.Column("word_count", sa.Integer(), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("language", sa.String(20), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("source_record_id", sa.String(200), nullable=True),
        sa.Column("added_at", TS, nullable=False),
        sa.Column("added_by", sa.String(120), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_term_entries"),
        sa.ForeignKeyConstraint(
            ["list_id"], ["term_lists.id"], name="fk_term_entries_list_id_term_lists"
        ),
        sa.UniqueConstraint("list_id", "value_key", name="uq_term_entries_value"),
    )
    op.create_index("ix_term_entries_list_id", "term_entries", ["list_id"])
    op.create_table(
        "conversations",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("ref", sa.String(200), nullable=False),
        sa.Column("participants", JSON, nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("indicators", JSON, nullable=False),
        sa.Column("rules_version", sa.String(40), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_conversations"),
        sa.UniqueConstraint("ref", name="uq_conversations_ref"),
    )
    op.create_table(
        "conversation_messages",
        sa.Column("id", BIG_ID, nullable=False, autoincrement=True),
        sa.Column("conversation_id", BIG_ID, nullable=False),
        sa.Column("message_ref", sa.String(200), nullable=False),
        sa.Column("sender_ref", sa.String(200), nullable=False),
        sa.Column("recipient_refs", JSON, nullable=False),
        sa.Column("sent_at", TS, nullable=False),
        sa.Column("sealed_text", sa.LargeBinary(), nullable=False),
        sa.Column("indicators", JSON, nullable=False),
        sa.Column("preserved", sa.Boolean(), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_conversation_messages"),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name="fk_conversation_messages_conversation_id_conversations",
        ),
        sa.UniqueConstraint("conversation_id", "message_ref", name="uq_conversation_messages_ref"),
    )
    op.create_index(
        "ix_conversation_messages_window", "conversation_messages", ["conversation_id", "sent_at"]
    )
    op.create_index(
        "ix_conversation_messages_received_at", "conversation_messages", ["received_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_conversation_messages_received_at", table_name="conversation_messages")
    op.drop_index("ix_conversation_messages_window", table_name="conversation_messages")
    op.drop_table("conversation_messages")
    op.drop_table("conversations")
    op.drop_index("ix_term_entries_list_id", table_name="term_entries")
    op.drop_table("term_entries")
    op.drop_table("term_lists")
