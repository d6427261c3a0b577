"""provenance items of records named after their signal keep no record id of their own

Revision ID: 0016_signal_named_items
Revises: 0015_exchange_items_entry
Create Date: 2026-11-29

StopNCII, list-file and URL exchanges name each record after its one signal:
``<prefix>:<value>`` (StopNCII's ``ImagePDQ:<hash>``, a list's ``pdq:<hash>``). Their
provenance items kept that 70-odd-character id a second time, and the unique index
(exchange_id, record_id, entry_id) was written at a random place for every record. Such an
item now keeps record id ``''`` and is found through its entry: the index grows at its end
as entries are made. The database work of a million-record fetch alone (the floor of
``benchmarks/exchange_ingest.py``, one run each way): 14.9 s -> 9.6 s on SQLite, 23.5 s ->
17.3 s on PostgreSQL.

Only items whose record id is exactly what the source would name the entry's signal
change (``shieldwall.integrations.exchanges.base.RecordNames``): the prefixes below are
those of ``stop_ncii.RECORD_NAMES`` and ``local_file.RECORD_NAMES`` (our own signal type
names). A record id is at most 200 characters, so one equal to ``<prefix>:<value>`` is
always the name ``RecordNames.record_id`` gives.
"""

from __future__ import annotations

from alembic import op

revision = "0016_signal_named_items"
down_revision = "0015_exchange_items_entry"
branch_labels = None
depends_on = None

# the record id the exchange's source names the item's entry by (NULL: it names it otherwise)
_NAMED = (
    "(SELECT CASE WHEN x.type = 'stop_ncii' THEN "
    "(CASE e.signal_type WHEN 'pdq' THEN 'ImagePDQ' WHEN 'video_md5' THEN 'VideoMD5' END) "
    "WHEN x.type IN ('local_file', 'url') THEN e.signal_type END "
    "|| ':' || e.value "
    "FROM bank_entries e JOIN exchanges x ON x.id = exchange_items.exchange_id "
    "WHERE e.id = exchange_items.entry_id)"
)


def upgrade() -> None:
    op.execute(
        "UPDATE exchange_items SET record_id = '' WHERE exchange_id IN "  # noqa: S608 - no input
        "(SELECT id FROM exchanges WHERE type IN ('stop_ncii', 'local_file', 'url')) "
        f"AND record_id = {_NAMED}"
    )


def downgrade() -> None:
    op.execute(
        f"UPDATE exchange_items SET record_id = COALESCE({_NAMED}, '') "  # noqa: S608
        "WHERE record_id = ''"
    )
