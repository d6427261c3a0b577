"""The outbox handler that delivers action webhooks (outbox kind ``webhook``).

Registered with :mod:`shieldwall.jobs.handlers`. The body was fixed when the action was
requested (it is stored in the outbox item), so every attempt sends the same bytes; the URL
and secret are read from the settings at send time, so fixing either lets waiting items go.
"""

from __future__ import annotations

import httpx

from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.integrations.webhooks import DeliveryFailed, WebhookSender, canonical_body
from shieldwall.jobs.models import OutboxItem
from shieldwall.jobs.outbox import Handler, PermanentFailure, RetryLater


def webhook_handler(
    db: Database, settings: Settings, *, transport: httpx.BaseTransport | None = None
) -> Handler:
    """A handler posting an item's webhook body, signed, to ``settings.webhook_url``."""
    del db  # the body travels in the item; nothing to read

    def handle(item: OutboxItem) -> None:
        url = settings.webhook_url.strip()
        secret = settings.webhook_secret.get_secret_value() if settings.webhook_secret else ""
        if not url:
            raise RetryLater("no webhook URL is configured (webhook_url); waiting for one")
        if not secret:
            raise RetryLater(
                "no webhook secret is configured (webhook_secret); webhooks are never sent unsigned"
            )
        body_doc = item.payload.get("body")
        if not isinstance(body_doc, dict) or "id" not in body_doc:
            raise PermanentFailure("the queued webhook has no body (corrupt outbox item)")
        try:
            sender = WebhookSender(
                url, secret, timeout_seconds=settings.webhook_timeout_seconds, transport=transport
            )
        except ValueError as exc:
            raise RetryLater(f"the webhook URL is not usable: {exc}") from None
        try:
            sender.send(
                canonical_body(body_doc),
                idempotency_key=str(body_doc["id"]),
                event_type=str(body_doc.get("type", "")),
            )
        except DeliveryFailed as exc:
            if exc.retryable:
                raise RetryLater(exc.message, retry_after=exc.retry_after) from None
            raise PermanentFailure(exc.message) from None

    return handle
