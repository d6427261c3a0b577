"""The webhook sender against a receiver with odd replies."""

from __future__ import annotations

import httpx
import pytest

from shieldwall.integrations.webhooks import DeliveryFailed, WebhookSender


def sender_answering(status: int, headers: dict[str, str]) -> WebhookSender:
    def reply(request: httpx.Request) -> httpx.Response:
        # raw bytes, as they come off the wire (httpx decodes them as UTF-8 or Latin-1)
        return httpx.Response(
            status, headers=[(k.encode(), v.encode()) for k, v in headers.items()]
        )

    return WebhookSender(
        "https://receiver.test/hook", "s3cret", transport=httpx.MockTransport(reply)
    )


@pytest.mark.parametrize("value", ["²", "³⁴", "٣", "9" * 5000, " 1e9 ", "-5", "soon"])
def test_a_delivered_webhook_with_an_odd_retry_after_is_delivered(value: str) -> None:
    sender = sender_answering(200, {"Retry-After": value})
    assert sender.send(b"{}", idempotency_key="k-1") == 200


@pytest.mark.parametrize("value", ["²", "9" * 5000])
def test_an_odd_retry_after_on_a_refusal_is_ignored_not_a_crash(value: str) -> None:
    sender = sender_answering(503, {"Retry-After": value})
    with pytest.raises(DeliveryFailed) as failed:
        sender.send(b"{}", idempotency_key="k-1")
    assert failed.value.retryable
    assert failed.value.retry_after is None


def test_a_sane_retry_after_is_kept() -> None:
    sender = sender_answering(429, {"Retry-After": "120"})
    with pytest.raises(DeliveryFailed) as failed:
        sender.send(b"{}", idempotency_key="k-1")
    assert failed.value.retry_after == 120.0


@pytest.mark.parametrize(("value", "seconds"), [("30", 30.0), ("²", None), ("9" * 5000, None)])
def test_a_classifier_services_retry_after_is_read_safely(
    value: str, seconds: float | None
) -> None:
    from shieldwall.integrations.classifiers.http import _retry_after

    response = httpx.Response(503, headers=[(b"Retry-After", value.encode())])
    assert _retry_after(response) == seconds
