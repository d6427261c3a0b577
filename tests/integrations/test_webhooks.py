"""Webhook signatures (sign, verify, replay protection) and the sender over real HTTP."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
from collections.abc import Iterator

import pytest

from shieldwall.integrations.webhooks import (
    DeliveryFailed,
    SignatureError,
    WebhookSender,
    canonical_body,
    sign,
    verify,
)
from tests.jobs.receiver import Receiver, receiver_fixture

SECRET = "whsec-test"
BODY = canonical_body({"id": "case:1:content.remove", "type": "content.remove", "data": {}})
NOW = 1_800_000_000


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    yield from receiver_fixture()


def test_signature_is_hmac_sha256_over_timestamp_and_body() -> None:
    header = sign(BODY, SECRET, timestamp=NOW)
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"
    assert verify(header, BODY, SECRET, now=NOW) == NOW


def test_canonical_body_is_compact_sorted_utf8() -> None:
    assert canonical_body({"b": 1, "a": "é"}) == '{"a":"é","b":1}'.encode()


@pytest.mark.parametrize(
    ("header", "body", "secret", "message"),
    [
        (None, BODY, SECRET, "missing"),
        ("", BODY, SECRET, "missing"),
        ("garbage", BODY, SECRET, "malformed"),
        (f"v1={'0' * 64}", BODY, SECRET, "no timestamp"),
        (f"t={NOW}", BODY, SECRET, "no v1 signature"),
        (f"t=soon,v1={'0' * 64}", BODY, SECRET, "timestamp is malformed"),
        (sign(BODY, SECRET, timestamp=NOW), BODY + b" ", SECRET, "no signature matches"),
        # not ASCII: a wrong signature, not a TypeError from the comparison
        (f"t={NOW},v1={'é' * 64}", BODY, SECRET, "no signature matches"),
        (f"t={NOW},v1=\udcff", BODY, SECRET, "no signature matches"),
        (sign(BODY, SECRET, timestamp=NOW), BODY, "another secret", "no signature matches"),
        (
            sign(BODY, SECRET, timestamp=NOW).replace(f"t={NOW}", f"t={NOW + 1}"),
            BODY,
            SECRET,
            "no signature matches",
        ),
    ],
)
def test_verify_refuses_bad_headers(
    header: str | None, body: bytes, secret: str, message: str
) -> None:
    with pytest.raises(SignatureError, match=message):
        verify(header, body, secret, now=NOW)


def test_verify_refuses_a_replay_outside_the_tolerance() -> None:
    header = sign(BODY, SECRET, timestamp=NOW)
    assert verify(header, BODY, SECRET, now=NOW + 300) == NOW
    with pytest.raises(SignatureError, match="stale or replayed"):
        verify(header, BODY, SECRET, now=NOW + 301)
    with pytest.raises(SignatureError, match="stale or replayed"):
        verify(header, BODY, SECRET, now=NOW - 301)  # from the future
    assert verify(header, BODY, SECRET, now=NOW + 3600, tolerance_s=3600) == NOW


def test_verify_accepts_any_of_several_signatures_during_a_rotation() -> None:
    old = sign(BODY, "old-secret", timestamp=NOW).split(",")[1]
    header = sign(BODY, SECRET, timestamp=NOW) + "," + old + ",v0=ignored"
    assert verify(header, BODY, "old-secret", now=NOW) == NOW
    assert verify(header, BODY, SECRET, now=NOW) == NOW


def test_empty_secrets_are_refused() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        sign(BODY, "")
    with pytest.raises(ValueError, match="http"):
        WebhookSender("ftp://example.org/x", SECRET)


def test_sender_posts_signed_json_with_the_idempotency_key(receiver: Receiver) -> None:
    sender = WebhookSender(receiver.url, receiver.secret, timeout_seconds=5)
    assert sender.send(BODY, idempotency_key="case:1:content.remove", event_type="x.y") == 200
    (delivery,) = receiver.wait_for(1)
    assert delivery.body == BODY
    assert delivery.key == "case:1:content.remove"
    assert delivery.headers["shieldwall-event"] == "x.y"
    assert delivery.headers["user-agent"].startswith("shieldwall/")
    verify(delivery.headers["shieldwall-signature"], delivery.body, receiver.secret)
    assert json.loads(delivery.body)["id"] == "case:1:content.remove"


@pytest.mark.parametrize(
    ("answer", "retryable", "retry_after"),
    [
        (500, True, None),
        ((503, {"Retry-After": "42"}), True, 42.0),
        ((429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}), True, 0.0),
        (401, True, None),
        (400, False, None),
        (410, False, None),
        ((302, {"Location": "http://127.0.0.1:1/elsewhere"}), False, None),
    ],
)
def test_sender_sorts_answers_into_retryable_and_refused(
    receiver: Receiver,
    answer: int | tuple[int, dict[str, str]],
    retryable: bool,
    retry_after: float | None,
) -> None:
    receiver.statuses.append(answer)
    sender = WebhookSender(receiver.url, receiver.secret, timeout_seconds=5)
    with pytest.raises(DeliveryFailed) as caught:
        sender.send(BODY, idempotency_key="k")
    status = answer[0] if isinstance(answer, tuple) else answer
    assert caught.value.status_code == status
    assert caught.value.retryable is retryable
    assert caught.value.retry_after == retry_after
    assert f"answered {status}" in caught.value.message
    assert len(receiver.deliveries) == 1  # a redirect is not followed


def test_sender_times_out_on_a_silent_receiver(receiver: Receiver) -> None:
    receiver.hold = True
    sender = WebhookSender(receiver.url, receiver.secret, timeout_seconds=0.3)
    with pytest.raises(DeliveryFailed, match=r"did not answer within 0\.3 s") as caught:
        sender.send(BODY, idempotency_key="k")
    assert caught.value.retryable


def test_sender_reports_a_closed_port_in_plain_words() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sender = WebhookSender(f"http://127.0.0.1:{port}/hook", SECRET, timeout_seconds=2)
    with pytest.raises(DeliveryFailed, match="could not connect") as caught:
        sender.send(BODY, idempotency_key="k")
    assert caught.value.retryable
    assert SECRET not in str(caught.value)
