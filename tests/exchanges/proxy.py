"""A forward HTTP proxy on loopback, for tests: requests arrive in absolute form
(``GET http://host:port/path``), are sent on to that address, and the answer is relayed;
``CONNECT host:port`` opens a tunnel (how https sources are reached through a proxy).
Every request is recorded (method, absolute URL, ``Proxy-Authorization``); with
:attr:`ForwardProxy.require` it answers 407 to any other credentials. Like a real
proxy it resolves names itself: :attr:`ForwardProxy.hosts` maps names to addresses."""

from __future__ import annotations

import base64
import contextlib
import http.client
import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from tests.local_http import QuietServer, copy_until_closed

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}


@dataclass
class Proxied:
    method: str
    url: str
    proxy_authorization: str | None


class _Handler(BaseHTTPRequestHandler):
    server: ForwardProxy

    def log_message(self, *_: object) -> None:
        pass

    def _refused(self) -> bool:
        """Records the request; answers 407 (True) unless its credentials are required ones."""
        self.server.seen.append(
            Proxied(self.command, self.path, self.headers.get("Proxy-Authorization"))
        )
        if self.server.require is None or (
            self.headers.get("Proxy-Authorization") == self.server.require
        ):
            return False
        self.send_response(407)
        self.send_header("Proxy-Authenticate", 'Basic realm="egress"')
        self.send_header("Content-Length", "0")
        self.end_headers()
        return True

    def do_CONNECT(self) -> None:
        """A tunnel (``CONNECT host:port``): bytes relayed both ways, TLS end to end."""
        if self._refused():
            return
        host, _, port = self.path.rpartition(":")
        try:
            upstream = socket.create_connection(
                (self.server.hosts.get(host, host), int(port)), timeout=30
            )
        except (OSError, ValueError):
            self.send_error(502, "cannot reach the upstream")
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.close_connection = True
        with upstream:
            pump = threading.Thread(target=_pump, args=(upstream, self.connection), daemon=True)
            pump.start()
            _pump(self.connection, upstream)
            pump.join(timeout=30)

    def _relay(self) -> None:
        if self._refused():
            return
        target = urlsplit(self.path)
        if target.scheme != "http" or not target.hostname:
            self.send_error(400, "absolute http:// URLs only")
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        host = self.server.hosts.get(target.hostname, target.hostname)
        upstream = http.client.HTTPConnection(host, target.port or 80, timeout=30)
        try:
            path = target.path + (f"?{target.query}" if target.query else "")
            upstream.request(self.command, path or "/", body=body, headers=headers)
            reply = upstream.getresponse()
            data = reply.read()
        finally:
            upstream.close()
        self.send_response(reply.status)
        for name, value in reply.getheaders():
            if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = _relay


def _pump(src: socket.socket, dst: socket.socket) -> None:
    copy_until_closed(src, dst)
    with contextlib.suppress(OSError):
        dst.shutdown(socket.SHUT_WR)


class ForwardProxy(QuietServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.seen: list[Proxied] = []
        self.hosts: dict[str, str] = {}
        #: The ``Proxy-Authorization`` it insists on (407 otherwise); None: any or none.
        self.require: str | None = None
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def url_as(self, user: str, password: str) -> str:
        """The proxy's URL with a user name and password in it (as exchange_proxy_url)."""
        host, port = self.server_address[:2]
        return f"http://{user}:{password}@{host!s}:{port}"

    def require_login(self, user: str, password: str) -> None:
        """Answer 407 to any request without this user name and password."""
        self.require = self.basic(user, password)

    @staticmethod
    def basic(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def __enter__(self) -> ForwardProxy:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.shutdown()
        self.server_close()
