"""A small threaded HTTP server on loopback that hands each request to a Python object.

Faults can be queued per fake (``fake.faults``): the next requests are answered with a
status (e.g. 429 with ``Retry-After``, 503), a garbled body, or a body that never ends.
"""

from __future__ import annotations

import ssl
import threading
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    body: bytes | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    """One queued misbehaviour: ``status`` (with optional ``retry_after``), ``garbage`` (a
    200 whose body cannot be parsed), ``deep`` (a 200 whose body is JSON nested 100,000
    deep: well formed, but past any decoder's recursion limit) or ``endless`` (a 200 whose
    body never ends)."""

    kind: str
    status: int = 503
    retry_after: str | None = None
    #: Only requests whose path contains this are affected (None: any).
    path: str | None = None


def endless_body() -> Iterator[bytes]:
    yield b"["
    while True:
        yield b"0," * 4096
        time.sleep(0.001)


class FakeService(ABC):
    """Base for fakes: subclasses implement :meth:`handle`."""

    def __init__(self) -> None:
        self.faults: deque[Fault] = deque()
        self.requests: list[Request] = []
        self.lock = threading.Lock()

    @abstractmethod
    def handle(self, request: Request) -> Reply:
        """The fake's answer to one request (faults are applied before it is asked)."""

    def dispatch(self, request: Request) -> Reply:
        with self.lock:
            self.requests.append(request)
            fault = None
            if self.faults and (self.faults[0].path is None or self.faults[0].path in request.path):
                fault = self.faults.popleft()
        if fault is not None:
            if fault.kind == "status":
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return Reply(fault.status, b'{"error": "fault"}', headers)
            if fault.kind == "garbage":
                return Reply(200, b"\x00\xffthis is not a page{{{<<", {})
            if fault.kind == "deep":
                return Reply(200, b"[" * 100_000 + b"]" * 100_000, {})
            if fault.kind == "endless":
                return Reply(200, endless_body(), {})
        return self.handle(request)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=parts.path,
            query={k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        reply = self.server.fake.dispatch(request)
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if isinstance(reply.body, bytes):
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for chunk in reply.body:
                if chunk:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_DELETE = _serve


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeService

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # clients that hang up mid-body are expected here


class Running:
    """A fake served on ``127.0.0.1:<port>`` until :meth:`stop` (or the ``with`` ends);
    over https with ``tls``."""

    def __init__(
        self, fake: FakeService, port: int = 0, *, tls: ssl.SSLContext | None = None
    ) -> None:
        self.fake = fake
        self.server = _Server(("127.0.0.1", port), _Handler)
        self.server.fake = fake
        self.scheme = "http"
        if tls is not None:  # https: a server-side context holding the certificate
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
            self.scheme = "https"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> Running:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
