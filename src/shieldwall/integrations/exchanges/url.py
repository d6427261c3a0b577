"""A hash list published at an address: python-threatexchange's ``local_file`` format
(``<signal_type> <value>`` a line, or bare values of the exchange's ``signal_type``) over
http(s).

Like :mod:`~shieldwall.integrations.exchanges.local_file`, every complete read is a
snapshot and what is missing from it is deleted. The body is streamed line by line (memory
stays flat whatever the list's size); ``ETag`` / ``Last-Modified`` are sent back so an
unchanged list costs one 304. A read cut short by the time limit starts again at the next
run (HTTP gives no safe way to resume the middle of a changing file); nothing is swept
until a read completes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from shieldwall.integrations.exchanges.base import Page, SourceClient, utc_now
from shieldwall.integrations.exchanges.local_file import PAGE_LINES, lines_to_pages


class UrlListAdapter:
    """Checkpoint: ``{"etag", "last_modified"}`` of the last complete read."""

    def __init__(
        self,
        http: SourceClient,
        url: str,
        *,
        bearer_token: str | None = None,
        page_lines: int = PAGE_LINES,
        signal_type: str | None = None,
    ) -> None:
        self.http = http
        self.url = url
        self.bearer_token = bearer_token
        self.page_lines = page_lines
        self.signal_type = signal_type

    def pages(self, checkpoint: Mapping[str, Any] | None) -> Iterator[Page]:
        cp = dict(checkpoint or {})
        headers = {"Accept": "text/plain, */*;q=0.5"}
        if self.bearer_token:
            headers["Authorization"] = f"Bearer {self.bearer_token}"
        if cp.get("etag"):
            headers["If-None-Match"] = str(cp["etag"])
        if cp.get("last_modified"):
            headers["If-Modified-Since"] = str(cp["last_modified"])
        snapshot = utc_now()
        with self.http.open_lines(self.url, what="the list", headers=headers) as (
            status,
            reply_headers,
            lines,
        ):
            if status == 304:
                return
            done = {
                key: reply_headers[header]
                for key, header in (("etag", "etag"), ("last_modified", "last-modified"))
                if reply_headers.get(header)
            }

            def checkpoint_at(line: int | None) -> dict[str, Any]:
                # Mid-list progress is not resumable over HTTP: keep the old checkpoint.
                return dict(done) if line is None else dict(cp)

            yield from lines_to_pages(
                enumerate(lines, 1),
                snapshot=snapshot,
                checkpoint_at=checkpoint_at,
                page_lines=self.page_lines,
                signal_type=self.signal_type,
            )
