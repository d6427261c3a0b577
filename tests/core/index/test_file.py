"""Saving and loading: round trips, atomic writes, and every kind of damaged file refused."""

from __future__ import annotations

import os
import random
import struct
from pathlib import Path

import numpy as np
import pytest

from shieldwall.core.errors import InvalidInput, NotFound
from shieldwall.core.index import PdqIndex, _file
from shieldwall.core.index._file import FORMAT_VERSION, MAGIC, read_index, write_index

from .samples import flip, random_hash, reference


@pytest.fixture
def entries() -> dict[int, bytes]:
    rng = random.Random(11)
    return {i * 7 - 500: random_hash(rng) for i in range(3000)}


@pytest.fixture
def saved(tmp_path: Path, entries: dict[int, bytes]) -> Path:
    index = PdqIndex.build(list(entries), list(entries.values()))
    path = tmp_path / "pdq.swidx"
    index.save(path, watermark=41, metadata={"bank": "demo", "n": 3})
    return path


@pytest.mark.parametrize("mmap", [False, True])
def test_round_trip_keeps_answers_pending_changes_and_fields(
    tmp_path: Path, entries: dict[int, bytes], mmap: bool
) -> None:
    rng = random.Random(12)
    index = PdqIndex.build(list(entries), list(entries.values()), threshold=40)
    index.add([-500, 99_999], [random_hash(rng), random_hash(rng)])  # replace + new
    index.remove([6, 13])
    index.watermark, index.metadata = 7, {"source": "test"}
    path = tmp_path / "x.swidx"
    index.save(path)
    loaded = PdqIndex.load(path, mmap=mmap)
    assert (loaded.threshold, loaded.watermark, loaded.metadata) == (40, 7, {"source": "test"})
    assert len(loaded) == len(index)
    queries = [flip(h, rng.randint(0, 41), rng) for h in list(entries.values())[:40]]
    assert [loaded.query(q) for q in queries] == [index.query(q) for q in queries]
    loaded.add([123_456], [queries[0]])  # a loaded (even mapped) index stays changeable
    loaded.compact()
    assert loaded.query(queries[0])[0] == (123_456, 0)


def test_save_arguments_set_watermark_and_metadata(saved: Path) -> None:
    loaded = PdqIndex.load(saved)
    assert loaded.watermark == 41
    assert loaded.metadata == {"bank": "demo", "n": 3}


def test_empty_index_round_trip(tmp_path: Path) -> None:
    PdqIndex().save(tmp_path / "e.swidx", watermark=-3)
    loaded = PdqIndex.load(tmp_path / "e.swidx")
    assert len(loaded) == 0
    assert loaded.watermark == -3
    assert loaded.query(bytes(32)) == []


def test_write_is_atomic_and_leaves_no_temporary(
    tmp_path: Path, saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = saved.read_bytes()

    def fail(*_: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk gone"):
        PdqIndex.build([1], [bytes(32)]).save(saved)
    assert saved.read_bytes() == before
    assert sorted(p.name for p in saved.parent.iterdir()) == [saved.name]


def _damage(path: Path, offset: int, value: bytes) -> None:
    data = bytearray(path.read_bytes())
    data[offset : offset + len(value)] = value
    path.write_bytes(bytes(data))


def test_a_flipped_byte_anywhere_is_refused(saved: Path) -> None:
    size = saved.stat().st_size
    for offset in (30, size // 2, size - 40, size - 5, size - 1):
        copy = saved.with_name(f"c{offset}")
        copy.write_bytes(saved.read_bytes())
        byte = copy.read_bytes()[offset]
        _damage(copy, offset, bytes([byte ^ 0x10]))
        with pytest.raises(InvalidInput, match=r"checksum|header"):
            PdqIndex.load(copy)


def test_truncated_file_is_refused(saved: Path) -> None:
    data = saved.read_bytes()
    for keep in (len(data) - 1, len(data) // 2, 40, 10, 0):
        saved.write_bytes(data[:keep])
        with pytest.raises(InvalidInput, match=r"truncated|not a shieldwall index"):
            PdqIndex.load(saved)


def test_extended_file_is_refused(saved: Path) -> None:
    saved.write_bytes(saved.read_bytes() + b"\0")
    with pytest.raises(InvalidInput, match="truncated or damaged"):
        PdqIndex.load(saved)


def test_wrong_magic_is_refused(saved: Path) -> None:
    _damage(saved, 0, b"PK\x03\x04")
    with pytest.raises(InvalidInput, match="bad magic"):
        PdqIndex.load(saved)


def test_other_format_version_is_refused_with_advice(saved: Path) -> None:
    _damage(saved, 8, struct.pack("<I", FORMAT_VERSION + 1))
    with pytest.raises(InvalidInput, match=r"version 2.*Rebuild") as caught:
        PdqIndex.load(saved)
    assert caught.value.context["version"] == FORMAT_VERSION + 1


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        PdqIndex.load(tmp_path / "nothing.swidx")


def test_pickle_or_random_bytes_are_refused(tmp_path: Path) -> None:
    import pickle

    path = tmp_path / "p.swidx"
    path.write_bytes(pickle.dumps({"not": "an index"}) * 10)
    with pytest.raises(InvalidInput, match="not a shieldwall index"):
        PdqIndex.load(path)


def _rewrite(saved: Path, target: Path, **changes: object) -> None:
    """Re-save the arrays with ``changes`` applied: a valid checksum over bad contents."""
    fields, arrays = read_index(saved, "pdq")
    fields = {k: v for k, v in fields.items() if k not in changes}
    arrays = {k: v for k, v in arrays.items() if k not in changes}
    for key, value in changes.items():
        (arrays if isinstance(value, np.ndarray) else fields)[key] = value  # type: ignore[index]
    write_index(target, "pdq", fields, arrays)


@pytest.mark.parametrize(
    "changes",
    [
        {"key_bits": 9},
        {"entries": 5},
        {"metadata": [1, 2]},
        {"positions": np.zeros(10, dtype=np.uint32)},
        {"dead": np.array([5, 3], dtype=np.int64)},
        {"dead": np.array([10**9], dtype=np.int64)},
        {"ids": np.zeros(3000, dtype=np.int64)},
        {"words": np.zeros((3000, 4), dtype=np.uint32)},
    ],
    ids=lambda c: next(iter(c)),
)
def test_consistent_checksum_but_inconsistent_content_is_refused(
    saved: Path, tmp_path: Path, changes: dict[str, object]
) -> None:
    target = tmp_path / "bad.swidx"
    _rewrite(saved, target, **changes)
    with pytest.raises(InvalidInput, match="not a consistent PDQ index"):
        PdqIndex.load(target)


def test_positions_out_of_range_are_refused(saved: Path, tmp_path: Path) -> None:
    _, arrays = read_index(saved, "pdq")
    positions = arrays["positions"].copy()
    positions[17] = 10**6
    target = tmp_path / "bad.swidx"
    _rewrite(saved, target, positions=positions)
    with pytest.raises(InvalidInput, match="out of order"):
        PdqIndex.load(target)


def test_another_kind_of_index_is_refused(tmp_path: Path) -> None:
    write_index(tmp_path / "k.swidx", "md5", {}, {})
    with pytest.raises(InvalidInput, match="invalid header"):
        PdqIndex.load(tmp_path / "k.swidx")


def test_header_layout_is_as_documented(saved: Path) -> None:
    data = saved.read_bytes()
    magic, version, header_len, total = struct.unpack("<8sIIQ", data[:24])
    assert (magic, version, total) == (MAGIC, FORMAT_VERSION, len(data))
    assert data[24 : 24 + header_len].startswith(b"{")
    import zlib

    assert struct.unpack("<I", data[-4:])[0] == zlib.crc32(data[:-4])
    assert {"<i8", "<u8", "<u4"} <= _file.DTYPES


def test_loaded_answers_match_reference(saved: Path, entries: dict[int, bytes]) -> None:
    loaded = PdqIndex.load(saved)
    rng = random.Random(13)
    for value in list(entries.values())[:20]:
        query = flip(value, rng.randint(0, 32), rng)
        assert loaded.query(query) == reference(entries, query, 31)


def test_metadata_must_be_plain_json(tmp_path: Path) -> None:
    index = PdqIndex(metadata={"when": object()})
    with pytest.raises(InvalidInput, match="plain JSON"):
        index.save(tmp_path / "m.swidx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("bad", [1.5, "7", True, None])
def test_watermark_must_be_an_integer(tmp_path: Path, bad: object) -> None:
    with pytest.raises(InvalidInput, match="watermark"):
        PdqIndex(watermark=bad)  # type: ignore[arg-type]
    if bad is not None:  # None means "keep the current one" for save
        with pytest.raises(InvalidInput, match="watermark"):
            PdqIndex().save(tmp_path / "w.swidx", watermark=bad)  # type: ignore[arg-type]
