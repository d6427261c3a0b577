"""StopNCII.org's hash API, through python-threatexchange's ``StopNCIIAPI``.

We keep pytx's client (endpoints, keys, feedback payloads, its enums) and replace:

* **deletions**: pytx's ``_get_delta_mapping`` compares ``record.hashValue`` (the hash)
  with the Withdrawn/Deleted statuses, so a withdrawn hash is never deleted. We read
  ``hashStatus``: Withdrawn and Deleted remove the hash from the bank.
* **record parsing**: pytx converts every record with dacite (slow on large feeds) and logs
  a failing record in full (hash values in the log). We check each record's fields
  directly; a bad record is rejected with a reason that names the field, never the value.
  A page whose records list is malformed is rejected as a whole and the fetch goes on with
  its ``nextPageToken``; only a page without a usable cursor stops the run.
* **HTTP**: our :class:`~shieldwall.integrations.exchanges.base.SourceClient` (time limit,
  bounded bodies, backoff within the time left) instead of requests with urllib3 retries.
* **resuming**: the checkpoint keeps ``nextPageToken`` while a pass over the records is
  under way, so many records sharing one ``lastModtimestamp`` never make the fetch start
  that second over and over; ``nextSetTimestamp`` is stored only once a pass completes.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from threatexchange.exchanges.clients.stopncii import api

from shieldwall.core import jsondoc
from shieldwall.integrations.exchanges.base import (
    LOOKBACK_SECONDS,
    Page,
    RecordNames,
    Rejected,
    SourceClient,
    SourceMalformed,
    SourceRecord,
    SourceRefused,
    loads_json,
    signal_name,
)

#: StopNCII signal types -> shieldwall's; the other known types are skipped.
SIGNAL_TYPES = {
    api.StopNCIISignalType.ImagePDQ.value: "pdq",
    api.StopNCIISignalType.VideoMD5.value: "video_md5",
}
#: A StopNCII record is named after its hash: ``<signalType>:<hashValue>``.
RECORD_NAMES = RecordNames({ours: theirs for theirs, ours in SIGNAL_TYPES.items()})
KNOWN_TYPES = frozenset(t.value for t in api.StopNCIISignalType)
STATUSES = frozenset(s.value for s in api.StopNCIICaseStatus)
GONE = frozenset({api.StopNCIICaseStatus.Withdrawn.value, api.StopNCIICaseStatus.Deleted.value})
#: How long a page token is trusted for resuming (StopNCII: "not valid over long periods").
TOKEN_SECONDS = 3600


class StopNciiClient(api.StopNCIIAPI):
    """pytx's client over our transport."""

    def __init__(
        self,
        subscription_key: str,
        fetch_function_key: str,
        *,
        http: SourceClient,
        feedback_function_key: str | None = None,
        base_url: str | None = None,
    ) -> None:
        extra = (
            {api.StopNCIIEndpoint.SubmitFeedback: feedback_function_key}
            if feedback_function_key
            else None
        )
        super().__init__(
            subscription_key,
            fetch_function_key,
            additional_function_keys=extra,
            base_url_override=base_url.rstrip("/") if base_url else None,
        )
        self._http = http

    def _headers(self, endpoint: api.StopNCIIEndpoint) -> dict[str, str]:
        key = self._function_keys.get(endpoint)
        if not key:
            raise SourceRefused(
                f"no function key for StopNCII {endpoint.value}; add it to the exchange's "
                "credentials"
            )
        return {"x-functions-key": key, "Ocp-Apim-Subscription-Key": self._subscription_key}

    def get_json(self, endpoint: api.StopNCIIEndpoint, **params: Any) -> Any:
        reply = self._http.request(
            "GET",
            f"{self._base_url}/{endpoint.value}",
            params=params,
            headers=self._headers(endpoint),
            what=f"StopNCII {endpoint.value}",
        )
        return loads_json(reply.body, f"StopNCII {endpoint.value}: the answer")

    def _get(self, endpoint: api.StopNCIIEndpoint, **params: Any) -> Any:
        return self.get_json(endpoint, **params)

    def _post(self, endpoint: api.StopNCIIEndpoint, *, json: Any = None) -> Any:
        reply = self._http.request(
            "POST",
            f"{self._base_url}/{endpoint.value}",
            headers=self._headers(endpoint),
            json=json,
            what=f"StopNCII {endpoint.value}",
            retry=False,
        )
        try:  # an answer we cannot read is no answer (the status already said it worked)
            return jsondoc.loads(reply.body) if reply.body.strip() else None
        except ValueError:
            return None


def _opaque(value: object) -> str:
    """A stable stand-in for a value we must not quote."""
    return hashlib.sha256(repr(value).encode()).hexdigest()[:16]


def _where(position: int, page: str) -> str:
    return f"record {position} of page {page}".strip()


def parse_record(raw: object, position: int, page: str = "") -> SourceRecord | Rejected | None:
    """One hash record; None for a record of a type shieldwall does not use. ``page`` names
    the page (for rejected records that have no usable id of their own)."""
    if not isinstance(raw, dict):
        return Rejected(_where(position, page), "the record is not a JSON object")
    kind = raw.get("signalType")
    value = raw.get("hashValue")
    if not isinstance(kind, str) or kind not in KNOWN_TYPES:
        shown = kind[:40] if isinstance(kind, str) else type(kind).__name__
        stable = f"{shown}:{_opaque(value)}" if isinstance(value, str) else _where(position, page)
        return Rejected(stable, f"unknown signalType {shown!r}")
    if not isinstance(value, str) or not value.strip():
        return Rejected(_where(position, page), "hashValue is missing")
    value = value.strip().lower()
    record_id = signal_name(kind, value) or f"{kind}:{_opaque(value)}"
    status = raw.get("hashStatus")
    if not isinstance(status, str) or status not in STATUSES:
        shown = status[:40] if isinstance(status, str) else type(status).__name__
        return Rejected(f"{kind}:{_opaque(value)}", f"unknown hashStatus {shown!r}")
    modified = raw.get("lastModtimestamp")
    if isinstance(modified, bool) or not isinstance(modified, int):
        return Rejected(f"{kind}:{_opaque(value)}", "lastModtimestamp is not a whole number")
    ours = SIGNAL_TYPES.get(kind)
    if ours is None:
        return None
    if status in GONE:
        return SourceRecord(record_id=record_id, deleted=True)
    return SourceRecord(record_id=record_id, signals=((ours, value),))


class StopNciiAdapter:
    """Pages of StopNCII hash records.

    Checkpoint: ``{"start": t}`` between passes; during a pass
    ``{"start": t, "token": <nextPageToken>, "token_at": <when>}``.
    """

    def __init__(
        self,
        client: StopNciiClient,
        *,
        page_size: int = 800,
        start_timestamp: int = api.StopNCIIAPI.DEFAULT_START_TIME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.page_size = page_size
        self.start_timestamp = start_timestamp
        self.clock = clock

    def pages(self, checkpoint: Mapping[str, Any] | None) -> Iterator[Page]:
        cp = dict(checkpoint or {})
        start = int(cp.get("start", self.start_timestamp))
        resume_from = start  # the checkpoint never moves back, whatever the pass sees
        token: str | None = None
        if cp.get("token") and self.clock() - float(cp.get("token_at", 0)) < TOKEN_SECONDS:
            token = str(cp["token"])
        elif "start" in cp:  # a new pass: read the last stretch of the previous one again
            start = max(self.start_timestamp, start - LOOKBACK_SECONDS)
        seen: set[str] = set()
        restarted = False
        while True:
            params: dict[str, Any] = {"startTimestamp": start, "pageSize": self.page_size}
            if token:
                params["nextPageToken"] = token
            try:
                body = self.client.get_json(api.StopNCIIEndpoint.FetchHashes, **params)
            except SourceRefused:
                if not token or restarted:
                    raise
                # an expired cursor: start the pass again, once (nothing is skipped)
                token, restarted = None, True
                continue
            page, token, more = self._page(
                body, start, seen, _opaque((start, token)), resume_from=resume_from
            )
            yield page
            if not more:
                return

    def _page(
        self, body: Any, start: int, seen: set[str], page_ref: str, *, resume_from: int
    ) -> tuple[Page, str | None, bool]:
        if not isinstance(body, dict):
            raise SourceMalformed("a StopNCII page is not a JSON object")
        more = body.get("hasMoreRecords")
        token = body.get("nextPageToken")
        next_set = body.get("nextSetTimestamp")
        if not isinstance(more, bool):
            raise SourceMalformed("a StopNCII page has no hasMoreRecords true/false")
        if more and (
            not isinstance(token, str) or not token or len(token) > 4096 or not token.isprintable()
        ):
            raise SourceMalformed(
                "a StopNCII page says more records follow but has no nextPageToken"
            )
        if more and token in seen:
            raise SourceMalformed(
                "StopNCII sent a nextPageToken it had already sent in this pass; stopped to "
                "avoid fetching the same pages forever"
            )
        page = Page()
        raw_records = body.get("hashRecords", [])
        if not isinstance(raw_records, list):
            page.rejected.append(
                Rejected(f"page {page_ref}", "hashRecords is not a list; page skipped")
            )
            raw_records = []
        for position, raw in enumerate(raw_records, 1):
            parsed = parse_record(raw, position, page_ref)
            if parsed is None:
                page.skipped += 1
            elif isinstance(parsed, Rejected):
                page.rejected.append(parsed)
            else:
                page.records.append(parsed)
        if more:
            assert isinstance(token, str)
            seen.add(token)
            page.checkpoint = {"start": start, "token": token, "token_at": int(self.clock())}
            return page, token, True
        if isinstance(next_set, bool) or not isinstance(next_set, int):
            next_set = start
        page.checkpoint = {"start": max(start, resume_from, next_set)}
        return page, None, False
