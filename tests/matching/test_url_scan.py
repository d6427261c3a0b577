"""Scanning a URL (``POST /v1/scan {"url"}`` and HMA's ``GET /h/hash?url=``) end to end.

The app's fetcher is replaced by one whose resolver decides what names resolve to and whose
transport routes the checked (public) address to a local HTTP server, so every fetch is real
HTTP and the server's log shows exactly what was requested. The last tests use the app's
own default fetcher against loopback, which must refuse before connecting.
"""

from __future__ import annotations

import contextlib
import ipaddress
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from shieldwall.core.hashing import HashOptions, hash_bytes
from shieldwall.integrations.url_fetch import UrlFetcher, UrlFetchFailed
from tests.api.problem_check import assert_problem
from tests.conftest import KeyFactory, auth
from tests.local_http import QuietServer, ToLocal
from tests.matching.conftest import image, needs_shared

pytestmark = needs_shared

ORIGINAL = "bridge-mods/aaa-orig.jpg"
UNRELATED = "reg-test-input/pen-and-coaster.png"
PUBLIC = "93.184.216.34"  # looks public; the transport routes it to the local server
MAX_BYTES = 1_000_000  # the reference images fit; /big does not


@dataclass
class Served:
    port: int
    paths: list[str] = field(default_factory=list)


def _handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            served.paths.append(self.path)
            if self.path == "/bridge.jpg":
                self._send(200, image(ORIGINAL), "image/jpeg")
            elif self.path == "/unrelated.png":
                self._send(200, image(UNRELATED), "image/png")
            elif self.path == "/bridge-as-text":
                self._send(200, image(ORIGINAL), "text/plain")
            elif self.path == "/big":
                self._send(200, b"\xff\xd8" + b"x" * (MAX_BYTES + 10), "image/jpeg")
            elif self.path == "/big-chunked":
                self.send_response(200)
                self.send_header("Content-Type", "image/jpeg")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                chunk = b"y" * 65536
                try:
                    for _ in range(MAX_BYTES // len(chunk) + 2):
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                except OSError:
                    pass  # the fetcher stopped reading at its limit
            elif self.path.startswith("/redirect-to/"):
                self.send_response(302)
                self.send_header("Location", "http://" + self.path.removeprefix("/redirect-to/"))
                self.send_header("Content-Length", "0")
                self.end_headers()
            else:
                self._send(404, b"no", "text/plain")

        def _send(self, status: int, body: bytes, ctype: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(OSError):  # the fetcher stopped reading at its limit
                self.wfile.write(body)

    return Handler


@pytest.fixture
def served() -> Iterator[Served]:
    state = Served(port=0)
    httpd = QuietServer(("127.0.0.1", 0), _handler(state))
    state.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


NAMES = {
    "media.example": [PUBLIC],
    "loopback.example": ["127.0.0.1"],
    "metadata.example": ["169.254.169.254"],
    "private.example": ["10.20.30.40"],
}


def resolver(host: str, _port: int) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host))]  # an address literal resolves to itself
    except ValueError:
        pass
    if host in NAMES:
        return NAMES[host]
    raise UrlFetchFailed(f"the host name {host!r} does not resolve")


@pytest.fixture
def transport(served: Served, app: FastAPI) -> ToLocal:
    seam = ToLocal(served.port)
    app.state.url_fetcher = UrlFetcher(
        max_bytes=MAX_BYTES, timeout_seconds=5.0, resolver=resolver, transport=seam
    )
    return seam


@pytest.fixture
def key(make_key: KeyFactory) -> str:
    return make_key()


@pytest.fixture
def known(ready_client: TestClient, key: str, synced: Callable[[], None]) -> int:
    """A bank holding the PDQ of the reference image; returns the entry id."""
    media = hash_bytes(image(ORIGINAL), declared_type="photo", options=HashOptions())
    assert media.primary_pdq is not None
    assert (
        ready_client.post("/v1/banks", json={"name": "KNOWN"}, headers=auth(key)).status_code == 201
    )
    added = ready_client.post(
        "/v1/banks/KNOWN/entries",
        json={"signal_type": "pdq", "value": media.primary_pdq.hex},
        headers=auth(key),
    )
    assert added.status_code in (200, 201), added.text
    synced()
    return int(added.json()["items"][0]["id"])


def scan_url(client: TestClient, key: str, url: str, **extra: Any) -> httpx.Response:
    response: httpx.Response = client.post(
        "/v1/scan", json={"url": url, **extra}, headers=auth(key)
    )
    return response


def comparable(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "scan_id"}


# ---- fetching and matching --------------------------------------------------------------------


def test_a_url_scan_answers_as_an_upload_does(
    ready_client: TestClient, key: str, known: int, transport: ToLocal, served: Served
) -> None:
    response = scan_url(ready_client, key, "http://media.example/bridge.jpg")
    assert response.status_code == 200, response.text
    by_url = response.json()
    assert by_url["verdict"] == "block"
    assert by_url["media_kind"] == "photo"
    assert [m["entry_id"] for m in by_url["matches"]] == [known]
    assert transport.seen == [f"http://{PUBLIC}/bridge.jpg"]  # the checked address
    assert served.paths == ["/bridge.jpg"]

    upload = ready_client.post(
        "/v1/scan",
        files={"file": ("bridge.jpg", image(ORIGINAL), "image/jpeg")},
        headers=auth(key),
    )
    assert upload.status_code == 200
    assert comparable(by_url) == comparable(upload.json())


def test_a_url_to_an_unknown_image_is_allowed(
    ready_client: TestClient, key: str, known: int, transport: ToLocal
) -> None:
    response = scan_url(ready_client, key, "http://media.example/unrelated.png")
    assert response.status_code == 200, response.text
    assert response.json()["verdict"] == "allow"
    assert response.json()["matches"] == []


def test_url_scans_are_recorded_as_url_scans(
    ready_client: TestClient, key: str, known: int, transport: ToLocal
) -> None:
    assert scan_url(ready_client, key, "http://media.example/bridge.jpg").status_code == 200
    events = ready_client.get("/v1/events?kind=scan.completed", headers=auth(key)).json()
    assert [e["payload"]["source"] for e in events["items"]] == ["url"]
    assert "media.example" not in str(events)  # ids and counts only


@pytest.mark.parametrize(
    "url",
    [
        "http://loopback.example/bridge.jpg",
        "http://metadata.example/latest/meta-data/",
        "http://private.example/bridge.jpg",
        "http://127.0.0.1/bridge.jpg",
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://10.0.0.1/bridge.jpg",
    ],
)
def test_internal_addresses_are_refused_before_fetching(
    ready_client: TestClient, key: str, transport: ToLocal, served: Served, url: str
) -> None:
    response = scan_url(ready_client, key, url)
    body = assert_problem(response, 422, "url-refused")
    assert "private, loopback, link-local or reserved" in body["detail"]
    assert transport.seen == []
    assert served.paths == []


def test_a_redirect_to_a_private_address_is_refused(
    ready_client: TestClient, key: str, transport: ToLocal, served: Served
) -> None:
    response = scan_url(
        ready_client, key, "http://media.example/redirect-to/private.example/bridge.jpg"
    )
    body = assert_problem(response, 422, "url-refused")
    assert "10.20.30.40" in body["detail"]
    assert served.paths == ["/redirect-to/private.example/bridge.jpg"]  # never the target


def test_a_safe_redirect_is_followed(
    ready_client: TestClient, key: str, known: int, transport: ToLocal, served: Served
) -> None:
    response = scan_url(
        ready_client, key, "http://media.example/redirect-to/media.example/bridge.jpg"
    )
    assert response.status_code == 200, response.text
    assert response.json()["verdict"] == "block"
    assert served.paths == ["/redirect-to/media.example/bridge.jpg", "/bridge.jpg"]


@pytest.mark.parametrize("path", ["/big", "/big-chunked"])
def test_an_oversized_file_is_413(
    ready_client: TestClient, key: str, transport: ToLocal, path: str
) -> None:
    response = scan_url(ready_client, key, f"http://media.example{path}")
    body = assert_problem(response, 413, "payload-too-large")
    assert f"{MAX_BYTES:,}" in body["detail"]


def test_a_remote_error_is_a_502_problem(
    ready_client: TestClient, key: str, transport: ToLocal
) -> None:
    response = scan_url(ready_client, key, "http://media.example/missing.jpg")
    body = assert_problem(response, 502, "url-fetch-failed")
    assert "404" in body["detail"]


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://media.example/a.jpg", "http://user:pw@media.example/x"]
)
def test_unacceptable_urls_are_refused(
    ready_client: TestClient, key: str, transport: ToLocal, url: str
) -> None:
    response = scan_url(ready_client, key, url)
    assert response.status_code == 422, response.text
    assert response.json()["type"] in ("/problems/url-refused", "/problems/invalid-input")
    assert transport.seen == []


# ---- HMA: GET /h/hash?url= ---------------------------------------------------------------------


def test_hma_hash_by_url_answers_as_an_upload_does(
    ready_client: TestClient, key: str, transport: ToLocal
) -> None:
    by_url = ready_client.get(
        "/h/hash", params={"url": "http://media.example/bridge.jpg"}, headers=auth(key)
    )
    assert by_url.status_code == 200, by_url.text
    upload = ready_client.post(
        "/h/hash", files={"photo": ("bridge.jpg", image(ORIGINAL))}, headers=auth(key)
    )
    assert by_url.json() == upload.json()
    assert list(by_url.json()) == ["pdq"]


def test_hma_hash_by_url_needs_a_media_content_type_or_a_hint(
    ready_client: TestClient, key: str, transport: ToLocal
) -> None:
    url = "http://media.example/bridge-as-text"
    refused = ready_client.get("/h/hash", params={"url": url}, headers=auth(key))
    body = assert_problem(refused, 422, "invalid-input")
    assert "content_type" in body["detail"]
    hinted = ready_client.get(
        "/h/hash", params={"url": url, "content_type": "photo"}, headers=auth(key)
    )
    assert hinted.status_code == 200, hinted.text
    assert set(hinted.json()) == {"pdq"}


@pytest.mark.parametrize(
    "url", ["http://loopback.example/bridge.jpg", "http://169.254.169.254/latest/meta-data/"]
)
def test_hma_hash_by_url_refuses_internal_addresses(
    ready_client: TestClient, key: str, transport: ToLocal, served: Served, url: str
) -> None:
    response = ready_client.get("/h/hash", params={"url": url}, headers=auth(key))
    assert_problem(response, 422, "url-refused")
    assert served.paths == []


def test_hma_hash_by_url_oversize_is_413(
    ready_client: TestClient, key: str, transport: ToLocal
) -> None:
    response = ready_client.get(
        "/h/hash", params={"url": "http://media.example/big"}, headers=auth(key)
    )
    assert_problem(response, 413, "payload-too-large")


# ---- the default fetcher ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("http://127.0.0.1:{port}/bridge.jpg", "port"),
        ("http://127.0.0.1/bridge.jpg", "loopback"),
        ("http://localhost/bridge.jpg", "loopback"),
        ("http://[::1]/bridge.jpg", "loopback"),
    ],
)
def test_the_default_fetcher_refuses_loopback_without_connecting(
    ready_client: TestClient,
    app: FastAPI,
    key: str,
    served: Served,
    template: str,
    reason: str,
) -> None:
    assert getattr(app.state, "url_fetcher", None) is None  # the production fetcher
    url = template.format(port=served.port)
    response = scan_url(ready_client, key, url)
    body = assert_problem(response, 422, "url-refused")
    assert reason in body["detail"]
    hma = ready_client.get("/h/hash", params={"url": url}, headers=auth(key))
    assert_problem(hma, 422, "url-refused")
    assert served.paths == []


@pytest.mark.parametrize(
    "url",
    [
        "http://.example.com/bridge.jpg",
        "http://a..b/bridge.jpg",
        "http://" + "a" * 71 + ".com/bridge.jpg",
        "http://[::1/bridge.jpg",
        "https://xn--/bridge.jpg",
        "http://93.184.216.34/\x00",  # a NUL (the scan's JSON model would quote it: %00)
    ],
)
def test_urls_no_resolver_or_client_can_read_are_refused_not_500(
    ready_client: TestClient, app: FastAPI, key: str, served: Served, url: str
) -> None:
    """The idna codec's UnicodeError (an empty or over-long label), urlsplit's "Invalid IPv6
    URL" and httpx's InvalidURL (a NUL) used to escape the fetcher as HTTP 500."""
    assert getattr(app.state, "url_fetcher", None) is None  # the production fetcher
    hma = ready_client.get("/h/hash", params={"url": url}, headers=auth(key))
    assert_problem(hma, 422, "url-refused")
    if "\x00" not in url:
        scanned = scan_url(ready_client, key, url)
        assert scanned.status_code == 422, scanned.text
    assert served.paths == []
