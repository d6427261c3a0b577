"""A real HTTP server on loopback and a transport that sends every request to it.

Used where code fetches URLs we give it: names resolve (through the fetcher's resolver seam)
to public-looking addresses, and :class:`ToLocal` routes those connections to the local
server, so every request is real HTTP without leaving the machine.
"""

from __future__ import annotations

import socket
from http.server import ThreadingHTTPServer

import httpx


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that stops reading (a size limit at work) is expected here


class ToLocal(httpx.HTTPTransport):
    """Sends every request to the local server, as if the checked address were it."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port
        self.seen: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(str(request.url))
        request.url = request.url.copy_with(host="127.0.0.1", port=self.port)
        return super().handle_request(request)


def copy_until_closed(src: socket.socket, dst: socket.socket) -> None:
    """Copies what ``src`` sends to ``dst`` until ``src`` ends or either socket fails (one
    direction of a relay; the caller closes or half-closes afterwards)."""
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
