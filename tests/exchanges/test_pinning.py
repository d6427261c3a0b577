"""Exchange sources are reached at the address that was checked: every connection resolves
the name and checks the answer itself, so a DNS answer that changes after a check (DNS
rebinding) cannot point a fetch into our own network."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from shieldwall.integrations.exchanges.base import Deadline, SourceClient, SourceRefused
from shieldwall.integrations.exchanges.url import UrlListAdapter
from tests.local_http import QuietServer

LIST = b"pdq " + b"ab" * 32 + b"\nmd5 " + b"cd" * 16 + b"\n"


class _Handler(BaseHTTPRequestHandler):
    hosts: list[str] = []

    def do_GET(self) -> None:
        _Handler.hosts.append(self.headers.get("Host", ""))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(LIST)))
        self.end_headers()
        self.wfile.write(LIST)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[int]:
    _Handler.hosts = []
    httpd = QuietServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


class Rebinding:
    """Answers a public address for the first ``honest`` lookups, then loopback."""

    def __init__(self, honest: int) -> None:
        self.honest = honest
        self.calls: list[str] = []

    def __call__(self, host: str, port: int) -> list[str]:
        self.calls.append(host)
        return ["93.184.216.34"] if len(self.calls) <= self.honest else ["127.0.0.1"]


def test_a_name_that_rebinds_to_loopback_after_the_check_is_refused(server: int) -> None:
    resolver = Rebinding(honest=1)  # the up-front check sees a public address
    with SourceClient(Deadline(10), resolver=resolver, max_attempts=1) as http:
        adapter = UrlListAdapter(http, f"http://feed.example.org:{server}/list.txt")
        with pytest.raises(SourceRefused, match="loopback"):
            list(adapter.pages(None))
    assert len(resolver.calls) >= 2  # checked, then resolved again when connecting
    assert _Handler.hosts == []  # nothing reached the internal server


def test_requests_refused_the_same_way(server: int) -> None:
    resolver = Rebinding(honest=1)
    with (
        SourceClient(Deadline(10), resolver=resolver, max_attempts=3) as http,
        pytest.raises(SourceRefused, match="refused"),
    ):
        http.request("GET", f"http://feed.example.org:{server}/x", what="the page")
    assert _Handler.hosts == []
    assert http.retries == 0  # a refused address is not retried


def test_the_connection_goes_to_the_resolved_address_with_the_original_host(
    server: int,
) -> None:
    # the name does not exist in DNS: reaching the server proves the resolver's answer
    # (the checked address) is what the connection used
    seen: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        seen.append(host)
        return ["127.0.0.1"]

    with SourceClient(Deadline(10), resolver=resolver, allow_private=True) as http:
        adapter = UrlListAdapter(http, f"http://hashes.partner.invalid:{server}/list.txt")
        pages = list(adapter.pages(None))
    values = sorted(v for p in pages for r in p.records for _, v in r.signals)
    assert values == ["ab" * 32, "cd" * 16]
    assert _Handler.hosts == [f"hashes.partner.invalid:{server}"]
    assert "hashes.partner.invalid" in seen


def test_private_answers_are_refused_at_connect_even_when_the_first_address_is_public(
    server: int,
) -> None:
    def mixed(host: str, port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.7"]

    with (
        SourceClient(Deadline(10), resolver=mixed, max_attempts=1) as http,
        pytest.raises(SourceRefused, match=r"10\.0\.0\.7"),
    ):
        http.request("GET", f"http://feed.example.org:{server}/x", what="the page")
    assert _Handler.hosts == []
