"""A fake of NCMEC's hash-sharing API v2 in the shape python-threatexchange's
``NCMECHashAPI`` reads: ``/v2/status``, ``/v2/entries?from=&to=`` (XML pages of
``<images>``/``<videos>`` with ``<image>``/``<deletedImage>`` entries and a
``<paging><next>`` link carrying ``start``, ``size`` and ``max``), feedback reasons and
``PUT /v2/entries/{member}/{id}/{FP}/feedback``. HTTP Basic credentials are checked.

Entries are dicts (see :func:`entry`) served in insertion order (NCMEC's pages are not in
time order either) if their timestamp is within ``from``..``to`` (UTC, inclusive). An entry
with a ``"raw"`` key is sent as that XML text as is (for malformed entries). Besides
:class:`~shieldwall.devtools.fake_http.Fault`s it can page forever (:attr:`endless`).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape, quoteattr

from shieldwall.devtools.fake_http import FakeService, Reply, Request

USERNAME = "fake-esp"
PASSWORD = "fake-password"  # noqa: S105 - the fake's own test credential
MEMBER_ID = 42
NS = "https://hashsharing.ncmec.org/hashsharing/v2"
REASONS = {"fp-guid-1": "Not CSAM"}


def md5_for(i: int) -> str:
    return hashlib.md5(f"ncmec:{i}".encode()).hexdigest()  # noqa: S324 - test data


def pdq_for(i: int) -> str:
    return hashlib.sha256(f"ncmec:{i}".encode()).hexdigest()


def entry(
    entry_id: str,
    *,
    ts: int,
    member: int = MEMBER_ID,
    kind: str = "image",
    deleted: bool = False,
    classification: str | None = "A1",
    fingerprints: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "id": entry_id,
        "ts": ts,
        "member": member,
        "kind": kind,
        "deleted": deleted,
        "classification": classification,
        "fingerprints": dict(fingerprints or {}),
    }


def parse_time(value: str) -> int:
    text = value.strip().replace("Z", "+00:00")
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp())


def format_time(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def entry_xml(e: dict[str, Any]) -> str:
    if "raw" in e:
        return str(e["raw"])
    tag = ("deleted" + e["kind"].capitalize()) if e["deleted"] else e["kind"]
    parts = [f"<{tag}>", f"<id>{escape(e['id'])}</id>"]
    parts.append(f'<member id="{e["member"]}">Member {e["member"]}</member>')
    parts.append(f"<timestamp>{format_time(e['ts'])}</timestamp>")
    if not e["deleted"]:
        if e.get("classification"):
            parts.append(f"<classification>{escape(e['classification'])}</classification>")
        parts.append("<fingerprints>")
        for kind, value in e["fingerprints"].items():
            parts.append(f"<{kind}>{escape(value)}</{kind}>")
        parts.append("</fingerprints>")
    parts.append(f"</{tag}>")
    return "".join(parts)


class FakeNcmec(FakeService):
    def __init__(self, entries: Sequence[dict[str, Any]] = (), page_size: int = 1000) -> None:
        super().__init__()
        self.entries: list[dict[str, Any]] = list(entries)
        self.page_size = page_size
        self.endless = False
        self.feedback: list[dict[str, Any]] = []
        self.feedback_failures: list[int] = []
        #: (from, to) of every first page asked for, in order.
        self.windows: list[tuple[int, int]] = []
        #: Put before every paging link (a hostile server's link elsewhere).
        self.link_prefix = ""

    def add(self, *entries: dict[str, Any]) -> None:
        with self.lock:
            self.entries.extend(entries)

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
        expected = base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        return header == f"Basic {expected}"

    def handle(self, request: Request) -> Reply:
        if not self._authorised(request):
            return Reply(401, b"<error>unauthorised</error>", {"WWW-Authenticate": "Basic"})
        path = request.path
        base = path[path.index("/v2/") :] if "/v2/" in path else path
        if base == "/v2/status":
            return _xml(f'<status xmlns="{NS}"><member id="{MEMBER_ID}">Fake ESP</member></status>')
        if base == "/v2/entries" and request.method == "GET":
            return self._entries(request)
        if base.startswith("/v2/feedback/") and base.endswith("/reasons"):
            reasons = "".join(
                f"<reason guid={quoteattr(g)} name={quoteattr(n)}/>" for g, n in REASONS.items()
            )
            return _xml(
                f'<feedbackReasons xmlns="{NS}"><availableFeedbackReasons>{reasons}'
                "</availableFeedbackReasons></feedbackReasons>"
            )
        if base.startswith("/v2/entries/") and base.endswith("/feedback"):
            if request.method != "PUT":
                return Reply(405, b"")
            with self.lock:
                if self.feedback_failures:
                    return Reply(self.feedback_failures.pop(0), b"<error>later</error>")
                parts = base.split("/")
                self.feedback.append(
                    {
                        "member": parts[3],
                        "entry": unquote(parts[4]),
                        "fingerprint": parts[5],
                        "body": request.body.decode("utf-8", "replace"),
                    }
                )
            return Reply(200, b"")
        return Reply(404, b"<error>not found</error>")

    def _entries(self, request: Request) -> Reply:
        try:
            start_ts = parse_time(request.query["from"])
            end_ts = parse_time(request.query["to"])
            start = int(request.query.get("start", "1"))
            size = int(request.query.get("size", str(self.page_size)))
        except (KeyError, ValueError):
            return Reply(400, b"<error>bad parameters</error>")
        if "start" not in request.query:
            self.windows.append((start_ts, end_ts))
        with self.lock:
            found = [e for e in self.entries if start_ts <= e["ts"] <= end_ts]
        if self.endless:
            found = []
            total = start + 2 * size
        else:
            total = len(found)
        page = found[start - 1 : start - 1 + size]
        groups = []
        for kind, group in (("image", "images"), ("video", "videos")):
            members = [e for e in page if e.get("kind", "image") == kind]
            if not members:
                continue
            newest = max(int(e.get("ts", start_ts)) for e in members)
            body = "".join(entry_xml(e) for e in members)
            groups.append(
                f'<{group} count="{len(members)}" maxTimestamp="{format_time(newest)}">'
                f"{body}</{group}>"
            )
        paging = ""
        if start - 1 + size < total:
            link = (
                f"{self.link_prefix}/v2/entries?from={format_time(start_ts)}&to={format_time(end_ts)}"
                f"&start={start + size}&size={size}&max={total}"
            )
            paging = f"<paging><next>{escape(link)}</next></paging>"
        return _xml(f'<queryResult xmlns="{NS}">{"".join(groups)}{paging}</queryResult>')


def _xml(text: str) -> Reply:
    return Reply(
        200,
        ('<?xml version="1.0" encoding="UTF-8"?>' + text).encode(),
        {"Content-Type": "application/xml"},
    )
