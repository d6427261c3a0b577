"""Envelope encryption: round trips, tampering anywhere, binding to a place, key rotation."""

from __future__ import annotations

import base64
import os

import pytest

from shieldwall.core.sealing import (
    HEADER_BYTES,
    KEY_BYTES,
    KEY_ID_BYTES,
    MAGIC,
    NONCE_BYTES,
    TAG_BYTES,
    Keyring,
    SealError,
    key_id,
    new_master_key_text,
    parse_master_key,
    rewrap,
    seal,
    sealed_key_id,
    unseal,
)

OLD = bytes(range(32))
NEW = bytes(range(100, 132))
OTHER = b"\x07" * 32

# Where each part of a sealed blob lies (see the format in core/sealing.py).
_AT_KID = len(MAGIC)
_AT_WRAP_NONCE = _AT_KID + KEY_ID_BYTES
_AT_WRAPPED = _AT_WRAP_NONCE + NONCE_BYTES
_AT_NONCE = _AT_WRAPPED + KEY_BYTES + TAG_BYTES
REGIONS = {
    "magic": (0, _AT_KID),
    "key_id": (_AT_KID, _AT_WRAP_NONCE),
    "wrap_nonce": (_AT_WRAP_NONCE, _AT_WRAPPED),
    "wrapped_key": (_AT_WRAPPED, _AT_WRAPPED + KEY_BYTES),
    "wrapped_key_tag": (_AT_WRAPPED + KEY_BYTES, _AT_NONCE),
    "nonce": (_AT_NONCE, HEADER_BYTES),
    "ciphertext": (HEADER_BYTES, -TAG_BYTES),
    "tag": (-TAG_BYTES, None),
}


def ring(current: bytes = OLD, *previous: bytes) -> Keyring:
    return Keyring.of(current, previous)


def flip(blob: bytes, index: int) -> bytes:
    data = bytearray(blob)
    data[index] ^= 0x01
    return bytes(data)


@pytest.mark.parametrize("plaintext", [b"", b"x", b"picture bytes " * 100, os.urandom(1 << 20)])
def test_round_trip(plaintext: bytes) -> None:
    blob = seal(plaintext, ring(), aad=b"media:1")
    assert unseal(blob, ring(), aad=b"media:1") == plaintext
    assert len(blob) == HEADER_BYTES + len(plaintext) + TAG_BYTES
    assert blob.startswith(MAGIC)
    assert sealed_key_id(blob) == key_id(OLD) == ring().current_id


def test_the_plaintext_does_not_appear_and_every_seal_differs() -> None:
    plaintext = b"a very recognisable run of bytes " * 20
    first, second = seal(plaintext, ring()), seal(plaintext, ring())
    assert first != second  # fresh data key and nonces each time
    for blob in (first, second):
        assert b"recognisable" not in blob
        assert plaintext[:16] not in blob


@pytest.mark.parametrize("region", sorted(REGIONS))
def test_tampering_with_any_byte_of_any_region_is_detected(region: str) -> None:
    blob = seal(b"sixteen bytes!!!" * 2, ring(), aad=b"id-7")
    start, end = REGIONS[region]
    indexes = range(len(blob))[slice(start, end)]
    assert len(indexes) > 0
    for index in indexes:
        with pytest.raises(SealError):
            unseal(flip(blob, index), ring(), aad=b"id-7")


def test_truncated_or_extended_blobs_are_refused() -> None:
    blob = seal(b"content", ring())
    for length in range(len(blob)):
        with pytest.raises(SealError):
            unseal(blob[:length], ring())
    with pytest.raises(SealError):
        unseal(blob + b"\x00", ring())
    with pytest.raises(SealError, match="not a sealed shieldwall object"):
        unseal(b"plain old file contents that were never sealed" * 3, ring())


def test_a_blob_is_bound_to_its_aad() -> None:
    blob = seal(b"content", ring(), aad=b"uuid-a")
    for wrong in (b"uuid-b", b"", b"uuid-a\x00", b"UUID-A"):
        with pytest.raises(SealError, match="tampered or moved"):
            unseal(blob, ring(), aad=wrong)
    unaad = seal(b"content", ring())
    with pytest.raises(SealError):
        unseal(unaad, ring(), aad=b"uuid-a")


def test_swapping_the_body_between_two_blobs_fails() -> None:
    first = seal(b"first content!!", ring(), aad=b"x")
    second = seal(b"second content!", ring(), aad=b"x")
    spliced = first[:HEADER_BYTES] + second[HEADER_BYTES:]
    with pytest.raises(SealError):
        unseal(spliced, ring(), aad=b"x")


def test_an_unknown_master_key_is_named_not_guessed() -> None:
    blob = seal(b"content", ring(OLD))
    with pytest.raises(SealError, match=f"sealed with master key {key_id(OLD).hex()}") as info:
        unseal(blob, ring(OTHER))
    assert "not configured" in str(info.value)
    assert OLD.hex() not in str(info.value)


def test_a_key_id_pointing_at_another_configured_key_fails() -> None:
    blob = seal(b"content", ring(OLD))
    relabelled = blob[:_AT_KID] + key_id(NEW) + blob[_AT_WRAP_NONCE:]
    with pytest.raises(SealError, match="does not authenticate"):
        unseal(relabelled, ring(NEW, OLD))


def test_rotation_previous_keys_still_open_and_rewrap_moves_to_the_current_key() -> None:
    plaintext = b"kept for review"
    old_blob = seal(plaintext, ring(OLD), aad=b"m1")
    rotated = ring(NEW, OLD)
    assert unseal(old_blob, rotated, aad=b"m1") == plaintext

    new_blob = rewrap(old_blob, rotated, aad=b"m1")
    assert sealed_key_id(new_blob) == key_id(NEW)
    # only the wrapped data key changed; the media ciphertext is untouched
    assert new_blob[_AT_NONCE:] == old_blob[_AT_NONCE:]
    assert new_blob[_AT_WRAP_NONCE:_AT_NONCE] != old_blob[_AT_WRAP_NONCE:_AT_NONCE]
    # the old key can now be dropped
    assert unseal(new_blob, ring(NEW), aad=b"m1") == plaintext
    with pytest.raises(SealError):
        unseal(new_blob, ring(OLD), aad=b"m1")


def test_rewrap_leaves_current_blobs_alone_and_checks_the_old_key() -> None:
    current = seal(b"content", ring(NEW), aad=b"m")
    assert rewrap(current, ring(NEW, OLD), aad=b"m") is current
    old_blob = seal(b"content", ring(OLD), aad=b"m")
    with pytest.raises(SealError, match="not configured"):
        rewrap(old_blob, ring(NEW), aad=b"m")
    with pytest.raises(SealError, match="tampered or moved"):
        rewrap(old_blob, ring(NEW, OLD), aad=b"other")


def test_keyrings_check_key_sizes_and_never_show_keys() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        Keyring.of(b"short")
    with pytest.raises(ValueError, match="32 bytes"):
        Keyring.of(OLD, [b"x" * 31])
    keyring = ring(NEW, OLD)
    for shown in (repr(keyring), str(keyring)):
        assert NEW.hex() not in shown
        assert repr(NEW) not in shown
        assert repr(OLD) not in shown
    assert keyring.find(key_id(OLD)) == OLD
    assert keyring.current_id == key_id(NEW)


# ---- parse_master_key -------------------------------------------------------------------------

KEY = bytes([0xFB, 0xFF, 0xBF]) * 10 + b"\xfe\xef"  # base64 of it uses '+' and '/'


@pytest.mark.parametrize(
    "text",
    [
        base64.urlsafe_b64encode(KEY).decode(),
        base64.urlsafe_b64encode(KEY).decode().rstrip("="),
        base64.b64encode(KEY).decode(),
        base64.b64encode(KEY).decode().rstrip("="),
        KEY.hex(),
        KEY.hex().upper(),
        f"  {KEY.hex()}\n",
        base64.b64encode(KEY).decode() + "\n",
    ],
)
def test_parse_master_key_accepts_base64_and_hex(text: str) -> None:
    assert "+" in base64.b64encode(KEY).decode()
    assert "/" in base64.b64encode(KEY).decode()
    assert parse_master_key(text) == KEY


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        base64.b64encode(KEY[:31]).decode(),  # 31 bytes
        base64.b64encode(KEY + b"\x00").decode(),  # 33 bytes
        KEY.hex()[:-1],  # 63 hex characters
        KEY.hex() + "0",  # 65
        base64.b64encode(KEY).decode() + "AAAA",  # data after the padding
        base64.b64encode(KEY).decode()[:20] + " " + base64.b64encode(KEY).decode()[20:],
        base64.b64encode(KEY).decode()[:42] + "!",  # stray character
        base64.b64encode(KEY).decode() + "==",  # too much padding
        "0x" + KEY.hex()[2:],
    ],
)
def test_parse_master_key_refuses_anything_else_without_echoing_it(text: str) -> None:
    with pytest.raises(ValueError, match="32 random bytes") as info:
        parse_master_key(text)
    if text.strip():
        assert text.strip() not in str(info.value)


def test_new_master_keys_are_random_and_parse() -> None:
    first, second = new_master_key_text(), new_master_key_text()
    assert first != second
    assert len(parse_master_key(first)) == KEY_BYTES
