"""A fake of StopNCII.org's hash API (``/v1/FetchHashes``, ``/v1/SubmitFeedback``) in the
shape python-threatexchange's ``StopNCIIAPI`` reads: JSON pages of ``hashRecords`` with
``nextPageToken``, ``hasMoreRecords`` and ``nextSetTimestamp``.

Records are served in ``lastModtimestamp`` order from ``startTimestamp`` (inclusive).
Besides :class:`~shieldwall.devtools.fake_http.Fault`s, it can serve malformed records
(put any JSON value in :attr:`FakeStopNcii.records`), expire page tokens
(:attr:`token_ttl_requests`), and page forever (:attr:`endless`).
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import json
from collections.abc import Sequence
from typing import Any

from shieldwall.devtools.fake_http import FakeService, Reply, Request

SUBSCRIPTION_KEY = "fake-subscription-key"
FETCH_KEY = "fake-fetch-function-key"
FEEDBACK_KEY = "fake-feedback-function-key"


def pdq_for(i: int, salt: str = "stopncii") -> str:
    return hashlib.sha256(f"{salt}:{i}".encode()).hexdigest()


def record(
    value: str,
    *,
    ts: int,
    kind: str = "ImagePDQ",
    status: str = "Active",
) -> dict[str, Any]:
    return {
        "lastModtimestamp": ts,
        "signalType": kind,
        "hashValue": value,
        "hashStatus": status,
        "caseNumbers": {"case-1": status},
        "CSPFeedbacks": [],
    }


class SyntheticRecords(Sequence[dict[str, Any]]):
    """``n`` distinct active PDQ records, ``per_second`` sharing each timestamp, made on the
    fly (a million cost no memory)."""

    def __init__(self, n: int, *, start_ts: int = 1_600_000_000, per_second: int = 100) -> None:
        self.n = n
        self.start_ts = start_ts
        self.per_second = per_second

    def __len__(self) -> int:
        return self.n

    def ts(self, i: int) -> int:
        return self.start_ts + i // self.per_second

    def __getitem__(self, i: int) -> dict[str, Any]:  # type: ignore[override]
        if not 0 <= i < self.n:
            raise IndexError(i)
        return record(pdq_for(i), ts=self.ts(i))

    def json_of(self, start: int, end: int) -> str:
        """The JSON of records ``start``..``end``, rendered directly (the benchmark's fake
        must cost little next to the clients it serves)."""
        return ",".join(_RECORD % (self.ts(i), pdq_for(i)) for i in range(start, end))


_RECORD = (
    '{"lastModtimestamp":%d,"signalType":"ImagePDQ","hashValue":"%s","hashStatus":"Active",'
    '"caseNumbers":{"case-1":"Active"},"CSPFeedbacks":[]}'
)


class FakeStopNcii(FakeService):
    def __init__(self, records: Sequence[Any] | None = None) -> None:
        super().__init__()
        self.records: Sequence[Any] = (
            records if isinstance(records, SyntheticRecords) else list(records or [])
        )
        self._keys: tuple[Sequence[Any], list[int]] | None = None
        self.feedback: list[dict[str, Any]] = []
        #: A page token is refused (400) once this many FetchHashes calls came after it.
        self.token_ttl_requests: int | None = None
        #: Every page says more records follow, with a new token and nothing in it.
        self.endless = False
        #: Answer SubmitFeedback with this status this many times before accepting.
        self.feedback_failures: list[int] = []
        self._fetches = 0

    # ---- data ---------------------------------------------------------------------------

    def set_records(self, records: Sequence[Any]) -> None:
        with self.lock:
            self.records = sorted(records, key=_ts) if isinstance(records, list) else records

    def upsert(self, new: dict[str, Any]) -> None:
        """Replace the record with the same signalType and hashValue (or add it)."""
        with self.lock:
            kept = [
                r
                for r in self.records
                if not (
                    isinstance(r, dict)
                    and r.get("signalType") == new["signalType"]
                    and r.get("hashValue") == new["hashValue"]
                )
            ]
            self.records = sorted([*kept, new], key=_ts)

    def _start_index(self, start: int) -> int:
        records = self.records
        if isinstance(records, SyntheticRecords):
            if start <= records.start_ts:
                return 0
            return min(len(records), (start - records.start_ts) * records.per_second)
        # keyed on the list itself (held here, so its id cannot pass to a new list)
        if self._keys is None or self._keys[0] is not records:
            self._keys = (records, [_ts(r) for r in records])
        return bisect.bisect_left(self._keys[1], start)

    # ---- HTTP ---------------------------------------------------------------------------

    def handle(self, request: Request) -> Reply:
        key = request.headers.get("ocp-apim-subscription-key")
        function_key = request.headers.get("x-functions-key")
        if key != SUBSCRIPTION_KEY:  # the gateway's (Azure API Management) answer
            return Reply(401, _APIM_DENIED, {"Content-Type": "application/json"})
        if request.path.endswith("/FetchHashes") and request.method == "GET":
            if function_key != FETCH_KEY:  # the function's own: no body
                return Reply(401, b"")
            return self._fetch(request)
        if request.path.endswith("/SubmitFeedback") and request.method == "POST":
            if function_key != FEEDBACK_KEY:
                return Reply(401, b"")
            with self.lock:
                if self.feedback_failures:
                    return Reply(self.feedback_failures.pop(0), b'{"error": "try later"}')
                self.feedback.append(json.loads(request.body))
            return Reply(200, b"{}", {"Content-Type": "application/json"})
        return Reply(404, b'{"error": "not found"}')

    def _fetch(self, request: Request) -> Reply:
        with self.lock:
            self._fetches += 1
            fetch_no = self._fetches
        try:
            start = int(request.query.get("startTimestamp", "0"))
            size = max(1, min(10_000, int(request.query.get("pageSize", "800"))))
        except ValueError:
            return Reply(400, b'{"error": "bad parameters"}')
        token = request.query.get("nextPageToken")
        offset = self._start_index(start)
        if token:
            try:
                state = json.loads(base64.urlsafe_b64decode(token))
                offset, issued = int(state["offset"]), int(state["at"])
                if int(state["start"]) != start:
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                return Reply(400, b'{"error": "invalid nextPageToken"}')
            if self.token_ttl_requests is not None and fetch_no - issued > self.token_ttl_requests:
                return Reply(400, b'{"error": "nextPageToken expired"}')
        if self.endless:
            body = {
                "count": 0,
                "nextPageToken": _token(start, offset + 1, fetch_no),
                "nextSetTimestamp": start,
                "hasMoreRecords": True,
                "hashRecords": [],
            }
            return _json(body)
        records = self.records
        end = min(len(records), offset + size)
        more = end < len(records)
        if isinstance(records, SyntheticRecords):
            last_ts = records.ts(end - 1) if end > 0 else start
            token = json.dumps(_token(start, end, fetch_no) if more else None)
            text = (
                f'{{"count":{max(0, end - offset)},"nextPageToken":{token},'
                f'"nextSetTimestamp":{last_ts},"hasMoreRecords":{json.dumps(more)},'
                f'"hashRecords":[{records.json_of(offset, end)}]}}'
            )
            return Reply(200, text.encode(), {"Content-Type": "application/json"})
        page = [records[i] for i in range(offset, end)]
        last_ts = _ts(records[end - 1]) if end > 0 and len(records) else start
        body = {
            "count": len(page),
            "nextPageToken": _token(start, end, fetch_no) if more else None,
            "nextSetTimestamp": last_ts,
            "hasMoreRecords": more,
            "hashRecords": page,
        }
        return _json(body)


_APIM_DENIED = (
    b'{ "statusCode": 401, "message": "Access denied due to invalid subscription key. Make '
    b'sure to provide a valid key for an active subscription." }'
)


def _ts(r: Any) -> int:
    if isinstance(r, dict) and isinstance(r.get("lastModtimestamp"), int):
        return int(r["lastModtimestamp"])
    return 0


def _token(start: int, offset: int, at: int) -> str:
    raw = json.dumps({"start": start, "offset": offset, "at": at}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _json(body: Any) -> Reply:
    return Reply(
        200,
        json.dumps(body, separators=(",", ":")).encode(),
        {"Content-Type": "application/json"},
    )


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m shieldwall.devtools.fake_stopncii --records N``: serve N synthetic
    records on loopback until stopped; prints the base URL (``.../v1``) on one line."""
    import argparse
    import sys
    import threading

    from shieldwall.devtools.fake_http import Running

    parser = argparse.ArgumentParser(prog="python -m shieldwall.devtools.fake_stopncii")
    parser.add_argument("--records", type=int, default=1000)
    parser.add_argument("--per-second", type=int, default=100)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    fake = FakeStopNcii(SyntheticRecords(args.records, per_second=args.per_second))
    with Running(fake, port=args.port) as server:
        print(f"{server.url}/v1", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            sys.exit(0)


if __name__ == "__main__":
    main()
