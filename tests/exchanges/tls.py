"""A throwaway certificate authority for TLS tests."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.local_http import QuietServer


def ca_and_cert(tmp: Path, host: str) -> tuple[Path, Path, Path]:
    """A throwaway CA, and a certificate it signed for ``host``: (ca, cert, key) files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def name(common: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("shieldwall test CA"))
        .issuer_name(name("shieldwall test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name(host))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (tmp / "ca.pem", tmp / "cert.pem", tmp / "key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@dataclass
class HttpsServer:
    port: int
    #: The authority that signed the server's certificate (PEM), trusted by no one else.
    ca: Path
    #: The server names clients asked for in their TLS handshakes (SNI), in order.
    names: list[str] = field(default_factory=list)


@contextmanager
def https_server(
    tmp: Path, host: str, handler: type[BaseHTTPRequestHandler]
) -> Iterator[HttpsServer]:
    """An https server on loopback, its certificate for ``host`` signed by a throwaway
    authority (:func:`ca_and_cert`), answering with ``handler``."""
    ca, cert, key = ca_and_cert(tmp, host)
    httpd = QuietServer(("127.0.0.1", 0), handler)
    server = HttpsServer(port=httpd.server_address[1], ca=ca)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def seen(_sock: object, name: str | None, _ctx: object) -> None:
        server.names.append(name or "")

    context.sni_callback = seen  # type: ignore[assignment]
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
