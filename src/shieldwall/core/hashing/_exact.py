"""Exact hashes (MD5, SHA-1, SHA-256) of file bytes, from memory or streamed."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import BinaryIO

CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ExactHashes:
    """Lowercase hex digests of the bytes, and how many bytes there were."""

    md5: str
    sha1: str
    sha256: str
    size: int


class ExactHasher:
    """Feed bytes in any number of pieces; :meth:`result` gives the three digests."""

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self._size = 0

    def update(self, chunk: bytes | bytearray | memoryview) -> None:
        self._md5.update(chunk)
        self._sha1.update(chunk)
        self._sha256.update(chunk)
        self._size += len(chunk)

    def result(self) -> ExactHashes:
        return ExactHashes(
            md5=self._md5.hexdigest(),
            sha1=self._sha1.hexdigest(),
            sha256=self._sha256.hexdigest(),
            size=self._size,
        )


def exact_hashes(data: bytes | bytearray | memoryview) -> ExactHashes:
    hasher = ExactHasher()
    hasher.update(data)
    return hasher.result()


def exact_hashes_of_stream(stream: BinaryIO, *, chunk_bytes: int = CHUNK_BYTES) -> ExactHashes:
    """Hash a binary stream to its end, reading ``chunk_bytes`` at a time."""
    hasher = ExactHasher()
    while chunk := stream.read(chunk_bytes):
        hasher.update(chunk)
    return hasher.result()
