"""A large import stays within bounded memory (speed is measured by benchmarks, and the
query plan that kept PostgreSQL imports linear is checked below)."""

from __future__ import annotations

import io as stdio
import time
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from shieldwall.banks import io, repository
from shieldwall.banks.schemas import FileFormat
from shieldwall.db.engine import Database
from tests.banks.conftest import BankFactory, md5_of, pdq_of, sha256_of
from tests.conftest import PG_URL, SYSTEM

pytestmark = pytest.mark.db

LINES = 200_000
#: Far below what holding the file's lines (or one object per row) would take: the file
#: alone is ~17 MB of text, and 200k ORM objects would be well over 100 MB.
PEAK_LIMIT = 16 * 1024 * 1024


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
    print(f"\n200k-line import: {elapsed:.1f}s, peak {peak / 2**20:.1f} MiB (tracemalloc on)")


@pytest.mark.skipif(not PG_URL, reason="needs SHIELDWALL_TEST_DATABASE_URL (PostgreSQL)")
def test_duplicate_check_probes_the_index_even_when_statistics_say_the_table_is_empty(
    db: Database, make_bank: BankFactory
) -> None:
    """An autovacuum ANALYZE during a long import sees none of its rows and records the
    table as empty; the per-batch duplicate check must still be one index probe per key,
    not a walk over the bank (which made a 200k-line import take many minutes)."""
    bank = make_bank("STALE")
    data = "".join(f"md5 {md5_of(i)}\n" for i in range(3000)).encode()
    other = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with db.session() as s:
            io.import_entries(s, "STALE", stdio.BytesIO(data), FileFormat.LOCAL_FILE, actor=SYSTEM)
            with other.connect() as conn:  # what autovacuum would do meanwhile
                conn.execute(text("ANALYZE bank_entries"))
                assert (
                    conn.scalar(
                        text("SELECT reltuples FROM pg_class WHERE relname = 'bank_entries'")
                    )
                    == 0
                )
            statement = repository._PG_FIND_EXISTING
            keys = [md5_of(i) for i in range(2500, 3500)]
            plan = "\n".join(
                row[0]
                for row in s.execute(
                    text("EXPLAIN " + statement.text),
                    {"types": ["md5"] * len(keys), "keys": keys, "bank_id": bank.id},
                )
            )
    finally:
        other.dispose()
    assert "uq_bank_entries_value" in plan, plan
    assert "Seq Scan on bank_entries" not in plan, plan
    assert "ix_bank_entries_bank_id" not in plan, plan
