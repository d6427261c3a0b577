"""A large import stays within bounded memory and finishes in reasonable time."""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import pytest

from shieldwall.banks import io
from shieldwall.banks.schemas import FileFormat
from shieldwall.db.engine import Database
from tests.banks.conftest import BankFactory, md5_of, pdq_of, sha256_of
from tests.conftest import SYSTEM

pytestmark = pytest.mark.db

LINES = 200_000
#: Far below what holding the file's lines (or one object per row) would take: the file
#: alone is ~17 MB of text, and 200k ORM objects would be well over 100 MB.
PEAK_LIMIT = 16 * 1024 * 1024
#: Generous for a shared CI machine under tracemalloc (about 3x slower than without).
TIME_LIMIT_S = 240


def _write_file(path: Path) -> None:
    makers = (md5_of, pdq_of, sha256_of)
    kinds = ("md5", "pdq", "sha256")
    with path.open("w") as fh:
        fh.write("signal_type,value,labels,source_record_id,quality\n")
        for i in range(LINES):
            k = i % 3
            quality = "90" if k == 1 else ""
            fh.write(f"{kinds[k]},{makers[k](i)},A1,rec-{i},{quality}\n")
        # a few malformed lines and repeats, spread through the file
        fh.write("pdq,abc,,,\n")
        fh.write(f"md5,{md5_of(0)},A1,rec-0,\n")


def test_200k_line_import_is_streaming(
    db: Database, make_bank: BankFactory, tmp_path: Path
) -> None:
    make_bank("BIG", labels=["A1", "B1"])
    path = tmp_path / "big.csv"
    _write_file(path)
    size = path.stat().st_size

    tracemalloc.start()
    started = time.perf_counter()
    try:
        with db.session() as s, path.open("rb") as stream:
            report = io.import_entries(s, "BIG", stream, FileFormat.CSV, actor=SYSTEM)
        elapsed = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert (report.added, report.duplicates, report.rejected) == (LINES, 1, 1)
    assert report.rejections[0].line == LINES + 2
    assert report.bytes_read == size
    assert peak < PEAK_LIMIT, f"peak {peak / 2**20:.1f} MiB for a {size / 2**20:.1f} MiB file"
    assert elapsed < TIME_LIMIT_S, f"{elapsed:.1f}s"
    print(f"\n200k-line import: {elapsed:.1f}s, peak {peak / 2**20:.1f} MiB (tracemalloc on)")
