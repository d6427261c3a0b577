"""Envelope encryption for things kept at rest: media for review, evidence, credentials.

Each sealed object gets its own random 256-bit data key. The plaintext is encrypted with
AES-256-GCM under that data key; the data key is itself encrypted ("wrapped") with AES-256-GCM
under a master key. Only the wrapped key is stored beside the ciphertext, so rotating the
master key means re-wrapping 60 bytes per object (:func:`rewrap`), never re-encrypting media.

Sealed format (all integers big-endian)::

    b"SWS1"                 magic and format version
    key_id      8 bytes     first 8 bytes of SHA-256(master key): which master key wrapped it
    wrap_nonce  12 bytes
    wrapped     48 bytes    data key (32) + GCM tag (16)
    nonce       12 bytes
    ciphertext  n + 16      plaintext + GCM tag

``aad`` (additional authenticated data, e.g. an object id) binds a ciphertext to its place:
moving a sealed blob to another record makes :func:`unseal` fail. Tampering with any byte
fails with :class:`SealError`; nothing partial is ever returned.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"SWS1"
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
KEY_ID_BYTES = 8
HEADER_BYTES = len(MAGIC) + KEY_ID_BYTES + NONCE_BYTES + (KEY_BYTES + TAG_BYTES) + NONCE_BYTES
_WRAP_AAD = b"shieldwall data key"


class SealError(Exception):
    """A sealed blob is malformed, was tampered with, or needs a master key we do not hold."""


def key_id(master_key: bytes) -> bytes:
    """The 8-byte fingerprint naming a master key inside sealed blobs (not secret)."""
    return hashlib.sha256(master_key).digest()[:KEY_ID_BYTES]


#: 32 bytes as hex, or as base64 (standard or urlsafe alphabet, padding optional).
_HEX_KEY = re.compile(r"[0-9a-fA-F]{64}")
_BASE64_KEY = re.compile(r"[A-Za-z0-9+/_-]{43}=?")


def parse_master_key(text: str) -> bytes:
    """A master key written as base64 (urlsafe or standard) or 64 hex characters.

    Anything else is refused, including base64 with stray characters or data after the
    padding (a lenient decoder would silently drop those and use a different key).
    """
    value = text.strip()
    if _HEX_KEY.fullmatch(value):
        return bytes.fromhex(value)
    raw = b""
    if _BASE64_KEY.fullmatch(value):
        urlsafe = value.rstrip("=").replace("+", "-").replace("/", "_")
        raw = base64.urlsafe_b64decode(urlsafe + "=")
    if len(raw) != KEY_BYTES:
        raise ValueError(
            "a master key must be 32 random bytes written as base64 or 64 hex characters "
            "(generate one with: python -c 'import secrets,base64;"
            "print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())')"
        )
    return raw


def new_master_key_text() -> str:
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode()


@dataclass(frozen=True)
class Keyring:
    """The current master key (used to seal) and older ones (still accepted to unseal)."""

    # repr=False: a keyring printed in a log line or a traceback must not show the keys
    current: bytes = field(repr=False)
    previous: tuple[bytes, ...] = field(default_factory=tuple, repr=False)

    def __post_init__(self) -> None:
        for key in (self.current, *self.previous):
            if len(key) != KEY_BYTES:
                raise ValueError("master keys are 32 bytes")

    @classmethod
    def of(cls, current: bytes, previous: Iterable[bytes] = ()) -> Keyring:
        return cls(current, tuple(previous))

    @property
    def current_id(self) -> bytes:
        return key_id(self.current)

    def find(self, wanted: bytes) -> bytes:
        for key in (self.current, *self.previous):
            if key_id(key) == wanted:
                return key
        raise SealError(
            f"sealed with master key {wanted.hex()}, which is not configured "
            f"(current key is {self.current_id.hex()})"
        )


def seal(plaintext: bytes, keyring: Keyring, *, aad: bytes = b"") -> bytes:
    """Encrypt ``plaintext`` under a fresh data key wrapped by the current master key."""
    data_key = AESGCM.generate_key(bit_length=256)
    wrap_nonce = os.urandom(NONCE_BYTES)
    wrapped = AESGCM(keyring.current).encrypt(wrap_nonce, data_key, _WRAP_AAD + aad)
    nonce = os.urandom(NONCE_BYTES)
    body = AESGCM(data_key).encrypt(nonce, plaintext, aad)
    return MAGIC + keyring.current_id + wrap_nonce + wrapped + nonce + body


def _split(blob: bytes) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    if len(blob) < HEADER_BYTES + TAG_BYTES or not blob.startswith(MAGIC):
        raise SealError("not a sealed shieldwall object (bad header or truncated)")
    at = len(MAGIC)
    kid = blob[at : at + KEY_ID_BYTES]
    at += KEY_ID_BYTES
    wrap_nonce = blob[at : at + NONCE_BYTES]
    at += NONCE_BYTES
    wrapped = blob[at : at + KEY_BYTES + TAG_BYTES]
    at += KEY_BYTES + TAG_BYTES
    nonce = blob[at : at + NONCE_BYTES]
    at += NONCE_BYTES
    return kid, wrap_nonce, wrapped, nonce, blob[at:]


def _data_key(kid: bytes, wrap_nonce: bytes, wrapped: bytes, keyring: Keyring, aad: bytes) -> bytes:
    try:
        return AESGCM(keyring.find(kid)).decrypt(wrap_nonce, wrapped, _WRAP_AAD + aad)
    except InvalidTag:
        raise SealError("the wrapped data key does not authenticate (tampered or moved)") from None


def unseal(blob: bytes, keyring: Keyring, *, aad: bytes = b"") -> bytes:
    """Decrypt a blob made by :func:`seal`; raises :class:`SealError` on any mismatch."""
    kid, wrap_nonce, wrapped, nonce, body = _split(blob)
    data_key = _data_key(kid, wrap_nonce, wrapped, keyring, aad)
    try:
        return AESGCM(data_key).decrypt(nonce, body, aad)
    except InvalidTag:
        raise SealError("the sealed content does not authenticate (tampered or moved)") from None


def sealed_key_id(blob: bytes) -> bytes:
    """Which master key sealed ``blob`` (without decrypting it)."""
    return _split(blob)[0]


def rewrap(blob: bytes, keyring: Keyring, *, aad: bytes = b"") -> bytes:
    """The same content with its data key re-wrapped under the current master key.

    The ciphertext is untouched; a blob already under the current key is returned as is.
    """
    kid, wrap_nonce, wrapped, nonce, body = _split(blob)
    if kid == keyring.current_id:
        return blob
    data_key = _data_key(kid, wrap_nonce, wrapped, keyring, aad)
    new_nonce = os.urandom(NONCE_BYTES)
    new_wrapped = AESGCM(keyring.current).encrypt(new_nonce, data_key, _WRAP_AAD + aad)
    return MAGIC + keyring.current_id + new_nonce + new_wrapped + nonce + body
