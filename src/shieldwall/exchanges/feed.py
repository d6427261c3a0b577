"""The partner feed: a shared bank as signed, versioned pages, incremental by cursor.

A page lists the bank's entries changed after the cursor, in (change_seq, id) order, up to
the newest committed change (read first, so nothing below it can still appear: the bank
change protocol). Removed entries are included with an empty value, so partners apply
deletions. Only hashes and labels leave: no provenance, no who-added-it, no media, no user
data. The cursor is ``<change_seq>.<entry id>`` of the last item sent ("0" from the start).

Each served page with items writes one ``exchange.feed_served`` event (counts only), so the
transparency report can count hashes shared.
"""

from __future__ import annotations

import re

from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.banks import service as banks
from shieldwall.banks.changes import current_seq
from shieldwall.banks.models import Bank
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.core.errors import InvalidInput, NotFound
from shieldwall.db.base import utcnow
from shieldwall.exchanges import repository
from shieldwall.exchanges.schemas import FeedItem, FeedPage
from shieldwall.integrations.exchanges import signing

_CURSOR = re.compile(r"^(0|[0-9]{1,19}\.[0-9]{1,19})$")
MAX_LIMIT = 10_000
#: Roughly the most characters of values one page carries (fetchers read up to 64 MiB).
MAX_PAGE_CHARS = 16 * 1_048_576


def parse_cursor(cursor: str) -> tuple[int, int]:
    if not _CURSOR.fullmatch(cursor):
        raise InvalidInput(
            "cursor must be 0 or the next_cursor of the previous page", field="cursor"
        )
    if cursor == "0":
        return 0, 0
    seq, _, entry_id = cursor.partition(".")
    if int(seq) >= 2**63 or int(entry_id) >= 2**63:
        raise InvalidInput("cursor is out of range", field="cursor")
    return int(seq), int(entry_id)


def feed_page(
    session: Session,
    settings: Settings,
    bank_name: str,
    *,
    cursor: str,
    limit: int,
    actor: Principal | str,
) -> tuple[bytes, str]:
    """The page's JSON body and its signature header value."""
    after_seq, after_id = parse_cursor(cursor)
    try:
        bank: Bank | None = banks.get_bank(session, bank_name)
    except NotFound:
        bank = None
    if bank is None or repository.get_share(session, bank.id) is None:
        # the same answer for a bank that exists but is not shared: nothing leaks
        raise NotFound(f"no shared bank named {bank_name[:100]!r}", bank=bank_name[:100])
    head = current_seq(session)
    rows = repository.feed_rows(
        session,
        bank.id,
        after_seq=after_seq,
        after_id=after_id,
        upto_seq=head,
        limit=min(limit, MAX_LIMIT) + 1,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    # a page stays well under what a fetcher reads (vPDQ values can be large): cut it short
    size = 0
    for n, row in enumerate(rows):
        size += len(row[2]) + 100
        if size > MAX_PAGE_CHARS and n > 0:
            rows, more = rows[:n], True
            break
    items = [
        FeedItem(
            id=entry_id,
            signal_type=signal_type,
            value="" if removed_at is not None else value,
            labels=[] if removed_at is not None else sorted(labels),
            removed=removed_at is not None,
        )
        for entry_id, signal_type, value, labels, removed_at, _seq in rows
    ]
    next_cursor = f"{rows[-1][5]}.{rows[-1][0]}" if rows else cursor
    page = FeedPage(
        bank=bank.name,
        cursor=cursor,
        next_cursor=next_cursor,
        has_more=more,
        generated_at=utcnow(),
        items=items,
    )
    body = page.model_dump_json().encode()
    key = signing.signing_key(settings.resolved_keyring().current)
    if items:
        removed = sum(i.removed for i in items)
        audit.record(
            session,
            "exchange.feed_served",
            actor=actor,
            subject=f"bank:{bank.id}",
            principles=(10,),
            payload={"bank_id": bank.id, "items": len(items), "removed": removed},
        )
    return body, signing.sign(key, body)
