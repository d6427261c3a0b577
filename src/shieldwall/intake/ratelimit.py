"""Rate limits kept in the database, so every server process and machine shares them.

Each limit (a *bucket*) counts requests per caller in fixed windows of ``window_seconds``
(one row per caller and window). A request is admitted when the sliding-window estimate ::

    previous window's count x (share of the previous window still inside the last
    window_seconds) + this window's count

stays within the limit — the "sliding window counter" of Cloudflare and others: smooth at
window edges, at most two rows per caller, each deleted once the window after its own has
ended (:func:`purge_expired`, run whenever a caller starts a new window). The count is taken
with an upsert inside the caller's transaction, so a refused request (the service raises,
the transaction rolls back) is not counted, and two concurrent requests never both take the
last slot.

Callers are named by keyed hashes (:func:`caller_key`, :func:`address_key`): an HMAC-SHA256
with the installation's secret key, so the table never holds a network address or a platform
user id, and a hash cannot be reversed by trying every IPv4 address without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from shieldwall.core.errors import RateLimited
from shieldwall.db.base import utcnow
from shieldwall.intake import repository


@dataclass(frozen=True, slots=True)
class Limit:
    """At most ``limit`` requests per caller in any ``window_seconds``."""

    bucket: str
    limit: int
    window_seconds: int
    what: str = "requests"


def caller_key(secret: bytes, kind: str, value: str) -> str:
    """HMAC-SHA256 hex of ``kind`` and ``value`` under ``secret``."""
    return hmac.new(secret, f"{kind}\0{value}".encode(), hashlib.sha256).hexdigest()


def address_key(secret: bytes, address: str | None) -> str:
    """The keyed hash naming a client address. IPv6 addresses count per /64 network (one
    home or phone usually holds a whole /64, and could otherwise rotate through it)."""
    text = (address or "").strip()
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        network = text or "unknown"
    else:
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if isinstance(ip, ipaddress.IPv6Address):
            network = str(ipaddress.IPv6Network((int(ip), 64), strict=False))
        else:
            network = str(ip)
    return caller_key(secret, "address", network)


def window_start(now: datetime, window_seconds: int) -> datetime:
    epoch = int(now.timestamp())
    return datetime.fromtimestamp(epoch - epoch % window_seconds, UTC)


def estimate(previous: int, current: int, elapsed: float, window: int) -> float:
    """The sliding-window count ``elapsed`` seconds into the current window."""
    weight = max(0.0, 1.0 - elapsed / window)
    return previous * weight + current


#: Float noise (0.6666...7 x 60) must not add a whole second to an answer.
_EPSILON = 1e-6


def retry_after(limit: int, window: int, elapsed: float, previous: int, current: int) -> int:
    """Whole seconds until one more request fits, given the counts *before* it.

    Inside this window the previous window's weight fades; if that is not enough, the wait
    runs into the next window, where this window's count becomes the fading one.
    """
    room = limit - current - 1  # what the previous window's weighted count may still be
    if room >= 0 and previous > 0:
        wait = window * (1.0 - room / previous) - elapsed
        if wait <= window - elapsed:
            return max(1, math.ceil(wait - _EPSILON))
    until_next = window - elapsed
    later = window * (1.0 - (limit - 1) / current) if current > limit - 1 else 0.0
    return max(1, math.ceil(until_next + max(0.0, later) - _EPSILON))


def hit(session: Session, rule: Limit, key: str, *, now: datetime | None = None) -> int:
    """Count one request by ``key`` against ``rule``; :class:`RateLimited` (with
    ``retry_after``) when it does not fit. Returns the sliding-window count, this one
    included. Flushes; the caller's commit makes the count stick."""
    now = now or utcnow()
    start = window_start(now, rule.window_seconds)
    elapsed = (now - start).total_seconds()
    previous_start = start - timedelta(seconds=rule.window_seconds)
    expires_at = start + timedelta(seconds=2 * rule.window_seconds)
    current = repository.increment_window(session, rule.bucket, key, start, expires_at)
    if current == 1:
        # a caller's first request in a window: sweep every limit's rows nobody needs any more
        purge_expired(session, now=now)
    previous = repository.count_in_window(session, rule.bucket, key, previous_start)
    count = estimate(previous, current, elapsed, rule.window_seconds)
    if count > rule.limit:
        wait = retry_after(rule.limit, rule.window_seconds, elapsed, previous, current - 1)
        raise RateLimited(
            f"too many {rule.what}: at most {rule.limit} in {_span(rule.window_seconds)}; "
            f"try again in {wait} seconds",
            retry_after=wait,
        )
    return math.ceil(count)


def purge_expired(session: Session, *, now: datetime | None = None) -> int:
    """Delete the windows no limit needs any more (older than the window after their own);
    returns how many. :func:`hit` calls it as windows start; flushes only."""
    return repository.delete_expired_windows(session, now or utcnow())


def _span(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "an hour" if hours == 1 else f"{hours} hours"
    if seconds % 60 == 0:
        minutes = seconds // 60
        return "a minute" if minutes == 1 else f"{minutes} minutes"
    return f"{seconds} seconds"
