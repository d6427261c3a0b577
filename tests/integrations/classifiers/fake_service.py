"""A fake classification service over real HTTP on loopback.

Each request takes the next scripted :class:`Reply` (the last one repeats); the service
records what it received so tests can check the wire format. A reply can ``hold`` until the
test releases it (a slow service) instead of sleeping for a guessed time.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.local_http import QuietServer


@dataclass
class Reply:
    status: int = 200
    json_body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    hold: bool = False  # wait for FakeService.release() before answering


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def json(self) -> Any:
        return json.loads(self.body)

    def multipart(self) -> dict[str, tuple[str | None, str, bytes]]:
        """field name -> (file name, content type, bytes)."""
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {self.content_type}\r\n\r\n".encode() + self.body
        )
        parts = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            parts[str(name)] = (part.get_filename(), part.get_content_type(), payload)
        return parts


class FakeService:
    def __init__(self) -> None:
        self.replies: list[Reply] = [Reply(json_body={"score": 0.5})]
        self.received: list[Received] = []
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.server = QuietServer(("127.0.0.1", 0), self._handler())
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1/classify"

    def script(self, *replies: Reply) -> None:
        with self._lock:
            self.replies = list(replies)

    def release(self) -> None:
        self._released.set()

    def _next(self, received: Received) -> Reply:
        with self._lock:
            self.received.append(received)
            return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                reply = service._next(Received(self.path, headers, body))
                if reply.hold:
                    service._released.wait(timeout=30)
                payload = (
                    reply.raw if reply.raw is not None else json.dumps(reply.json_body).encode()
                )
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up (a time-out test)

        return Handler

    def __enter__(self) -> FakeService:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)
