"""Exchange traffic through an HTTP proxy (``exchange_proxy_url``), over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from shieldwall.banks.models import Bank
from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_stopncii import FakeStopNcii, pdq_for, record
from shieldwall.exchanges import runner
from shieldwall.exchanges.schemas import RunOut
from shieldwall.integrations.exchanges.base import (
    Deadline,
    SourceBusy,
    SourceClient,
    SourceError,
    SourceRefused,
)
from tests.exchanges.conftest import STOPNCII_CREDENTIALS, MakeExchange, live_values
from tests.exchanges.proxy import ForwardProxy, Proxied
from tests.exchanges.tls import https_server

T0 = 1_700_000_000


def fetch_through(
    db: Database, settings: Settings, name: str, proxy: str, *, allow_private: bool
) -> RunOut:
    proxied = settings.model_copy(
        update={
            "exchange_proxy_url": SecretStr(proxy),
            "exchange_allow_private_addresses": allow_private,
        }
    )
    options = runner.RunOptions(sleep=lambda _s: None, time_limit=60)
    return runner.run_fetch(db, proxied, name, options)


def make(make_exchange: MakeExchange, base_url: str) -> str:
    return make_exchange(
        "stopncii",
        "stop_ncii",
        {"base_url": base_url, "page_size": 5},
        credentials=STOPNCII_CREDENTIALS,
    )


def test_every_request_goes_through_the_proxy_with_its_credentials(
    stopncii: tuple[FakeStopNcii, str],
    make_exchange: MakeExchange,
    db: Database,
    bank: Bank,
    settings: Settings,
) -> None:
    fake, url = stopncii
    fake.set_records([record(pdq_for(i), ts=T0 + i) for i in range(12)])
    name = make(make_exchange, url)
    with ForwardProxy() as proxy:
        run = fetch_through(
            db, settings, name, proxy.url_as("fetcher", "s3cret"), allow_private=True
        )
    assert run.status == "succeeded", run.error
    assert run.added == 12
    assert len(live_values(db, bank.id)) == 12
    assert len(proxy.seen) == len(fake.requests) == 3
    assert all(p.url.startswith(f"{url}/") for p in proxy.seen)
    expected = ForwardProxy.basic("fetcher", "s3cret")
    assert {p.proxy_authorization for p in proxy.seen} == {expected}
    assert "s3cret" not in (run.error or "")


def test_a_proxy_that_wants_other_credentials_is_named_as_the_one_refusing(
    stopncii: tuple[FakeStopNcii, str],
    make_exchange: MakeExchange,
    db: Database,
    bank: Bank,
    settings: Settings,
) -> None:
    fake, url = stopncii
    fake.set_records([record(pdq_for(1), ts=T0)])
    name = make(make_exchange, url)
    with ForwardProxy() as proxy:
        proxy.require_login("fetcher", "right")
        run = fetch_through(
            db, settings, name, proxy.url_as("fetcher", "wrong"), allow_private=True
        )
    assert run.status == "failed"
    assert "the exchange proxy answered 407 Proxy Authentication Required" in (run.error or "")
    assert "exchange_proxy_url" in (run.error or "")
    assert "credentials" not in (run.error or "")  # not the exchange's own
    assert "wrong" not in (run.error or "")
    assert fake.requests == []
    assert not live_values(db, bank.id)


def test_names_are_left_to_the_proxy(
    stopncii: tuple[FakeStopNcii, str],
    make_exchange: MakeExchange,
    db: Database,
    bank: Bank,
    settings: Settings,
) -> None:
    """Behind a proxy the machine may not resolve outside names at all: the proxy does. A
    name that does not resolve here (.invalid never does) is fetched through it."""
    fake, url = stopncii
    fake.set_records([record(pdq_for(i), ts=T0 + i) for i in range(3)])
    port = url.rsplit(":", 1)[1]
    name = make(make_exchange, f"http://stopncii.invalid:{port}")
    with ForwardProxy() as proxy:
        proxy.hosts["stopncii.invalid"] = "127.0.0.1"
        run = fetch_through(db, settings, name, proxy.url, allow_private=False)
    assert run.status == "succeeded", run.error
    assert run.added == 3
    assert proxy.seen[0].url.startswith(f"http://stopncii.invalid:{port}/")


@pytest.mark.parametrize(
    "host", ["127.0.0.1", "2130706433", "127.1", "localhost", "169.254.169.254", "[::1]"]
)
def test_a_source_written_as_an_internal_address_is_refused_before_the_proxy(
    make_exchange: MakeExchange, db: Database, settings: Settings, host: str
) -> None:
    name = make(make_exchange, f"http://{host}:8080")
    with ForwardProxy() as proxy:
        run = fetch_through(db, settings, name, proxy.url, allow_private=False)
    assert run.status == "failed"
    assert "the source address is refused" in (run.error or ""), run.error
    assert proxy.seen == []


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("socks5://user:hunter2@proxy:1080", "must be http://host:port"),
        ("http://user:hunter2@proxy:3128/path", "no path"),
        ("http://", "must be http://host:port"),
    ],
)
def test_a_bad_proxy_address_is_refused_without_quoting_it(value: str, problem: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(exchange_proxy_url=value)
    errors = caught.value.errors(include_input=False)
    assert problem in str(errors)
    assert "hunter2" not in str(errors)


def test_without_a_proxy_setting_no_proxy_is_used(
    stopncii: tuple[FakeStopNcii, str],
    make_exchange: MakeExchange,
    db: Database,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The environment's HTTP(S)_PROXY is not ours to follow: only the setting is. (httpx
    ignores those variables whenever a transport is given, as SourceClient always gives
    one; this guards against a fallback to them being added, not against httpx.)"""
    fake, url = stopncii
    fake.set_records([record(pdq_for(0), ts=T0)])
    name = make(make_exchange, url)
    with ForwardProxy() as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.setenv("ALL_PROXY", proxy.url)
        options = runner.RunOptions(sleep=lambda _s: None, time_limit=60)
        run = runner.run_fetch(db, settings, name, options)
    assert run.status == "succeeded", run.error
    assert proxy.seen == []
    assert len(fake.requests) == 1


# ---- https sources: a CONNECT tunnel, TLS end to end -----------------------------------------


class _Quiet(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def tls_source(tmp_path: Path) -> Iterator[tuple[int, list[str]]]:
    """An https server on loopback with a certificate for feed.partner.test from an
    authority no one trusts: (port, the server names its TLS handshakes asked for)."""
    with https_server(tmp_path, "feed.partner.test", _Quiet) as server:
        yield server.port, server.names


def through_tunnel(port: int, password: str) -> tuple[SourceError, list[Proxied]]:
    """GET https://feed.partner.test:<port>/x through a proxy that wants fetcher:right,
    as fetcher:<password>: the error it ends in, and what the proxy saw."""
    with ForwardProxy() as proxy:
        proxy.require_login("fetcher", "right")
        proxy.hosts["feed.partner.test"] = "127.0.0.1"
        client = SourceClient(
            Deadline(10), proxy=proxy.url_as("fetcher", password), sleep=lambda _: None
        )
        with client as http, pytest.raises(SourceError) as raised:
            http.request("GET", f"https://feed.partner.test:{port}/x", what="the page")
    return raised.value, proxy.seen


def test_an_https_source_is_reached_through_a_tunnel_with_tls_end_to_end(
    tls_source: tuple[int, list[str]],
) -> None:
    # The tunnel opens (CONNECT with our proxy credentials) and TLS runs through it to the
    # source itself: the source's certificate, from an authority this machine does not
    # trust, is what refuses the request; the proxy saw no request of its own.
    port, names = tls_source
    error, seen = through_tunnel(port, "right")
    assert isinstance(error, SourceBusy)
    assert "TLS certificate was not accepted" in str(error)
    assert "unable to get local issuer certificate" in str(error)
    assert [(p.method, p.url) for p in seen] == [("CONNECT", f"feed.partner.test:{port}")]
    assert names == ["feed.partner.test"]  # the handshake reached the source, by its name


def test_a_tunnel_refused_for_credentials_names_the_proxy_setting(
    tls_source: tuple[int, list[str]],
) -> None:
    port, names = tls_source
    error, seen = through_tunnel(port, "wrong")
    assert isinstance(error, SourceRefused)
    assert "the exchange proxy answered 407 Proxy Authentication Required" in str(error)
    assert "exchange_proxy_url" in str(error)
    assert "wrong" not in str(error)
    assert len(seen) == 1  # refused at once, not retried
    assert names == []
