"""The index file: versioned, checksummed, raw arrays, written atomically. Never pickle.

::

    offset  size  field
    0       8     magic  b"\\x89SWIDX\\r\\n"  (the high byte and CR LF catch text-mode damage)
    8       4     format version, uint32 little-endian
    12      4     header length H, uint32 little-endian
    16      8     total file length in bytes, uint64 little-endian
    24      H     header: UTF-8 JSON (kind, counts, settings, watermark, metadata, and for
                  each array its dtype, shape and offset from the start of the data)
    ...           zero padding to a multiple of 64
    data          the arrays' raw bytes, little-endian, each starting at a multiple of 64
    end - 4   4     CRC-32 (zlib) of every byte before it, uint32 little-endian

A file with the wrong magic, an unknown version, the wrong length, a bad checksum or an
inconsistent header is refused with :class:`InvalidInput` before anything is built from it.

The checksum catches accidental damage (bad disks, torn copies, truncation); it is computed
while the bytes stream through, at memory speed. It is not a signature: whoever can write the
file can write a matching checksum, so the index folder must be writable only by shieldwall.
"""

from __future__ import annotations

import json
import os
import struct
import tempfile
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
from numpy.typing import NDArray

from shieldwall.core.errors import InvalidInput, NotFound

MAGIC = b"\x89SWIDX\r\n"
FORMAT_VERSION = 1
_PREFIX = struct.Struct("<8sIIQ")
_CHECK = struct.Struct("<I")
_ALIGN = 64
_CHUNK = 1 << 24
#: The only dtypes an index file may hold.
DTYPES = frozenset({"<i8", "<u8", "<u4", "|u1", "|b1"})


def _align(n: int) -> int:
    return -(-n // _ALIGN) * _ALIGN


def _le(array: NDArray[Any]) -> NDArray[Any]:
    dtype = array.dtype.newbyteorder("<") if array.dtype.itemsize > 1 else array.dtype
    return np.ascontiguousarray(array, dtype=dtype)


def write_index(
    path: str | os.PathLike[str],
    kind: str,
    fields: Mapping[str, Any],
    arrays: Mapping[str, NDArray[Any]],
) -> None:
    """Write atomically: a temporary file in the same folder, fsync, then rename over ``path``."""
    target = Path(path)
    raw = {name: _le(array) for name, array in arrays.items()}
    table: dict[str, dict[str, Any]] = {}
    offset = 0
    for name, array in raw.items():
        if array.dtype.str not in DTYPES:
            raise TypeError(f"array {name!r} has unsupported dtype {array.dtype}")
        table[name] = {"dtype": array.dtype.str, "shape": list(array.shape), "offset": offset}
        offset = _align(offset + array.nbytes)
    try:
        header = json.dumps(
            {"kind": kind, **fields, "arrays": table}, sort_keys=True, separators=(",", ":")
        ).encode()
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"index metadata must be plain JSON: {exc}") from exc
    data_start = _align(_PREFIX.size + len(header))
    total = data_start + offset + _CHECK.size
    crc = 0

    def put(out: BinaryIO, chunk: bytes | memoryview) -> None:
        nonlocal crc
        crc = zlib.crc32(chunk, crc)
        out.write(chunk)

    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            put(out, _PREFIX.pack(MAGIC, FORMAT_VERSION, len(header), total) + header)
            put(out, bytes(data_start - _PREFIX.size - len(header)))
            written = 0
            for name, array in raw.items():
                put(out, bytes(table[name]["offset"] - written))
                put(out, array.reshape(-1).data.cast("B"))
                written = table[name]["offset"] + array.nbytes
            put(out, bytes(offset - written))
            out.write(_CHECK.pack(crc))
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some platforms cannot open a directory; the rename still happened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_index(
    path: str | os.PathLike[str], kind: str, *, mmap: bool = False
) -> tuple[dict[str, Any], dict[str, NDArray[Any]]]:
    """The header fields and arrays of a verified file; :class:`InvalidInput` if it is bad.

    With ``mmap`` the arrays are read-only views of the mapped file (shared between
    processes through the page cache); otherwise they live in this process's memory.
    """
    source = Path(path)
    try:
        size = source.stat().st_size
    except FileNotFoundError as exc:
        raise NotFound(f"no index file at {source}", path=str(source)) from exc
    where = {"path": str(source)}
    if size < _PREFIX.size + _CHECK.size:
        raise InvalidInput(f"{source} is not a shieldwall index file (only {size} bytes)", **where)
    with source.open("rb") as f:
        magic, version, header_len, total = _PREFIX.unpack(f.read(_PREFIX.size))
        if magic != MAGIC:
            raise InvalidInput(f"{source} is not a shieldwall index file (bad magic)", **where)
        if version != FORMAT_VERSION:
            raise InvalidInput(
                f"{source} has index format version {version}; this shieldwall reads "
                f"version {FORMAT_VERSION}. Rebuild the index from the database.",
                version=version,
                **where,
            )
        if total != size:
            raise InvalidInput(
                f"{source} is truncated or damaged: {size} bytes, the header says {total}",
                **where,
            )
        body = size - _CHECK.size
        if mmap:
            buffer: NDArray[np.uint8] = np.memmap(f, dtype=np.uint8, mode="r")
            crc = 0
            for start in range(0, body, _CHUNK):
                crc = zlib.crc32(buffer.data[start : min(start + _CHUNK, body)], crc)
        else:
            buffer = np.empty(size, dtype=np.uint8)
            f.seek(0)
            crc = _read_checking(f, buffer.data, body)
    if crc != _CHECK.unpack(bytes(buffer[body:]))[0]:
        raise InvalidInput(f"{source} is corrupt: its checksum does not match", **where)
    header_end = _PREFIX.size + header_len
    try:
        header = json.loads(bytes(buffer[_PREFIX.size : header_end]))
        if not isinstance(header, dict) or header.pop("kind") != kind:
            raise ValueError(f"not a {kind} index")
        arrays = _arrays(buffer, _align(header_end), body, header.pop("arrays"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidInput(f"{source} has an invalid header: {exc}", **where) from exc
    return header, arrays


def _read_checking(f: BinaryIO, view: memoryview, body: int) -> int:
    """Fill ``view`` from ``f``; the CRC-32 of its first ``body`` bytes, taken as they arrive."""
    crc = done = 0
    while done < len(view):
        got = f.readinto(view[done : done + _CHUNK])  # type: ignore[attr-defined]
        if not got:
            raise InvalidInput("index file shrank while being read")
        if done < body:
            crc = zlib.crc32(view[done : min(done + got, body)], crc)
        done += got
    return crc


def _arrays(
    buffer: NDArray[np.uint8], start: int, end: int, table: Mapping[str, Any]
) -> dict[str, NDArray[Any]]:
    out: dict[str, NDArray[Any]] = {}
    for name, spec in table.items():
        dtype = np.dtype(spec["dtype"])
        if spec["dtype"] not in DTYPES:
            raise ValueError(f"array {name} has dtype {spec['dtype']}")
        shape = tuple(int(s) for s in spec["shape"])
        count = int(np.prod(shape, dtype=np.int64))
        first = start + int(spec["offset"])
        last = first + count * dtype.itemsize
        if min(shape, default=0) < 0 or first < start or last > end or first % _ALIGN:
            raise ValueError(f"array {name} lies outside the data")
        array = buffer[first:last].view(dtype).reshape(shape)
        if not dtype.isnative:
            array = array.astype(dtype.newbyteorder("="))
        array.setflags(write=False)
        out[name] = array
    return out
