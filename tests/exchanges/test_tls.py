"""Sources over https whose certificate an internal authority signed (a partner deployment
on an internal network, an egress proxy that inspects TLS): trusted only through
``exchange_ca_file``, directly and through the egress proxy's tunnel."""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from shieldwall.banks.models import Bank
from shieldwall.config import Settings
from shieldwall.db.engine import Database
from shieldwall.devtools.fake_http import Running
from shieldwall.devtools.fake_stopncii import FakeStopNcii, pdq_for, record
from shieldwall.exchanges import runner
from shieldwall.exchanges.schemas import RunOut
from tests.exchanges.conftest import STOPNCII_CREDENTIALS, MakeExchange, live_values
from tests.exchanges.dns import FlakyDns
from tests.exchanges.proxy import ForwardProxy
from tests.exchanges.tls import ca_and_cert

HOST = "stopncii.partner.test"
T0 = 1_700_000_000


@pytest.fixture
def https_stopncii(tmp_path: Path) -> Iterator[tuple[FakeStopNcii, int, Path]]:
    """The StopNCII fake over https, its certificate (for HOST) signed by a throwaway
    authority: (fake, port, the authority's PEM file)."""
    ca, cert, key = ca_and_cert(tmp_path, HOST)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    fake = FakeStopNcii()
    fake.set_records([record(pdq_for(i), ts=T0 + i) for i in range(4)])
    with Running(fake, tls=context) as server:
        assert server.url.startswith("https://")
        yield fake, int(server.url.rsplit(":", 1)[1]), ca


def run(db: Database, settings: Settings, name: str, **changes: object) -> RunOut:
    changed = settings.model_copy(update=changes)
    return runner.run_fetch(
        db, changed, name, runner.RunOptions(sleep=lambda _s: None, time_limit=60)
    )


def make(make_exchange: MakeExchange, port: int) -> str:
    return make_exchange(
        "partner",
        "stop_ncii",
        {"base_url": f"https://{HOST}:{port}/v1"},
        credentials=STOPNCII_CREDENTIALS,
    )


def test_a_source_signed_by_an_internal_authority_is_fetched_once_that_authority_is_trusted(
    https_stopncii: tuple[FakeStopNcii, int, Path],
    make_exchange: MakeExchange,
    db: Database,
    bank: Bank,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fake, port, ca = https_stopncii
    monkeypatch.setattr(socket, "getaddrinfo", FlakyDns(HOST, failures=0))
    name = make(make_exchange, port)

    refused = run(db, settings, name)
    assert refused.status == "failed"
    assert "TLS certificate was not accepted (unable to get local issuer certificate)" in (
        refused.error or ""
    )
    assert fake.requests == []  # no request went out over an untrusted connection

    trusted = run(db, settings, name, exchange_ca_file=ca)
    assert trusted.status == "succeeded", trusted.error
    assert trusted.added == 4
    assert len(live_values(db, bank.id)) == 4


def test_the_same_source_through_the_egress_proxy_tunnel(
    https_stopncii: tuple[FakeStopNcii, int, Path],
    make_exchange: MakeExchange,
    db: Database,
    bank: Bank,
    settings: Settings,
) -> None:
    # the machine resolves nothing itself: the proxy resolves HOST and opens the tunnel;
    # TLS runs end to end with the source, whose authority exchange_ca_file names
    fake, port, ca = https_stopncii
    name = make(make_exchange, port)
    with ForwardProxy() as proxy:
        proxy.hosts[HOST] = "127.0.0.1"
        result = run(
            db,
            settings,
            name,
            exchange_ca_file=ca,
            exchange_proxy_url=SecretStr(proxy.url),
            exchange_allow_private_addresses=False,
        )
    assert result.status == "succeeded", result.error
    assert result.added == 4
    assert len(fake.requests) == 1
    assert {(p.method, p.url) for p in proxy.seen} == {("CONNECT", f"{HOST}:{port}")}


def test_a_ca_file_that_went_missing_fails_the_run_in_plain_words(
    make_exchange: MakeExchange, db: Database, settings: Settings, tmp_path: Path
) -> None:
    ca, _, _ = ca_and_cert(tmp_path, HOST)
    checked = settings.model_copy(update={"exchange_ca_file": ca})
    ca.unlink()  # after start-up, which checked it
    name = make(make_exchange, 443)
    result = runner.run_fetch(
        db, checked, name, runner.RunOptions(sleep=lambda _s: None, time_limit=60)
    )
    assert result.status == "failed"
    assert "exchange_ca_file: the certificate authority file does not exist" in (result.error or "")


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (None, "does not exist"),
        ("folder", "is a folder"),
        (b"", "no PEM certificate"),
        (b"-----BEGIN CERTIFICATE-----\nc2VjcmV0LWlzaA==\n-----END CERTIFICATE-----\n", "no PEM"),
        (b"\x00\xff" * 100, "no PEM certificate"),
    ],
)
def test_a_bad_ca_file_is_refused_at_start_up_without_quoting_it(
    tmp_path: Path, content: bytes | str | None, problem: str
) -> None:
    path = tmp_path / "ca.pem"
    if content == "folder":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    with pytest.raises(ValidationError) as caught:
        Settings(exchange_ca_file=path)
    text = str(caught.value.errors(include_input=False))
    assert problem in text
    assert "c2VjcmV0" not in text


def test_a_good_ca_file_is_accepted(tmp_path: Path) -> None:
    ca, _, _ = ca_and_cert(tmp_path, HOST)
    assert Settings(exchange_ca_file=ca).exchange_ca_file == ca
    assert Settings(exchange_ca_file=None).exchange_ca_file is None


def test_an_empty_ca_file_variable_means_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHIELDWALL_EXCHANGE_CA_FILE", "")
    assert Settings().exchange_ca_file is None
