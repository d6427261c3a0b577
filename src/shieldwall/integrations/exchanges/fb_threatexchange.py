"""Meta's ThreatExchange (a privacy group's ``/threat_updates``), through
python-threatexchange's ``ThreatExchangeAPI``.

We keep pytx's client (the ``threat_updates`` request, its fields and paging) and its
``ThreatUpdateJSON`` reading of each update (tombstones included), and replace its HTTP:
pytx's ``get_json_from_url`` calls ``requests.get`` directly (its retrying session is built
and then not used, so a 429 fails the fetch). Ours goes through
:class:`~shieldwall.integrations.exchanges.base.SourceClient`.

Paging links carry the access token, so they are never stored. ThreatExchange returns
updates in ``last_updated`` order ("you can save this time to resume fetching from where
you left off", its documentation says), so every page's checkpoint is
``{"since": <the newest last_updated so far>}``: a pass cut short by the time limit resumes
there. A complete pass adds ``"fetched_at": <our time>``; a snapshot pass under way keeps
``"snapshot"`` (when it began, for the sweep) and ``"snapshot_at"``.

* ``since`` is the newest ``last_updated`` the pass saw (ThreatExchange's clock, as pytx
  keeps it), not our clock: a server whose clock runs ahead would otherwise ask from a time
  ThreatExchange has not reached, and miss what it records in between.
* ThreatExchange keeps deletions for 90 days. A checkpoint whose last complete pass is older
  than :data:`STALE_SECONDS` (pytx: 85 days) is not resumed: the whole privacy group is
  fetched again from the start, as a snapshot, and what that complete pass did not list is
  removed from the bank (pytx clears its store first; the bank is never emptied here). A
  first pass (no ``since``) is a snapshot too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from threatexchange.exchanges.clients.fb_threatexchange.api import ThreatExchangeAPI
from threatexchange.exchanges.clients.fb_threatexchange.threat_updates import ThreatUpdateJSON

from shieldwall.integrations.exchanges.base import (
    LOOKBACK_SECONDS,
    Page,
    Rejected,
    SourceClient,
    SourceMalformed,
    SourceRecord,
    SourceRefused,
    loads_json,
    same_origin,
    utc_now,
)

#: How old a checkpoint's last complete pass may be before the next pass starts afresh.
STALE_SECONDS = 85 * 24 * 3600

#: ThreatExchange indicator types -> shieldwall signal types.
INDICATOR_TYPES = {"HASH_PDQ": "pdq", "HASH_VIDEO_MD5": "video_md5", "HASH_MD5": "md5"}
PAGE_SIZE = 1000


class ThreatExchangeClient(ThreatExchangeAPI):
    def __init__(self, api_token: str, *, http: SourceClient, base_url: str | None = None):
        super().__init__(api_token, endpoint_override=base_url.rstrip("/") if base_url else None)
        self._http = http

    @property
    def base_url(self) -> str:
        return self._base_url

    def get_json_from_url(
        self, url: str, params: Any = None, *, json_obj_hook: Callable[..., Any] | None = None
    ) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        reply = self._http.request("GET", url, params=query or None, what="ThreatExchange")
        page = loads_json(reply.body, "a ThreatExchange page", object_hook=json_obj_hook)
        # pytx's cursor reads page.get("paging", {}).get("next") and page.get("data")
        if not isinstance(page, dict):
            raise SourceMalformed("a ThreatExchange page is not a JSON object")
        paging = page.get("paging", {})
        if not isinstance(paging, dict) or not isinstance(paging.get("next", ""), str):
            raise SourceMalformed("a ThreatExchange page's paging is not an object with a link")
        return page


def parse_update(raw: Any, position: int) -> SourceRecord | Rejected | None:
    if not isinstance(raw, dict):
        return Rejected(f"update {position} of the page", "the update is not a JSON object")
    update = ThreatUpdateJSON(raw)
    try:
        record_id = str(update.id)
        kind = update.threat_type
        deleted = bool(update.should_delete)
    except (KeyError, TypeError, ValueError):
        return Rejected(
            f"update {position} of the page", "the update lacks id, type or should_delete"
        )
    ours = INDICATOR_TYPES.get(kind) if isinstance(kind, str) else None
    if ours is None:
        return None
    if deleted:
        return SourceRecord(record_id=record_id, deleted=True)
    indicator = raw.get("indicator")
    if not isinstance(indicator, str):
        return Rejected(record_id, "the update has no indicator")
    tags = raw.get("tags") or []
    if ours == "md5" and isinstance(tags, list) and "media_type_video" in tags:
        ours = "video_md5"
    return SourceRecord(record_id=record_id, signals=((ours, indicator),))


class ThreatExchangeAdapter:
    def __init__(
        self,
        client: ThreatExchangeClient,
        *,
        privacy_group: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.privacy_group = privacy_group
        self.clock = clock

    def pages(self, checkpoint: Mapping[str, Any] | None) -> Iterator[Page]:
        cp = dict(checkpoint or {})
        since = int(cp.get("since", 0))
        until = int(self.clock())
        snapshot: datetime | None = None
        begun = int(cp.get("snapshot_at", 0))
        if cp.get("snapshot") and until - begun <= STALE_SECONDS:
            # a snapshot pass cut short: carry on, and sweep by the time it began
            snapshot = datetime.fromisoformat(str(cp["snapshot"]))
        elif cp.get("snapshot"):
            since = 0  # begun too long ago to trust what it saw: begin again
        elif since and until - int(cp.get("fetched_at", begun or since)) > STALE_SECONDS:
            # (the last complete pass; else when this one began; older checkpoints held our
            # own clock's time of the pass in "since")
            since = 0  # deletions since then may be gone: fetch everything again
        if not since:
            snapshot, begun = utc_now(), until  # utc_now: the clock of items' last_seen
        newest = since
        # what a page's checkpoint keeps besides "since" while the pass is under way
        carried = {k: cp[k] for k in ("fetched_at",) if k in cp}
        if snapshot is not None:
            carried |= {"snapshot": snapshot.isoformat(), "snapshot_at": begun}
        cursor = self.client.get_threat_updates(
            self.privacy_group,
            # read the last stretch of the previous pass again (see LOOKBACK_SECONDS)
            start_time=max(1, since - LOOKBACK_SECONDS) if since else None,
            stop_time=until,
            types=tuple(INDICATOR_TYPES),
            page_size=PAGE_SIZE,
        )
        seen: set[str] = set()
        while not cursor.done:
            link = cursor.next_url
            if not same_origin(link, self.client.base_url):
                # pytx requests whatever link the server sends, and the Graph API's
                # links carry the access token in their query
                raise SourceRefused(
                    "ThreatExchange sent a paging link that leads away from the exchange's "
                    "address; not followed (requests carry the access token)"
                )
            if link in seen:
                raise SourceMalformed("ThreatExchange repeated a paging link; stopped")
            seen.add(link)
            data = cursor.next()  # type: ignore[no-untyped-call]
            page = Page()
            if not isinstance(data, list):  # one page is lost, not the fetch: go on
                page.rejected.append(
                    Rejected(f"page {len(seen)}", "the page's data is not a list; page skipped")
                )
                data = []
                snapshot = None  # a pass with a page missing cannot tell what is gone
                carried.pop("snapshot", None)
            for position, raw in enumerate(data, 1):
                newest = max(newest, _updated(raw, until))
                parsed = parse_update(raw, position)
                if parsed is None:
                    page.skipped += 1
                elif isinstance(parsed, Rejected):
                    page.rejected.append(parsed)
                else:
                    page.records.append(parsed)
            if cursor.done:
                page.checkpoint = {"since": newest, "fetched_at": until}
                page.sweep_before = snapshot
            else:  # updates come in last_updated order: a cut-short pass resumes here
                page.checkpoint = {"since": newest, **carried}
            yield page


def _updated(raw: Any, until: int) -> int:
    """An update's ``last_updated`` (ThreatExchange's clock), never past ``until`` (a time in
    the future would make the next pass skip what comes before it); 0 when absent."""
    value = raw.get("last_updated") if isinstance(raw, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | str):
        return 0
    try:
        return min(int(value), until)
    except ValueError:
        return 0
