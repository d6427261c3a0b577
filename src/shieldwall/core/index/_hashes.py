"""Turning PDQ hashes and caller ids into the arrays the index works on.

A PDQ hash is 256 bits, given as 64 hexadecimal characters or 32 raw bytes. Inside the
index a hash is four ``uint64`` words: the 32 bytes read as little-endian words, on every
platform, so an index file means the same thing wherever it is loaded.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeAlias, cast

import numpy as np
from numpy.typing import NDArray

from shieldwall.core.errors import InvalidInput

#: One PDQ hash: 64 hex characters, or 32 raw bytes (also as a ``uint8`` array).
PdqHashLike: TypeAlias = str | bytes | bytearray | memoryview | NDArray[np.uint8]
#: Many PDQ hashes: a sequence of the above, or a ``(n, 32)`` ``uint8`` array of raw bytes.
PdqHashesLike: TypeAlias = Sequence[PdqHashLike] | NDArray[np.uint8]
#: Caller ids: a sequence of ints or an integer array, each fitting in a signed 64-bit int.
IdsLike: TypeAlias = Sequence[int] | NDArray[np.integer[Any]]

Words: TypeAlias = NDArray[np.uint64]

HASH_BYTES = 32
HASH_HEX = 64
_LE_WORDS = np.dtype("<u8")


def _from_raw(raw: bytes | bytearray | memoryview, count: int) -> Words:
    words = np.frombuffer(raw, dtype=_LE_WORDS).reshape(count, 4)
    return words.astype(np.uint64, copy=True)


def _one_bytes(value: object, where: str) -> bytes:
    if isinstance(value, str):
        if len(value) != HASH_HEX:
            raise InvalidInput(
                f"{where}: a PDQ hash is {HASH_HEX} hex characters, got {len(value)}",
                length=len(value),
            )
        try:
            raw = bytes.fromhex(value)
        except ValueError:
            raw = b""
        if len(raw) != HASH_BYTES:
            raise InvalidInput(f"{where}: a PDQ hash may hold only hex digits 0-9, a-f")
        return raw
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        if len(raw) != HASH_BYTES:
            raise InvalidInput(
                f"{where}: a raw PDQ hash is {HASH_BYTES} bytes, got {len(raw)} "
                f"(pass hex as str, not bytes)",
                length=len(raw),
            )
        return raw
    raise InvalidInput(f"{where}: a PDQ hash is a hex str or 32 bytes, not {type(value).__name__}")


def pdq_word(value: PdqHashLike) -> Words:
    """One hash as a ``(4,)`` word array; :class:`InvalidInput` if it is malformed."""
    if isinstance(value, np.ndarray):
        row: Words = pdq_words(value.reshape(1, -1))[0]
        return row
    single: Words = _from_raw(_one_bytes(value, "hash"), 1)[0]
    return single


def pdq_words(values: PdqHashesLike | Iterable[PdqHashLike]) -> Words:
    """Many hashes as a C-contiguous ``(n, 4)`` word array; :class:`InvalidInput` on any bad one.

    Nothing is returned unless every hash is well formed.
    """
    if isinstance(values, np.ndarray):
        if values.dtype != np.uint8 or values.ndim != 2 or values.shape[1] != HASH_BYTES:
            raise InvalidInput(
                f"a hash array must be uint8 with shape (n, {HASH_BYTES}), "
                f"got {values.dtype} {values.shape}"
            )
        words = np.ascontiguousarray(values).view(_LE_WORDS).reshape(values.shape[0], 4)
        return words.astype(np.uint64, copy=True)
    if isinstance(values, str | bytes | bytearray | memoryview):
        raise InvalidInput("expected a sequence of hashes, got a single value")
    items = list(values)
    if not items:
        return np.empty((0, 4), dtype=np.uint64)
    # Fast path: all hex strings of the right length (fromhex would skip whitespace, so the
    # total length check below also catches a space hidden inside a 64-character string).
    if all(type(v) is str for v in items) and set(map(len, items)) == {HASH_HEX}:
        try:
            raw = bytes.fromhex("".join(cast("list[str]", items)))
        except ValueError:
            raw = b""
        if len(raw) == HASH_BYTES * len(items):
            return _from_raw(raw, len(items))
    parts = [_one_bytes(v, f"hash #{i}") for i, v in enumerate(items)]
    return _from_raw(b"".join(parts), len(parts))


def pdq_hex(words: Words) -> list[str]:
    """The 64-character lowercase hex form of each ``(4,)`` row of ``words``."""
    raw = np.ascontiguousarray(words, dtype=_LE_WORDS).tobytes()
    return [raw[i : i + HASH_BYTES].hex() for i in range(0, len(raw), HASH_BYTES)]


def parse_ids(ids: IdsLike | Iterable[int], *, expected: int | None = None) -> NDArray[np.int64]:
    """Caller ids as an ``int64`` array; :class:`InvalidInput` for non-integers or overflow."""
    if isinstance(ids, np.ndarray):
        arr = ids
    else:
        items = list(ids)
        if any(isinstance(v, bool) or not isinstance(v, int | np.integer) for v in items):
            raise InvalidInput("ids must be integers")
        try:
            arr = np.array(items, dtype=np.int64) if items else np.empty(0, np.int64)
        except OverflowError as exc:
            raise InvalidInput("ids must fit in a signed 64-bit integer") from exc
    if arr.ndim != 1:
        raise InvalidInput(f"ids must be one-dimensional, got shape {arr.shape}")
    if arr.dtype.kind == "u":
        if arr.size and int(arr.max()) > np.iinfo(np.int64).max:
            raise InvalidInput("ids must fit in a signed 64-bit integer")
    elif arr.dtype.kind != "i":
        raise InvalidInput(f"ids must be integers, got {arr.dtype}")
    out = arr.astype(np.int64, copy=True)
    if expected is not None and out.shape[0] != expected:
        raise InvalidInput(
            f"got {out.shape[0]} ids for {expected} hashes", ids=out.shape[0], hashes=expected
        )
    return out


def distances(rows: Words, query: Words) -> NDArray[np.uint32]:
    """Hamming distance from ``query`` (4 words) to each row; ``rows`` is XORed in place.

    ``rows`` must be a fresh C-contiguous ``(k, 4)`` array the caller no longer needs.
    """
    k = rows.shape[0]
    # A broadcast XOR over rows of 4 words runs numpy's inner loop 4 elements at a time;
    # for many rows, XOR 64 rows at once against the query tiled 64 times is ~4x faster.
    body = k - k % 64 if k >= 512 else 0
    if body:
        flat = rows[:body].reshape(-1, 256)
        tiled = np.empty((64, 4), dtype=np.uint64)
        tiled[:] = query
        np.bitwise_xor(flat, tiled.reshape(-1), out=flat)
    if body < k:
        np.bitwise_xor(rows[body:], query, out=rows[body:])
    return popcounts(rows)


def pair_distances(rows: Words, queries: Words) -> NDArray[np.uint32]:
    """Distance from each row to the query in the same place; ``rows`` is XORed in place."""
    np.bitwise_xor(rows, queries, out=rows)
    return popcounts(rows)


def popcounts(rows: Words) -> NDArray[np.uint32]:
    """Number of set bits in each ``(4,)`` row of a C-contiguous ``(k, 4)`` array."""
    counts = np.bitwise_count(rows).view(np.uint32).reshape(-1)
    # Sum four byte counts (each <= 64) without overflow: pairs in 16-bit lanes, then halves.
    pairs = counts & np.uint32(0x00FF00FF)
    pairs += (counts >> np.uint32(8)) & np.uint32(0x00FF00FF)
    total = pairs >> np.uint32(16)
    total += pairs & np.uint32(0xFFFF)
    return total
