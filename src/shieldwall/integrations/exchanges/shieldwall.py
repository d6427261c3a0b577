"""Another shieldwall deployment's shared bank: its signed feed, by cursor.

Every page is verified (:mod:`~shieldwall.integrations.exchanges.signing`) before it is
read, and must be for the bank and cursor asked for. Each item is one entry of theirs: its
id is the record id here, so their removals and label changes reach our bank.

Checkpoint: ``{"cursor": <their next_cursor>}``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

from shieldwall.integrations.exchanges import signing
from shieldwall.integrations.exchanges.base import (
    Page,
    Rejected,
    SourceClient,
    SourceMalformed,
    SourceRecord,
    loads_json,
)

PAGE_LIMIT = 5000


class ShieldwallFeedAdapter:
    def __init__(
        self,
        http: SourceClient,
        *,
        base_url: str,
        bank: str,
        public_key: str,
        api_key: str,
        limit: int = PAGE_LIMIT,
    ) -> None:
        self.http = http
        self.url = f"{base_url.rstrip('/')}/v1/exchange/feeds/{quote(bank, safe='')}"
        self.bank = bank
        try:
            self.public_key = signing.parse_public_key(public_key)
        except ValueError as exc:
            raise SourceMalformed(f"the exchange's public_key setting: {exc}") from None
        self.api_key = api_key
        self.limit = limit

    def pages(self, checkpoint: Mapping[str, Any] | None) -> Iterator[Page]:
        cursor = str((checkpoint or {}).get("cursor", "0"))
        while True:
            reply = self.http.request(
                "GET",
                self.url,
                params={"cursor": cursor, "limit": self.limit},
                headers={"Authorization": f"Bearer {self.api_key}"},
                what="the partner feed",
            )
            try:
                header = reply.headers.get(signing.HEADER.lower())
                signing.verify(self.public_key, header, reply.body)
            except signing.SignatureInvalid as exc:
                raise SourceMalformed(f"the partner feed: {exc}; nothing of it was used") from None
            body = loads_json(reply.body, "the partner feed page")
            page, next_cursor, more = self._page(body, cursor)
            yield page
            if not more:
                return
            if next_cursor == cursor:
                raise SourceMalformed(
                    "the partner feed says more pages follow but its cursor did not move"
                )
            cursor = next_cursor

    def _page(self, body: Any, cursor: str) -> tuple[Page, str, bool]:
        if not isinstance(body, dict) or body.get("version") != 1:
            raise SourceMalformed("the partner feed page is not a version 1 feed page")
        if body.get("bank") != self.bank or str(body.get("cursor")) != cursor:
            raise SourceMalformed(
                "the partner feed answered for another bank or cursor than asked; not used"
            )
        next_cursor = body.get("next_cursor")
        more = body.get("has_more")
        items = body.get("items")
        if not isinstance(next_cursor, str) or not isinstance(more, bool):
            raise SourceMalformed("the partner feed page has no next_cursor/has_more")
        if len(next_cursor) > 200 or not next_cursor.isprintable():
            raise SourceMalformed("the partner feed's next_cursor is not a cursor")
        if not isinstance(items, list):
            raise SourceMalformed("the partner feed page has no items list")
        page = Page(checkpoint={"cursor": next_cursor})
        for position, item in enumerate(items, 1):
            parsed = _item(item, position)
            if isinstance(parsed, Rejected):
                page.rejected.append(parsed)
            else:
                page.records.append(parsed)
        return page, next_cursor, more


def _item(item: Any, position: int) -> SourceRecord | Rejected:
    if not isinstance(item, dict):
        return Rejected(f"item {position} of the page", "the item is not a JSON object")
    entry_id = item.get("id")
    if isinstance(entry_id, bool) or not isinstance(entry_id, int):
        return Rejected(f"item {position} of the page", "the item has no numeric id")
    record_id = str(entry_id)
    if item.get("removed") is True:
        return SourceRecord(record_id=record_id, deleted=True)
    kind, value, labels = item.get("signal_type"), item.get("value"), item.get("labels", [])
    if not isinstance(kind, str) or not isinstance(value, str):
        return Rejected(record_id, "signal_type and value must be strings")
    if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
        return Rejected(record_id, "labels must be a list of strings")
    return SourceRecord(record_id=record_id, signals=((kind, value),), labels=tuple(labels))
