"""SSRF protection and limits of the URL fetcher, against a real local HTTP server.

Names resolve through the fetcher's resolver seam; a public-looking address is routed to the
local server by the transport seam, so every request is real HTTP on loopback.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest

from shieldwall.core.errors import PayloadTooLarge
from shieldwall.integrations.url_fetch import (
    UrlFetcher,
    UrlFetchFailed,
    UrlRefused,
    split_url,
    system_resolver,
)
from tests.local_http import QuietServer, ToLocal

PUBLIC = "93.184.216.34"  # a public address; the transport seam routes it to loopback
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 100


BAD_LOCATIONS = ["http://[::1/x", "http://.example.com/x", "https://xn--/x", "http://a..b/"]


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        path = self.path
        if path == "/image.png":
            self._send(200, PNG, "image/png")
        elif path == "/host":
            self._send(200, self.headers["Host"].encode(), "text/plain")
        elif path == "/big":
            self._send(200, b"x" * 5000, "application/octet-stream")
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(10):
                chunk = b"y" * 1000
                self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/slow":
            time.sleep(1.5)
            self._send(200, b"late", "text/plain")
        elif path.startswith("/redirect-to/"):
            self.send_response(302)
            self.send_header("Location", "http://" + path.removeprefix("/redirect-to/"))
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path.startswith("/bad-location/"):  # a Location no URL parser reads as a URL
            self.send_response(302)
            self.send_header("Location", BAD_LOCATIONS[int(path.rsplit("/", 1)[1])])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/loop":
            self.send_response(302)
            self.send_header("Location", "/loop")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self._send(404, b"no", "text/plain")

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def server() -> Iterator[int]:
    httpd = QuietServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_address[1]
    httpd.shutdown()


NAMES = {
    "media.example": [PUBLIC],
    "loopback.example": ["127.0.0.1"],
    "private.example": ["10.0.0.5"],
    "mixed.example": [PUBLIC, "192.168.1.20"],
    "metadata.example": ["169.254.169.254"],
    "v6local.example": ["::1"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "cgnat.example": ["100.64.1.1"],
    "zero.example": ["0.0.0.0"],  # noqa: S104 - an address under test, not a bind
    "xn--mdia-bpa.example": [PUBLIC],  # média.example
}


def resolver(host: str, _port: int) -> list[str]:
    if host in NAMES:
        return NAMES[host]
    raise UrlFetchFailed(f"the host name {host!r} does not resolve")


@pytest.fixture
def transport(server: int) -> ToLocal:
    return ToLocal(server)


def fetcher(transport: ToLocal, **kw: object) -> UrlFetcher:
    options: dict[str, object] = {"max_bytes": 2000, "timeout_seconds": 1.0}
    options.update(kw)
    return UrlFetcher(resolver=resolver, transport=transport, **options)  # type: ignore[arg-type]


def test_fetches_a_public_url_connecting_to_the_checked_address(transport: ToLocal) -> None:
    got = fetcher(transport).fetch("http://media.example/image.png")
    assert got.content == PNG
    assert got.content_type == "image/png"
    assert transport.seen == [f"http://{PUBLIC}/image.png"]


def test_keeps_the_original_host_header(transport: ToLocal) -> None:
    assert fetcher(transport).fetch("http://media.example/host").content == b"media.example"


@pytest.mark.parametrize(
    "url",
    [
        "http://loopback.example/image.png",
        "http://private.example/image.png",
        "http://mixed.example/image.png",
        "http://metadata.example/latest/meta-data/",
        "http://v6local.example/image.png",
        "http://mapped.example/image.png",
        "http://cgnat.example/image.png",
        "http://zero.example/image.png",
    ],
)
def test_refuses_internal_addresses_before_connecting(transport: ToLocal, url: str) -> None:
    with pytest.raises(UrlRefused, match="private, loopback, link-local or reserved"):
        fetcher(transport).fetch(url)
    assert transport.seen == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "only http and https"),
        ("ftp://media.example/x", "only http and https"),
        ("gopher://media.example/x", "only http and https"),
        ("http://user:pw@media.example/x", "user name or password"),
        ("http://media.example:22/x", "port 22 is not fetched"),
        ("http:///nohost", "no host"),
        ("http://media.example:99999/x", "port"),
        ("http://media.example/" + "a" * 5000, "longer than 4096"),
    ],
)
def test_refuses_unacceptable_urls(transport: ToLocal, url: str, reason: str) -> None:
    with pytest.raises(UrlRefused, match=reason):
        fetcher(transport).fetch(url)
    assert transport.seen == []


def test_each_redirect_hop_is_checked(transport: ToLocal) -> None:
    with pytest.raises(UrlRefused, match=r"10\.0\.0\.5"):
        fetcher(transport).fetch("http://media.example/redirect-to/private.example/image.png")
    assert len(transport.seen) == 1  # the redirect itself, never the internal target


def test_a_safe_redirect_is_followed(transport: ToLocal) -> None:
    got = fetcher(transport).fetch("http://media.example/redirect-to/media.example/image.png")
    assert got.content == PNG


def test_redirect_loops_stop(transport: ToLocal) -> None:
    with pytest.raises(UrlFetchFailed, match="more than 2 redirects"):
        fetcher(transport, max_redirects=2).fetch("http://media.example/loop")


@pytest.mark.parametrize("path", ["/big", "/chunked"])
def test_bodies_over_the_limit_are_cut_off(transport: ToLocal, path: str) -> None:
    with pytest.raises(PayloadTooLarge, match="2,000"):
        fetcher(transport).fetch(f"http://media.example{path}")


def test_slow_servers_time_out(transport: ToLocal) -> None:
    with pytest.raises(UrlFetchFailed, match=r"longer than 0\.5 s"):
        fetcher(transport, timeout_seconds=0.5).fetch("http://media.example/slow")


def test_http_errors_and_unknown_names_are_clear(transport: ToLocal) -> None:
    with pytest.raises(UrlFetchFailed, match="HTTP 404"):
        fetcher(transport).fetch("http://media.example/missing")
    with pytest.raises(UrlFetchFailed, match="does not resolve"):
        fetcher(transport).fetch("http://nowhere.example/x")


def test_private_addresses_can_be_allowed_for_closed_test_networks(transport: ToLocal) -> None:
    got = fetcher(transport, allow_private=True).fetch("http://loopback.example/image.png")
    assert got.content == PNG


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://.example.com/x", "1-63 characters"),
        ("http://a..b/x", "1-63 characters"),
        ("http://" + "a" * 64 + ".example/x", "1-63 characters"),
        ("http://" + ("a" * 60 + ".") * 5 + "example/x", "at most 253"),
        ("http://\ud800.example/x", "not a valid name"),
        ("http://[::1/x", "cannot be read .Invalid IPv6 URL"),
        ("http://[not-an-address]/x", "cannot be read"),
        ("https://xn--/x", "not a valid international name"),
        ("https://xn--zz.example/x", "not a valid international name"),
        ("http://media.example/\x00", "cannot be read .*non-printable"),
        ("http://media.example/a\nb", "cannot be read .*non-printable"),
    ],
)
def test_urls_no_resolver_or_client_can_read_are_refused(
    transport: ToLocal, url: str, reason: str
) -> None:
    """Each used to escape as UnicodeError (idna codec), ValueError (urlsplit) or
    httpx.InvalidURL: HTTP 500 for /h/hash and /v1/scan."""
    with pytest.raises(UrlRefused, match=reason):
        fetcher(transport).fetch(url)
    assert transport.seen == []


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://Example.COM./x", "example.com."),  # the root's dot
        ("http://" + "a" * 63 + ".example/x", "a" * 63 + ".example"),
        ("http://" + ("a" * 62 + ".") * 3 + "a" * 60 + "/x", ("a" * 62 + ".") * 3 + "a" * 60),
        ("http://b\u00fccher.example/x", "xn--bcher-kva.example"),  # sent as its A-label
        ("http://[2001:db8::1]:8080/x", "2001:db8::1"),
    ],
)
def test_names_at_the_limits_and_international_names_are_read(url: str, host: str) -> None:
    assert split_url(url)[:2] == ("http", host)


def test_an_international_name_is_sent_as_its_a_label(transport: ToLocal) -> None:
    """The Host header is ASCII: httpx raised UnicodeEncodeError for the U-label (HTTP 500)."""
    got = fetcher(transport).fetch("http://m\u00e9dia.example/host")
    assert got.content == b"xn--mdia-bpa.example"


@pytest.mark.parametrize("index", range(len(BAD_LOCATIONS)))
def test_a_redirect_to_an_unreadable_address_is_refused(transport: ToLocal, index: int) -> None:
    """httpx reads the Location of every redirect (to build the next request, followed or
    not): an IDNAError escaped the fetcher, and an unclosed [ was a vague 502."""
    with pytest.raises(UrlRefused, match=r"cannot be read|not a valid"):
        fetcher(transport).fetch(f"http://media.example/bad-location/{index}")
    assert len(transport.seen) == 1  # the redirect itself


@pytest.mark.parametrize("host", [".example.com", "a..b", "a" * 64 + ".example"])
def test_the_system_resolver_refuses_names_the_idna_codec_cannot_encode(host: str) -> None:
    with pytest.raises(UrlRefused, match="not a valid name"):
        system_resolver(host, 80)
