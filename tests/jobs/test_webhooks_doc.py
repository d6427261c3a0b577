"""The receiver in docs/webhooks.md runs, and does what the page says, against real
deliveries from the outbox worker."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import HTTPServer
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.integrations.webhooks import WebhookSender, canonical_body, sign
from shieldwall.jobs import handlers
from shieldwall.jobs.models import OutboxStatus
from tests.jobs.helpers import item_of, request

pytestmark = pytest.mark.db
DOC = Path(__file__).resolve().parents[2] / "docs" / "webhooks.md"
SECRET = "doc-receiver-secret"


def doc_receiver_code() -> str:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    (code,) = [b for b in blocks if "def signature_ok" in b]
    return code


@pytest.fixture
def doc() -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "webhook_receiver_example"}
    exec(compile(doc_receiver_code(), str(DOC), "exec"), namespace)  # noqa: S102
    return namespace


@pytest.fixture
def served(doc: dict[str, Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    acted: list[dict[str, Any]] = []

    class RecordingActions(doc["Actions"]):  # type: ignore[misc,name-defined]
        def act(self, event: dict[str, Any]) -> None:
            acted.append(event)

    server = HTTPServer(("127.0.0.1", 0), doc["make_handler"](RecordingActions(), [SECRET]))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks", acted
    finally:
        server.shutdown()
        server.server_close()


def test_the_documented_receiver_acts_once_on_real_deliveries(
    db: Database, settings: Settings, served: tuple[str, list[dict[str, Any]]]
) -> None:
    url, acted = served
    settings = settings.model_copy(update={"webhook_url": url, "webhook_secret": SecretStr(SECRET)})
    action = request(db, settings, key="case:42:content.remove", case_id=42)
    assert handlers.build_worker(db, settings).run_once()["sent"] == 1
    assert item_of(db, action).status == OutboxStatus.SENT
    assert [e["id"] for e in acted] == ["case:42:content.remove"]
    assert acted[0]["data"]["subject_ref"] == "post-1"

    # The same action delivered again (after a crash, or a replay within the tolerance):
    # answered 200, not acted on again.
    body = canonical_body(item_of(db, action).payload["body"])
    sender = WebhookSender(url, SECRET, timeout_seconds=5)
    assert sender.send(body, idempotency_key=action.key) == 200
    assert len(acted) == 1


def test_the_documented_receiver_refuses_forgeries_and_stale_requests(
    served: tuple[str, list[dict[str, Any]]],
) -> None:
    url, acted = served
    body = canonical_body({"id": "x", "type": "content.block", "data": {}})
    wrong_secret = WebhookSender(url, "not-the-secret", timeout_seconds=5)
    with pytest.raises(Exception, match="answered 401"):
        wrong_secret.send(body, idempotency_key="x")
    stale = WebhookSender(url, SECRET, timeout_seconds=5, clock=lambda: 1_000_000_000.0)
    with pytest.raises(Exception, match="answered 401"):
        stale.send(body, idempotency_key="x")
    assert acted == []


@pytest.mark.parametrize(
    ("header_for", "ok"),
    [
        (lambda body, now: sign(body, SECRET, timestamp=now), True),
        (lambda body, now: sign(body, SECRET, timestamp=now - 299), True),
        (lambda body, now: sign(body, SECRET, timestamp=now - 301), False),
        (
            lambda body, now: (
                sign(body, "old", timestamp=now)
                + ","
                + sign(body, SECRET, timestamp=now).split(",")[1]
            ),
            True,
        ),
        (lambda body, now: sign(body + b"x", SECRET, timestamp=now), False),
        (lambda body, now: f"t={now}", False),
        (lambda body, now: "", False),
    ],
)
def test_the_documented_check_agrees_with_shieldwalls_signature(
    doc: dict[str, Any], header_for: Any, ok: bool
) -> None:
    body = b'{"id":"k"}'
    now = 1_800_000_000
    assert doc["signature_ok"](header_for(body, now), body, [SECRET], now=now) is ok
