"""A webhook receiver over real HTTP on loopback, for outbox, action and browser tests.

It records every request (headers and raw body), answers with the statuses queued in
``statuses`` (then ``default_status``), can hold its answer until a test releases it, and
can dedupe by idempotency key as the docs tell receivers to.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from shieldwall.integrations.webhooks import verify
from tests.local_http import QuietServer


@dataclass(frozen=True)
class Delivery:
    headers: dict[str, str]
    body: bytes
    received_at: float

    @property
    def key(self) -> str:
        return self.headers.get("idempotency-key", "")

    @property
    def document(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    url: str
    secret: str
    server: QuietServer
    deliveries: list[Delivery] = field(default_factory=list)
    statuses: deque[int | tuple[int, dict[str, str]]] = field(default_factory=deque)
    default_status: int = 200
    #: When set, each request waits (up to 60 s) for ``release`` before answering.
    hold: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    #: Set as soon as a request has been recorded (before any hold).
    arrived: threading.Event = field(default_factory=threading.Event)
    condition: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Delivery]:
        """Block until ``count`` deliveries arrived; the deliveries so far."""
        deadline = time.monotonic() + timeout
        with self.condition:
            while len(self.deliveries) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"expected {count} webhook deliveries, got {len(self.deliveries)}"
                    )
                self.condition.wait(left)
            return list(self.deliveries)

    def acted_on(self) -> list[str]:
        """Ids a receiver deduping by ``id`` acts on: each once, in arrival order."""
        seen: list[str] = []
        for d in self.deliveries:
            verify(d.headers.get("shieldwall-signature"), d.body, self.secret)
            if d.document["id"] not in seen:
                seen.append(d.document["id"])
        return seen


def start_receiver(secret: str = "test-webhook-secret") -> Receiver:  # noqa: S107
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length)
            delivery = Delivery({k.lower(): v for k, v in self.headers.items()}, body, time.time())
            with receiver.condition:
                receiver.deliveries.append(delivery)
                receiver.condition.notify_all()
                answer = receiver.statuses.popleft() if receiver.statuses else None
            receiver.arrived.set()
            if receiver.hold:
                receiver.release.wait(60)
            status, headers = (
                answer if isinstance(answer, tuple) else (answer or receiver.default_status, {})
            )
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass  # the sender is gone (killed or timed out)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = QuietServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    receiver = Receiver(
        url=f"http://127.0.0.1:{port}/hooks/shieldwall", secret=secret, server=server
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


def stop_receiver(receiver: Receiver) -> None:
    receiver.release.set()
    receiver.server.shutdown()
    receiver.server.server_close()


def receiver_fixture() -> Iterator[Receiver]:
    receiver = start_receiver()
    try:
        yield receiver
    finally:
        stop_receiver(receiver)
