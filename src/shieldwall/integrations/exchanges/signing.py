"""Signatures on the partner feed (``GET /v1/exchange/feeds/{bank}``): Ed25519 over the body.

The publishing deployment derives its signing key from its master key (HKDF-SHA256, so
every server process that shares the master key signs with the same key, and nothing new
has to be stored); partners are given the public key, written ``ed25519:<base64url>``.
Each page carries the header::

    Shieldwall-Feed-Signature: key=<16 hex: SHA-256 of the public key>, ed25519=<base64url>

over ``b"shieldwall-feed-v1\\n" + body``. A fetcher verifies the exact bytes before parsing
them, then checks that the page is for the bank and cursor it asked for (so a page cannot
be replayed in answer to another request).
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HEADER = "Shieldwall-Feed-Signature"
PREFIX = "ed25519:"
_CONTEXT = b"shieldwall-feed-v1\n"
_INFO = b"shieldwall feed signing key v1"


class SignatureInvalid(Exception):
    """The page's signature is missing, malformed or not by the expected key."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def signing_key(master_key: bytes) -> Ed25519PrivateKey:
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(master_key)
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_text(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return PREFIX + _b64(raw)


def parse_public_key(text: str) -> Ed25519PublicKey:
    value = text.strip()
    if not value.startswith(PREFIX):
        raise ValueError("a feed key is written ed25519:<base64url>")
    try:
        raw = _unb64(value[len(PREFIX) :])
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise ValueError("the feed key is not a valid Ed25519 public key") from None


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(key: Ed25519PrivateKey, body: bytes) -> str:
    """The header value for ``body``."""
    return f"key={key_id(key.public_key())}, ed25519={_b64(key.sign(_CONTEXT + body))}"


def verify(public: Ed25519PublicKey, header: str | None, body: bytes) -> None:
    """Raise :class:`SignatureInvalid` unless ``header`` is a valid signature of ``body``."""
    if not header:
        raise SignatureInvalid("the page carries no signature")
    parts: dict[str, str] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        parts[name.strip()] = value.strip()
    if parts.get("key") != key_id(public):
        raise SignatureInvalid("the page is signed by another key than the one configured")
    try:
        signature = _unb64(parts.get("ed25519", ""))
        public.verify(signature, _CONTEXT + body)
    except (InvalidSignature, ValueError):
        raise SignatureInvalid("the page's signature does not verify") from None
