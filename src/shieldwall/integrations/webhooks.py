"""Signed webhooks: the signature scheme, its verification, and the sender.

Every webhook is a JSON ``POST`` with these headers::

    Content-Type: application/json
    Idempotency-Key: <the body's "id">
    Shieldwall-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">

The signature covers the timestamp and the exact body bytes, so neither can be changed
without the shared secret. :func:`verify` also refuses a timestamp further than
``tolerance_s`` from now: a captured request cannot be replayed later. Within the tolerance a
replay is still possible, and the same webhook is legitimately delivered again after a
crash or a timeout, so receivers must also remember the ``id`` they acted on (see
``docs/webhooks.md``). During a secret rotation a header may carry several ``v1=`` values;
one matching is enough.

Errors::

    ValueError
    └── SignatureError          verify() refused the header (says why, never the secret)
    Exception
    └── DeliveryFailed          send() did not get a 2xx; ``retryable`` and ``retry_after``
                                say what to do next

:class:`WebhookSender` takes an httpx ``transport`` so tests speak real HTTP to a local server.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from shieldwall import __version__
from shieldwall.core.tokens import same_token

__all__ = [
    "IDEMPOTENCY_HEADER",
    "SIGNATURE_HEADER",
    "DeliveryFailed",
    "SignatureError",
    "WebhookSender",
    "canonical_body",
    "sign",
    "verify",
]

SIGNATURE_HEADER = "Shieldwall-Signature"
IDEMPOTENCY_HEADER = "Idempotency-Key"
DEFAULT_TOLERANCE_S = 300
#: Statuses worth trying again besides 5xx: timeouts, "too early", rate limits, and the
#: ones a configuration change fixes (wrong secret or path on either side) — refusing those
#: for good would lose every action sent while the two sides disagree.
RETRYABLE_STATUSES = frozenset({401, 403, 404, 408, 425, 429})


class SignatureError(ValueError):
    """The signature header is missing, malformed, stale, or matches no secret."""


class DeliveryFailed(Exception):
    """One delivery attempt did not succeed. ``message`` is plain words (no body, no
    secret); ``retryable`` is False when trying again cannot help (the receiver refused);
    ``retry_after`` is the receiver's ``Retry-After`` in seconds, when it sent one."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool,
        retry_after: float | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.retry_after = retry_after
        self.status_code = status_code


def _key(secret: str | bytes) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    if not key:
        raise ValueError("a webhook secret must not be empty")
    return key


def canonical_body(document: dict[str, Any]) -> bytes:
    """The bytes sent for ``document``: compact JSON with sorted keys, UTF-8, so every
    attempt sends exactly the same body."""
    return json.dumps(
        document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def _digest(key: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(key, str(timestamp).encode("ascii") + b"." + body, hashlib.sha256).hexdigest()


def sign(body: bytes, secret: str | bytes, *, timestamp: int | None = None) -> str:
    """The ``Shieldwall-Signature`` header value for ``body`` at ``timestamp`` (default now)."""
    t = int(time.time()) if timestamp is None else int(timestamp)
    return f"t={t},v1={_digest(_key(secret), t, body)}"


def verify(
    header: str | None,
    body: bytes,
    secret: str | bytes,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> int:
    """Check a ``Shieldwall-Signature`` header against the raw body; returns its timestamp.

    Raises :class:`SignatureError` when the header is missing or malformed, when its
    timestamp is more than ``tolerance_s`` seconds from ``now`` (replay protection), or when
    no ``v1`` signature matches. Receivers should also drop a repeated ``id``.
    """
    if not header:
        raise SignatureError(f"the {SIGNATURE_HEADER} header is missing")
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError(f"the {SIGNATURE_HEADER} header is malformed")
        if name == "t":
            if timestamp is not None or not value.isdigit() or len(value) > 12:
                raise SignatureError(f"the {SIGNATURE_HEADER} timestamp is malformed")
            timestamp = int(value)
        elif name == "v1":
            signatures.append(value.lower())
        # other schemes (v0, future versions) are ignored
    if timestamp is None:
        raise SignatureError(f"the {SIGNATURE_HEADER} header has no timestamp (t=)")
    if not signatures:
        raise SignatureError(f"the {SIGNATURE_HEADER} header has no v1 signature")
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_s:
        raise SignatureError(
            f"the signature's timestamp is {int(abs(current - timestamp))} s away from now "
            f"(tolerance {tolerance_s} s): a stale or replayed request"
        )
    expected = _digest(_key(secret), timestamp, body)
    if not any(same_token(expected, candidate) for candidate in signatures):
        raise SignatureError("no signature matches (wrong secret, or the body was changed)")
    return timestamp


def _retry_after(value: str | None, now: float) -> float | None:
    """Seconds from a ``Retry-After`` header (seconds or an HTTP date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        # str.isdigit() also takes '²' or '٣' (float() refuses the first) and any length
        return float(value) if value.isascii() and len(value) <= 12 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


class WebhookSender:
    """Posts signed webhooks to one URL. One :meth:`send` is one attempt.

    Redirects are not followed (the signature names no URL, but a webhook should not be
    forwarded somewhere the operator did not configure). The reply body is never read
    beyond its headers.
    """

    def __init__(
        self,
        url: str,
        secret: str | bytes,
        *,
        timeout_seconds: float = 10.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError("the webhook URL must start with http:// or https://")
        self.url = url
        self._secret = _key(secret)
        self.timeout = timeout_seconds
        self.transport = transport
        self.clock = clock

    def send(self, body: bytes, *, idempotency_key: str, event_type: str = "") -> int:
        """Deliver ``body`` once; returns the receiver's 2xx status, else raises
        :class:`DeliveryFailed`."""
        now = self.clock()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"shieldwall/{__version__}",
            IDEMPOTENCY_HEADER: idempotency_key,
            SIGNATURE_HEADER: sign(body, self._secret, timestamp=int(now)),
        }
        if event_type:
            headers["Shieldwall-Event"] = event_type
        try:
            with (
                httpx.Client(
                    transport=self.transport,
                    timeout=self.timeout,
                    follow_redirects=False,
                    trust_env=False,
                ) as client,
                client.stream("POST", self.url, content=body, headers=headers) as response,
            ):
                status = response.status_code
                retry_after = _retry_after(response.headers.get("retry-after"), now)
        except httpx.TimeoutException:
            raise DeliveryFailed(
                f"the webhook receiver did not answer within {self.timeout:g} s", retryable=True
            ) from None
        except httpx.ConnectError:
            raise DeliveryFailed(
                "could not connect to the webhook receiver (down, or the address is wrong)",
                retryable=True,
            ) from None
        except httpx.HTTPError as exc:
            raise DeliveryFailed(
                f"the webhook request failed ({type(exc).__name__})", retryable=True
            ) from None
        if 200 <= status < 300:
            return status
        if 300 <= status < 400:
            raise DeliveryFailed(
                f"the webhook receiver answered {status} (a redirect); redirects are not "
                "followed: configure the final URL",
                retryable=False,
                status_code=status,
            )
        retryable = status >= 500 or status in RETRYABLE_STATUSES
        raise DeliveryFailed(
            f"the webhook receiver answered {status}"
            + ("" if retryable else " (refused; not retried)"),
            retryable=retryable,
            retry_after=retry_after,
            status_code=status,
        )
