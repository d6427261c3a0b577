"""Signed report packages for hotlines without an API.

The Canadian Centre for Child Protection (Cybertip.ca), the UK's IWF, Australia's eSafety
Commissioner and INHOPE member hotlines take reports through web forms or e-mail. For them
shieldwall writes a **package**: one JSON document (``format``
``shieldwall.hotline-report/1``) holding the report's data — incident, the user reported,
each file's name and original hashes (never the file bytes, which stay in the platform's
evidence store until a hotline asks for them through its own channel) — signed with
Ed25519 so the receiver can check it came from this deployment unchanged.

Signature: ``signature.value`` is the base64 Ed25519 signature over the canonical JSON
(sorted keys, no spaces, UTF-8) of the document without its ``signature`` member;
``signature.public_key`` is the raw public key (base64). :func:`verify_package` checks it.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = [
    "BUILTIN_HOTLINES",
    "FORMAT",
    "Hotline",
    "PackageInvalid",
    "build_package",
    "canonical",
    "load_signing_key",
    "verify_package",
]

FORMAT = "shieldwall.hotline-report/1"


@dataclass(frozen=True)
class Hotline:
    name: str
    title: str
    country: str
    contact: str


#: Hotlines shipped as destinations; `reporting_hotlines` adds more.
BUILTIN_HOTLINES: dict[str, Hotline] = {
    "cybertip_ca": Hotline(
        "cybertip_ca",
        "Cybertip.ca (Canadian Centre for Child Protection)",
        "CA",
        "https://www.cybertip.ca",
    ),
    "iwf": Hotline("iwf", "Internet Watch Foundation", "GB", "https://report.iwf.org.uk"),
    "esafety": Hotline(
        "esafety", "eSafety Commissioner", "AU", "https://www.esafety.gov.au/report"
    ),
    "inhope": Hotline("inhope", "INHOPE member hotline", "", "https://www.inhope.org"),
}


class PackageInvalid(ValueError):
    """The package is malformed or its signature does not verify."""


def canonical(document: dict[str, Any]) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The deployment's signing key, generated (mode 0600) the first time."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise PackageInvalid(f"{path} does not hold an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
    try:
        os.link(tmp, path)  # another process may have won: then use theirs
    except FileExistsError:
        tmp.unlink()
        return load_signing_key(path)
    tmp.unlink()
    return key


def _public_b64(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def build_package(
    hotline: Hotline,
    *,
    report_id: int,
    report: dict[str, Any],
    key: Ed25519PrivateKey,
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """A signed package for ``hotline``. ``report`` is the report's data as JSON."""
    document: dict[str, Any] = {
        "format": FORMAT,
        "destination": {
            "name": hotline.name,
            "title": hotline.title,
            "country": hotline.country,
            "contact": hotline.contact,
        },
        "report_id": report_id,
        "created_at": (created_at or datetime.now(UTC)).isoformat(),
        "report": report,
        "note": "File bytes are not included; the reporter preserves them as evidence.",
    }
    signature = key.sign(canonical(document))
    document["signature"] = {
        "algorithm": "Ed25519",
        "public_key": _public_b64(key),
        "value": base64.b64encode(signature).decode(),
    }
    return document


def verify_package(document: dict[str, Any], *, public_key: str | None = None) -> None:
    """Raise :class:`PackageInvalid` unless the signature verifies (against ``public_key``
    when given — the one the receiver trusts — else the one in the package)."""
    body = dict(document)
    signature = body.pop("signature", None)
    if not isinstance(signature, dict) or body.get("format") != FORMAT:
        raise PackageInvalid("not a signed shieldwall hotline package")
    try:
        raw_key = base64.b64decode(public_key or signature["public_key"], validate=True)
        value = base64.b64decode(signature["value"], validate=True)
        Ed25519PublicKey.from_public_bytes(raw_key).verify(value, canonical(body))
    except (KeyError, ValueError, InvalidSignature):
        raise PackageInvalid("the package's signature does not verify") from None
