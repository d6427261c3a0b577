"""Exchange sources are reached at the address that was checked: every connection resolves
the name and checks the answer itself, so a DNS answer that changes after a check (DNS
rebinding) cannot point a fetch into our own network."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from shieldwall.integrations.exchanges.base import (
    Deadline,
    SourceBusy,
    SourceClient,
    SourceRefused,
)
from shieldwall.integrations.exchanges.url import UrlListAdapter
from shieldwall.integrations.url_fetch import PinnedTransport, Resolver
from tests.exchanges.dns import FlakyDns
from tests.exchanges.tls import ca_and_cert, https_server
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


def test_every_address_is_checked_at_connect_not_only_the_first(server: int) -> None:
    # the up-front check sees one public address; at connect time the name answers a
    # public address first and a private one second: the connection refuses the answer
    # (it could otherwise fall through to the private address)
    calls: list[str] = []

    def rebinding_to_mixed(host: str, port: int) -> list[str]:
        calls.append(host)
        return ["93.184.216.34"] if len(calls) == 1 else ["93.184.216.34", "10.0.0.7"]

    with (
        SourceClient(Deadline(10), resolver=rebinding_to_mixed, max_attempts=1) as http,
        pytest.raises(SourceRefused, match=r"10\.0\.0\.7"),
    ):
        http.request("GET", f"http://feed.example.org:{server}/x", what="the page")
    assert len(calls) == 2  # once up front, once by the connection
    assert _Handler.hosts == []


# ---- a name that does not resolve for a while ------------------------------------------------


def test_a_name_that_does_not_resolve_for_a_while_is_retried_not_refused(
    server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    dns = FlakyDns("hashes.partner.test", failures=2)
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    with SourceClient(Deadline(10), allow_private=True, sleep=lambda _: None) as http:
        adapter = UrlListAdapter(http, f"http://hashes.partner.test:{server}/list.txt")
        pages = list(adapter.pages(None))
    values = sorted(v for p in pages for r in p.records for _, v in r.signals)
    assert values == ["ab" * 32, "cd" * 16]
    assert http.retries == 1  # the up-front check and the first connection failed
    assert dns.lookups == 3


def test_a_name_that_never_resolves_is_busy_in_plain_words(
    server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    dns = FlakyDns("hashes.partner.test", failures=10**6)
    monkeypatch.setattr(socket, "getaddrinfo", dns)
    with (
        SourceClient(
            Deadline(10), allow_private=True, max_attempts=3, sleep=lambda _: None
        ) as http,
        pytest.raises(SourceBusy, match="does not resolve") as raised,
    ):
        http.request("GET", f"http://hashes.partner.test:{server}/x", what="the page")
    assert "3 attempt(s)" in str(raised.value)
    assert "the next run tries again" in str(raised.value)
    assert _Handler.hosts == []


# ---- TLS: pinned to the checked address, verified against the host name ---------------------


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """An HTTPS server on loopback whose certificate names feed.partner.test."""
    _Handler.hosts = []
    with https_server(tmp_path, "feed.partner.test", _Handler) as server:
        yield server.port, server.ca


def _client(ca: Path, resolver: Resolver, max_attempts: int = 1) -> SourceClient:
    trusting = ssl.create_default_context(cafile=str(ca))
    transport = PinnedTransport(allow_private=True, resolver=resolver, ssl_context=trusting)
    return SourceClient(
        Deadline(10),
        allow_private=True,
        transport=transport,
        resolver=resolver,
        max_attempts=max_attempts,
        sleep=lambda _: None,
    )


def test_https_reaches_the_checked_address_and_verifies_the_host_name(
    tls_server: tuple[int, Path],
) -> None:
    port, ca = tls_server
    with _client(ca, lambda host, port: ["127.0.0.1"]) as http:
        reply = http.request("GET", f"https://feed.partner.test:{port}/list.txt", what="the list")
    assert reply.status == 200
    assert reply.body == LIST
    assert _Handler.hosts == [f"feed.partner.test:{port}"]


def test_https_to_a_name_the_certificate_does_not_carry_fails(
    tls_server: tuple[int, Path],
) -> None:
    # the same server and address, asked for by another name: the certificate (for
    # feed.partner.test) must not be accepted for it
    port, ca = tls_server
    with (
        _client(ca, lambda host, port: ["127.0.0.1"], max_attempts=6) as http,
        pytest.raises(SourceBusy) as raised,
    ):
        http.request("GET", f"https://other.partner.test:{port}/list.txt", what="the list")
    assert _Handler.hosts == []
    # said in plain words, and not retried within the run: it does not mend itself
    assert "TLS certificate was not accepted (Hostname mismatch" in str(raised.value)
    assert "other.partner.test" in str(raised.value)
    assert http.retries == 0


def test_https_with_a_certificate_a_trusted_authority_did_not_sign_says_so(
    tls_server: tuple[int, Path], tmp_path: Path
) -> None:
    port, _ = tls_server
    # a CA of the same name but another key: the server's certificate is not its signature
    (tmp_path / "other").mkdir()
    other_ca, _, _ = ca_and_cert(tmp_path / "other", "feed.partner.test")
    with (
        _client(other_ca, lambda host, port: ["127.0.0.1"], max_attempts=6) as http,
        pytest.raises(SourceBusy, match="TLS certificate was not accepted") as raised,
    ):
        http.request("GET", f"https://feed.partner.test:{port}/list.txt", what="the list")
    assert "(certificate signature failure)" in str(raised.value)
    assert http.retries == 0
