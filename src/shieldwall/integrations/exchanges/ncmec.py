"""NCMEC's hash-sharing API, through python-threatexchange's ``NCMECHashAPI``.

We keep pytx's client (endpoints, parameters, feedback XML) and its per-entry parser
(``NCMECEntryUpdate.from_xml``), and replace what bites:

* **time zones**: pytx formats ``from``/``to`` with ``datetime.fromtimestamp`` (the server's
  local time) and appends ``Z``; on a server not running in UTC every window is shifted by
  the UTC offset and entries at its edges are missed. :func:`ncmec_time` formats in UTC.
* **one bad entry fails the page**: pytx parses a whole page at once, so one malformed entry
  (or a ``maxTimestamp`` with milliseconds) raises for all of it and the fetch never gets
  past that page. We parse entry by entry; a bad entry is rejected with a reason, and a
  page that cannot be read at all is skipped by its position (``start``/``size`` of the
  paging link) and reported.
* **HTTP**: pytx uses ``requests`` with urllib3 retries that honour any ``Retry-After`` (a
  day, if the server says so) and read bodies of any size. Our transport is
  :class:`~shieldwall.integrations.exchanges.base.SourceClient`: bounded by the run's time
  limit, bounded bodies, backoff that fits in the time left.
* **resuming**: the checkpoint keeps the window (``from``/``to``) and the paging link inside
  it, so a run that stops half-way through a second shared by thousands of entries resumes
  at the next page instead of restarting that second (the stall HMA saw).
"""

from __future__ import annotations

import html
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from threatexchange.exchanges.clients.ncmec import hash_api

from shieldwall.integrations.exchanges.base import (
    LOOKBACK_SECONDS,
    Page,
    Rejected,
    SourceClient,
    SourceMalformed,
    SourceRecord,
    SourceRefused,
    same_origin,
)

#: NCMEC fingerprint tags -> shieldwall signal types, by entry type.
FINGERPRINTS: dict[str, dict[str, str]] = {
    "image": {"md5": "md5", "sha1": "sha1", "pdq": "pdq"},
    "video": {"md5": "video_md5", "sha1": "sha1"},
}
#: Paging links are only good for a while (pytx keeps them 12 hours).
PAGING_LINK_SECONDS = 12 * 3600
#: Leave the newest seconds alone: entries are not ordered by time inside a window.
SETTLE_SECONDS = 5
#: Adaptive windows (no ``page_window_seconds``): a window whose first page says it holds
#: more entries than this is narrowed before its pages are read (NCMEC builds a cursor per
#: window, and cursors over millions of entries are slow to make and to page through) ...
WINDOW_MAX_ENTRIES = 100_000
#: ... to a span expected to hold about this many,
WINDOW_TARGET_ENTRIES = 25_000
#: and widened (doubled) after an empty window, or this many windows in a row that held
#: less than a quarter of the target.
WINDOW_GROW_AFTER = 4
_NCMEC_TIME = "%Y-%m-%dT%H:%M:%SZ"


def check_paging_link(base_url: str, link: str) -> None:
    """Refuse a paging link that is not a path under ``base_url`` (pytx appends it to the
    base address; every request carries the exchange's credentials)."""
    if not link.startswith("/") or not same_origin(base_url + link, base_url):
        raise SourceRefused(
            "NCMEC sent a paging link that leads away from the exchange's address; not "
            "followed (requests carry the exchange's credentials)"
        )


def ncmec_time(timestamp: int) -> str:
    """A Unix time as NCMEC expects it, in UTC whatever the server's time zone."""
    return datetime.fromtimestamp(timestamp, UTC).strftime(_NCMEC_TIME)


def environment_named(name: str) -> hash_api.NCMECEnvironment:
    try:
        return hash_api.NCMECEnvironment[name]
    except KeyError:
        known = ", ".join(e.name for e in hash_api.NCMECEnvironment)
        raise ValueError(f"unknown NCMEC environment {name[:40]!r}; known: {known}") from None


def parse_xml(body: bytes) -> ET.Element:
    """An XML document without its namespaces; no DTDs (so no entity tricks)."""
    if b"<!DOCTYPE" in body[:4096].upper() or b"<!ENTITY" in body.upper():
        raise ET.ParseError("document type declarations are not accepted")
    root = ET.fromstring(body)  # noqa: S314 - no DTD (checked above), expat >= 2.4 limits
    for element in root.iter():
        _ns, found, local = element.tag.partition("}")
        if found:
            element.tag = local
    return root


class NcmecClient(hash_api.NCMECHashAPI):
    """pytx's client over our transport, with UTC times."""

    def __init__(
        self,
        username: str,
        password: str,
        environment: hash_api.NCMECEnvironment,
        *,
        http: SourceClient,
        base_url: str | None = None,
    ) -> None:
        super().__init__(username, password, environment)
        if base_url:
            self._base_url = base_url.rstrip("/")
        self._http = http

    @property
    def base_url(self) -> str:
        return self._base_url

    def _url(self, endpoint: hash_api.NCMECEndpoint, path: str | None) -> str:
        url = "/".join((self._base_url, self.VERSION, endpoint.value))
        return f"{url}/{path}" if path else url

    def _get_raw(
        self, endpoint: hash_api.NCMECEndpoint, *, path: str = "", next_: str = "", **params: Any
    ) -> bytes:
        url = self._url(endpoint, path)
        if next_:
            url = self._base_url + next_
            params = {}
            # a link kept in a checkpoint is checked again before it is followed
            check_paging_link(self._base_url, next_)
        reply = self._http.request(
            "GET",
            url,
            params=params or None,
            auth=(self.username, self.password),
            what=f"NCMEC {endpoint.value}",
        )
        return reply.body

    def _get(
        self, endpoint: hash_api.NCMECEndpoint, *, path: str = "", next_: str = "", **params: Any
    ) -> ET.Element:
        body = self._get_raw(endpoint, path=path, next_=next_, **params)
        try:
            return parse_xml(body)
        except ET.ParseError as exc:
            raise SourceMalformed(
                f"NCMEC {endpoint.value}: the answer is not XML ({exc})"
            ) from None

    def _put(
        self,
        endpoint: hash_api.NCMECEndpoint,
        *,
        path: str | None = None,
        data: bytes | None = None,
    ) -> Any:
        return self._http.request(
            "PUT",
            self._url(endpoint, path),
            headers={"Content-Type": "application/xml; charset=utf-8"},
            content=data,
            auth=(self.username, self.password),
            what=f"NCMEC {endpoint.value}",
            retry=False,
        )

    def submit_feedback(
        self,
        esp_id: int,
        entry_id: str,
        fingerprint_type: hash_api.FingerprintType,
        feedback_type: hash_api.FeedbackType,
        negative_reason_guid: str | None = None,
    ) -> None:
        """pytx's, with the entry id as one escaped path segment: pytx writes it into
        ``entries/{member}/{id}/{fingerprint}/feedback`` as it is, so an id holding "/",
        "..", "?" or "#" would send the PUT (and our credentials) to another path."""
        super().submit_feedback(
            esp_id,
            urllib.parse.quote(entry_id, safe=""),
            fingerprint_type,
            feedback_type,
            negative_reason_guid=negative_reason_guid,
        )

    def entries_page(self, *, start: int, end: int, next_: str = "") -> bytes:
        """One raw page of ``GET /v2/entries`` (``next_``: a paging link)."""
        params = {"from": ncmec_time(start), "to": ncmec_time(end)}
        return self._get_raw(hash_api.NCMECEndpoint.entries, next_=next_, **params)

    def get_entries(
        self, *, start_timestamp: int = 0, end_timestamp: int = 0, next_: str = ""
    ) -> hash_api.GetEntriesResponse:
        """pytx's get_entries with UTC times."""
        end_timestamp = end_timestamp or int(time.time())
        params = {"from": ncmec_time(start_timestamp), "to": ncmec_time(end_timestamp)}
        root = self._get(hash_api.NCMECEndpoint.entries, next_=next_, **params)
        return hash_api.GetEntriesResponse.from_xml(hash_api._XMLWrapper(root), int(time.time()))


# ---- pages ---------------------------------------------------------------------------------


def _entry_problem(element: ET.Element) -> str | None:
    """What is missing from an entry, in words (None: it looks whole)."""
    tag = element.tag.lower().removeprefix("deleted")
    if tag not in ("image", "video"):
        return f"unknown entry type <{element.tag[:40]}>"
    if not (element.findtext("id") or "").strip():
        return "the entry has no <id>"
    member = element.find("member")
    if member is None:
        return "the entry has no <member>"
    if not (member.get("id") or "").strip().isdigit():
        return "the entry's <member> has no numeric id"
    return None


def parse_entries(
    root: ET.Element, member_ids: frozenset[int] = frozenset()
) -> tuple[list[SourceRecord], list[Rejected], int]:
    """The records of one page, the rejected entries, and how many were skipped (another
    member's, or without a fingerprint shieldwall uses)."""
    records: list[SourceRecord] = []
    rejected: list[Rejected] = []
    skipped = 0
    position = 0
    for group in ("images", "videos"):
        container = root.find(group)
        if container is None:
            continue
        for element in container:
            position += 1
            raw_id = (element.findtext("id") or "").strip()
            member_element = element.find("member")
            member = "" if member_element is None else (member_element.get("id") or "").strip()
            label = f"{member}-{raw_id}" if raw_id else f"entry {position} of the page"
            problem = _entry_problem(element)
            if problem is None:
                try:
                    update = hash_api.NCMECEntryUpdate.from_xml(hash_api._XMLWrapper(element))
                except Exception as exc:  # pytx raises IndexError/ValueError/AssertionError
                    problem = f"the entry cannot be read ({type(exc).__name__})"
            if problem is not None:
                rejected.append(Rejected(record_id=label[:200], reason=problem))
                continue
            record_id = f"{update.member_id}-{update.id}"
            if len(record_id) > 200:
                rejected.append(
                    Rejected(record_id=record_id[:200], reason="the entry id is too long")
                )
                continue
            if member_ids and update.member_id not in member_ids:
                skipped += 1
                continue
            if update.deleted:
                records.append(SourceRecord(record_id=record_id, deleted=True))
                continue
            mapping = FINGERPRINTS[update.entry_type.value]
            signals = tuple(
                (mapping[kind.lower()], value)
                for kind, value in update.fingerprints.items()
                if kind.lower() in mapping
            )
            if not signals:
                skipped += 1
                continue
            labels = (update.classification.strip(),) if update.classification else ()
            records.append(SourceRecord(record_id=record_id, signals=signals, labels=labels))
    return records, rejected, skipped


def _estimated_entries(root: ET.Element) -> int:
    """How many entries a window holds, judged by its first page as python-threatexchange
    does: from the paging link, ``max - start`` plus the page's own entries (just the
    page's entries when there is no next page, or its link cannot be read)."""
    on_page = sum(
        len(group) for name in ("images", "videos") if (group := root.find(name)) is not None
    )
    link = (root.findtext("paging/next") or "").strip()
    if not link:
        return on_page
    try:
        info = hash_api.GetEntriesNextInfo.from_next(link)
    except ValueError:
        info = None
    return on_page + 1 if info is None else max(0, info.max - info.start) + on_page


def _skip_link(next_: str) -> str | None:
    """The paging link one page further than ``next_`` (None: past the window's end)."""
    info = hash_api.GetEntriesNextInfo.from_next(next_)
    if info is None:
        return None
    start = info.start + info.size
    if start > info.max:
        return None
    path, _, query = html.unescape(next_).partition("?")
    params = urllib.parse.parse_qsl(query, keep_blank_values=True)
    params = [(k, str(start) if k == "start" else v) for k, v in params]
    return f"{path}?{urllib.parse.urlencode(params)}"


class NcmecAdapter:
    """Pages of NCMEC entries, window by window.

    Checkpoint: ``{"from": t}`` between windows; inside a window
    ``{"from": t, "to": u, "next": <paging link>, "next_at": <when we got it>}``.
    """

    def __init__(
        self,
        client: NcmecClient,
        *,
        member_ids: frozenset[int] = frozenset(),
        start_time: int = 0,
        window_seconds: int | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.member_ids = member_ids
        self.start_time = start_time
        self.window_seconds = window_seconds
        self.clock = clock

    def pages(self, checkpoint: Mapping[str, Any] | None) -> Iterator[Page]:
        cp = dict(checkpoint or {})
        start = int(cp.get("from", self.start_time))
        now = int(self.clock())
        horizon = now - SETTLE_SECONDS
        if (
            cp.get("next")
            and cp.get("to")
            and now - float(cp.get("next_at", 0)) < (PAGING_LINK_SECONDS)
        ):
            end = int(cp["to"])
            yield from self._window(start, end, str(cp["next"]))
            start = end
        elif "from" in cp:  # a new pass: read the last stretch of the previous one again
            start = max(self.start_time, start - LOOKBACK_SECONDS)
        if self.window_seconds:
            while start < horizon:
                end = min(horizon, start + self.window_seconds)
                yield from self._window(start, end, "")
                start = end
            return
        yield from self._adaptive(start, horizon)

    def _adaptive(self, start: int, horizon: int) -> Iterator[Page]:
        """Windows from ``start`` to ``horizon``, each narrowed until its first page says it
        holds at most :data:`WINDOW_MAX_ENTRIES` (the page is then read, not asked again),
        widened after an empty one or several small ones (python-threatexchange probes the
        same way: shrink fast, grow slowly)."""
        span = max(1, horizon - start)
        small = 0
        while start < horizon:
            end = min(horizon, start + span)
            first = self._page(start, end, "")
            estimate = _estimated_entries(first)
            if estimate > WINDOW_MAX_ENTRIES and end - start > 1:
                span = max(1, (end - start) * WINDOW_TARGET_ENTRIES // estimate)
                small = 0
                continue
            entries = 0
            for page in self._window(start, end, "", first=first):
                entries += len(page.records) + len(page.rejected) + page.skipped
                yield page
            start = end
            small = small + 1 if entries < WINDOW_TARGET_ENTRIES // 4 else 0
            if entries == 0 or small >= WINDOW_GROW_AFTER:
                span, small = span * 2, 0

    def _window(
        self, start: int, end: int, next_: str, *, first: ET.Element | None = None
    ) -> Iterator[Page]:
        seen: set[str] = set()
        while True:
            try:
                if first is not None:
                    root, first = first, None
                else:
                    root = self._page(start, end, next_)
            except SourceMalformed as exc:
                skip = _skip_link(next_) if next_ else None
                if not next_:
                    raise
                page = Page(
                    rejected=[Rejected(record_id=f"page:{next_}"[:200], reason=f"{exc}; skipped")]
                )
                if skip is None:
                    page.checkpoint = {"from": end}
                    yield page
                    return
                page.checkpoint = self._inside(start, end, skip)
                yield page
                next_ = skip
                continue
            records, rejected, skipped = parse_entries(root, self.member_ids)
            link = (root.findtext("paging/next") or "").strip()
            if len(link) > 4096 or not link.isprintable():
                raise SourceMalformed("NCMEC sent a paging link that is not a link")
            if link:
                check_paging_link(self.client.base_url, link)
            if link and (link == next_ or link in seen):
                raise SourceMalformed(
                    "NCMEC sent a paging link it had already sent in this window; stopped to "
                    "avoid fetching the same pages forever"
                )
            seen.add(link)
            page = Page(records=records, rejected=rejected, skipped=skipped)
            page.checkpoint = self._inside(start, end, link) if link else {"from": end}
            yield page
            if not link:
                return
            next_ = link

    def _inside(self, start: int, end: int, link: str) -> dict[str, Any]:
        return {"from": start, "to": end, "next": link, "next_at": int(self.clock())}

    def _page(self, start: int, end: int, next_: str) -> ET.Element:
        """A page as XML; an unreadable one is asked for once more before giving up."""
        for attempt in (1, 2):
            body = self.client.entries_page(start=start, end=end, next_=next_)
            try:
                return parse_xml(body)
            except ET.ParseError as exc:
                if attempt == 2:
                    raise SourceMalformed(
                        f"a page of entries is not readable XML ({exc})"
                    ) from None
        raise AssertionError("unreachable")
