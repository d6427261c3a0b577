"""The hash chain: how an event's digest is computed. Pure functions, no database."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, no NaN: the same bytes on every machine and database."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def normalise_payload(payload: dict[str, Any] | None) -> dict[str, Any]:
    """The payload as it will read back from the database (JSON round trip).

    Raises ``ValueError`` for anything JSON cannot hold exactly (NaN, sets, objects).
    """
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise ValueError("event payload must be a JSON object")
    try:
        result: dict[str, Any] = json.loads(canonical_json(payload))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"event payload is not plain JSON: {exc}") from None
    return result


def format_time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def event_digest(
    *,
    event_id: int,
    occurred_at: datetime,
    actor: str,
    kind: str,
    subject: str,
    principles: list[int],
    payload: dict[str, Any],
    prev_hash: str,
) -> str:
    body = canonical_json(
        {
            "id": event_id,
            "occurred_at": format_time(occurred_at),
            "actor": actor,
            "kind": kind,
            "subject": subject,
            "principles": list(principles),
            "payload": payload,
            "prev_hash": prev_hash,
        }
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()
