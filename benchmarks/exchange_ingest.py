"""Exchange ingest: a large StopNCII-shaped feed into a bank and the live index, shieldwall
vs python-threatexchange's ``threatexchange fetch`` into its local store.

    python -m benchmarks.exchange_ingest [--records 1000000] [--database-url postgresql+...]

Both fetch the same local fake (``shieldwall.devtools.fake_stopncii``, serving
``--records`` distinct active PDQ records, 100 per second of ``lastModtimestamp``) over real
HTTP on loopback, in their own processes, one after the other, with pages of 800 records
(pytx's fixed page size):

* **pytx**: ``python -m threatexchange.cli.main fetch`` with a StopNCII collaboration and
  ``TX_STOPNCII_KEYS`` pointing at the fake: fetch into its local store (an in-memory merge
  pickled to disk), then its index rebuild (FAISS), which is what makes fetched PDQs
  matchable there;
* **shieldwall**: a fresh database (SQLite file, or ``--database-url`` PostgreSQL whose
  ``public`` schema is dropped and recreated), one bank, one ``stop_ncii`` exchange, then
  ``runner.run_fetch`` (bank entries with provenance, batch commits, events) followed by the
  matching index catching up (``MatchIndex.sync``) until every PDQ is queryable.

Measured per process: wall time (records per second), CPU time of the process (the database
server's, for PostgreSQL, is not in it), and peak resident memory (``ru_maxrss``). Both run
at ``--records`` and at a tenth of it, to show how memory grows with the feed. Results go
to docs/benchmarks.md between the exchange-ingest markers.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.report import machine_line, write_section

PAGE_SIZE = 800  # pytx's StopNCII client always asks for 800


def markers(database: str) -> tuple[str, str]:
    return (
        f"<!-- bench:exchange-ingest-{database}:start -->",
        f"<!-- bench:exchange-ingest-{database}:end -->",
    )


@dataclass
class Measured:
    name: str
    records: int
    wall_s: float
    cpu_s: float
    peak_mib: float
    detail: dict[str, Any]

    @property
    def rate(self) -> float:
        return self.records / self.wall_s if self.wall_s else 0.0


def run_child(args: list[str], env: dict[str, str], timeout: float) -> str:
    """Run one child process to completion; its standard output."""
    done = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        args, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{args[:6]} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def _children_usage() -> tuple[float, float]:
    import resource

    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def measure(name: str, records: int, args: list[str], env: dict[str, str]) -> Measured:
    """Run ``args`` in a grandchild (via ``--measure``) so ru_maxrss is its own."""
    wrapper = [sys.executable, "-m", "benchmarks.exchange_ingest", "--measure", "--", *args]
    out = run_child(wrapper, env, timeout=6 * 3600)
    result = json.loads(out.strip().splitlines()[-1])
    return Measured(
        name=name,
        records=records,
        wall_s=result["wall_s"],
        cpu_s=result["cpu_s"],
        peak_mib=result["peak_mib"],
        detail=result.get("detail", {}),
    )


def measure_main(argv: list[str]) -> None:
    """``--measure -- CMD...``: run CMD, print its wall, CPU and peak memory as JSON."""
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, check=False)  # noqa: S603
    wall = time.monotonic() - started
    cpu, peak = _children_usage()
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-3000:])
        sys.exit(done.returncode)
    detail: dict[str, Any] = {}
    for line in done.stdout.splitlines():
        if line.startswith("DETAIL "):
            detail = json.loads(line[len("DETAIL ") :])
    print(json.dumps({"wall_s": wall, "cpu_s": cpu, "peak_mib": peak, "detail": detail}))


# ---- the fake --------------------------------------------------------------------------------


class Fake:
    def __init__(self, records: int) -> None:
        self.process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "shieldwall.devtools.fake_stopncii",
                "--records",
                str(records),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http"):
            raise RuntimeError("the fake did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


# ---- the two contenders ----------------------------------------------------------------------


def pytx_run(fake: Fake, records: int, work: Path) -> Measured:
    from shieldwall.devtools.fake_stopncii import FETCH_KEY, SUBSCRIPTION_KEY

    state = work / "pytx"
    (state / "collab_configs").mkdir(parents=True)
    (state / "collab_configs" / "bench.json").write_text(
        json.dumps({"name": "bench", "api": "stop_ncii", "enabled": True})
    )
    env = {
        **os.environ,
        "TX_STATEDIR": str(state),
        "TX_STOPNCII_KEYS": f"{FETCH_KEY},{SUBSCRIPTION_KEY},{fake.url}",
    }
    result = measure(
        "python-threatexchange fetch",
        records,
        [sys.executable, "-m", "threatexchange.cli.main", "fetch"],
        env,
    )
    shutil.rmtree(state, ignore_errors=True)
    return result


def shieldwall_run(fake: Fake, records: int, work: Path, database_url: str) -> Measured:
    data = work / "shieldwall"
    data.mkdir()
    url = database_url or f"sqlite:///{data / 'bench.db'}"
    result = measure(
        "shieldwall exchange fetch",
        records,
        [
            sys.executable,
            "-m",
            "benchmarks.exchange_ingest",
            "--child",
            "--url",
            fake.url,
            "--database-url",
            url,
            "--data-dir",
            str(data),
            "--records",
            str(records),
        ],
        dict(os.environ),
    )
    shutil.rmtree(data, ignore_errors=True)
    # the ingest window (fetch start until the live index holds every record): setup
    # (migrations, the bank) is not part of it; the process's CPU is all of it
    result.wall_s = float(result.detail["indexed_s"])
    result.peak_mib = float(result.detail["fetch_peak_mib"])
    return result


def floor_run(records: int, work: Path, database_url: str) -> float:
    """Seconds the database alone needs for the rows of ``records`` records (see
    :func:`floor_main`), in batches the size of a fetch's transactions."""
    from shieldwall.config import Settings

    data = work / "floor"
    data.mkdir()
    url = database_url or f"sqlite:///{data / 'floor.db'}"
    batch = Settings.model_fields["exchange_batch_records"].default
    out = run_child(
        [
            sys.executable,
            "-m",
            "benchmarks.exchange_ingest",
            "--floor",
            "--database-url",
            url,
            "--data-dir",
            str(data),
            "--records",
            str(records),
            "--floor-batch",
            str(batch),
        ],
        dict(os.environ),
        timeout=6 * 3600,
    )
    shutil.rmtree(data, ignore_errors=True)
    for line in out.splitlines():
        if line.startswith("DETAIL "):
            return float(json.loads(line[len("DETAIL ") :])["floor_s"])
    raise RuntimeError("the floor measurement printed nothing")


def _settings(args: argparse.Namespace) -> Any:
    from shieldwall.config import Settings

    return Settings(
        data_dir=Path(args.data_dir),
        database_url=args.database_url,
        exchange_allow_private_addresses=True,
        exchange_scheduler=False,
        index_save_seconds=10**6,
    )


def _fresh_database(args: argparse.Namespace) -> tuple[Any, Any]:
    """Settings and a migrated, empty database (PostgreSQL: its public schema recreated)."""
    from sqlalchemy import create_engine, text

    from shieldwall.db import migrate
    from shieldwall.db.engine import Database

    if args.database_url.startswith("postgresql"):
        engine = create_engine(args.database_url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    settings = _settings(args)
    db = Database(settings.effective_database_url)
    migrate.upgrade(db.engine)
    return settings, db


def follow_main(args: argparse.Namespace) -> None:
    """The live index, as a server process runs it: follow the database (every
    ``index_poll_seconds``, more often while banks change: ``MatchIndex.poll_delay``) until
    ``--records`` PDQs are queryable; print when (wall clock)."""
    import resource

    from shieldwall.db.engine import Database
    from shieldwall.matching.index import MatchIndex

    settings = _settings(args)
    db = Database(settings.effective_database_url)
    index = MatchIndex(db, settings)
    index.load()
    print("READY", flush=True)
    while len(index.pdq) < args.records:
        time.sleep(index.poll_delay())  # as the server's index thread waits
        index.sync()
    done = time.time()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"indexed_at": done, "indexed": len(index.pdq), "peak_mib": peak}))
    db.dispose()


def child_main(args: argparse.Namespace) -> None:
    """One shieldwall ingest, in its own process (measured by the parent), with the live
    index following the database in another process, as a server's does."""
    import resource

    from sqlalchemy import func, select

    from shieldwall.banks import service as banks
    from shieldwall.banks.models import BankEntry
    from shieldwall.banks.schemas import BankCreate
    from shieldwall.core.access import Principal
    from shieldwall.devtools.fake_stopncii import FETCH_KEY, SUBSCRIPTION_KEY
    from shieldwall.exchanges import runner, service
    from shieldwall.exchanges.schemas import ExchangeCreate

    settings, db = _fresh_database(args)
    actor = Principal.system("bench")
    with db.session() as session:
        banks.create_bank(session, BankCreate(name="STOP_NCII"), actor=actor)
        service.create_exchange(
            session,
            settings,
            ExchangeCreate(
                name="stopncii",
                type="stop_ncii",
                bank="STOP_NCII",
                settings={"base_url": args.url, "page_size": PAGE_SIZE},
                credentials={"subscription_key": SUBSCRIPTION_KEY, "fetch_function_key": FETCH_KEY},
                schedule_minutes=0,
            ),
            actor=actor,
        )
    follower = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [
            sys.executable,
            "-m",
            "benchmarks.exchange_ingest",
            "--follow",
            "--database-url",
            args.database_url,
            "--data-dir",
            args.data_dir,
            "--records",
            str(args.records),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert follower.stdout is not None
    if follower.stdout.readline().strip() != "READY":
        sys.exit("the index follower did not start")
    started_wall = time.time()
    started = time.monotonic()
    run = runner.run_fetch(db, settings, "stopncii", runner.RunOptions(time_limit=6 * 3600))
    fetched = time.monotonic()
    fetch_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if run.status.value != "succeeded":
        follower.kill()
        sys.exit(f"the fetch did not succeed: {run.status.value}: {run.error}")
    out, _ = follower.communicate(timeout=3600)
    followed = json.loads(out.strip().splitlines()[-1])
    with db.session() as session:
        entries = int(
            session.scalar(
                select(func.count()).select_from(BankEntry).where(BankEntry.removed_at.is_(None))
            )
            or 0
        )
    detail = {
        "fetch_s": fetched - started,
        "indexed_s": followed["indexed_at"] - started_wall,
        "entries": entries,
        "indexed": followed["indexed"],
        "fetch_peak_mib": fetch_peak,
        "index_peak_mib": followed["peak_mib"],
    }
    if entries != args.records or followed["indexed"] != args.records:
        sys.exit(f"expected {args.records} entries and index rows, got {detail}")
    print("DETAIL " + json.dumps(detail))
    db.dispose()


def floor_main(args: argparse.Namespace) -> None:
    """What the database alone costs: the rows a fetch of ``--records`` StopNCII records
    writes (one bank entry and one provenance item each, into the real schema, with every
    index), sent straight to the driver (SQLite INSERTs of 500 rows, PostgreSQL ``COPY``) in
    sorted batches of ``--floor-batch``, one transaction each -- no fetching, parsing,
    checking or Python row building: the ceiling for an ingest that commits these rows in
    transactions of that size."""
    from shieldwall.banks import service as banks
    from shieldwall.banks.schemas import BankCreate
    from shieldwall.core.access import Principal
    from shieldwall.db import bulk
    from shieldwall.devtools.fake_stopncii import pdq_for
    from shieldwall.exchanges import service
    from shieldwall.exchanges.repository import BULK_CACHE_KIB
    from shieldwall.exchanges.schemas import ExchangeCreate

    pg = args.database_url.startswith("postgresql")
    settings, db = _fresh_database(args)
    actor = Principal.system("bench")
    with db.session() as session:
        bank = banks.create_bank(session, BankCreate(name="FLOOR"), actor=actor)
        exchange = service.create_exchange(
            session,
            settings,
            ExchangeCreate(
                name="floor",
                type="local_file",
                bank="FLOOR",
                settings={"path": str(Path(args.data_dir) / "unused.txt")},
                schedule_minutes=0,
            ),
            actor=actor,
        )
        bank_id, exchange_id = bank.id, exchange.id
    now = "2026-11-29 00:00:00.000000" if not pg else "2026-11-29 00:00:00+00"
    labels = "[]"
    entry_cols = (
        "id, bank_id, signal_type, value, value_key, labels, source, source_record_id, "
        "added_at, added_by, updated_at, change_seq"
    )
    item_cols = "exchange_id, record_id, entry_id, labels, first_seen, last_seen"
    raw = db.engine.raw_connection()
    driver: Any = raw.driver_connection
    started = time.monotonic()
    for start in range(0, args.records, args.floor_batch):
        end = min(args.records, start + args.floor_batch)
        keys = sorted(pdq_for(i) for i in range(start, end))
        # a StopNCII record is named after its hash (ImagePDQ:<hash>): as the fetch writes
        # it, its item keeps record id '' and its entry no source_record_id; ids given, as
        # the ingest allocates them (the bank is empty: they start at 1). Built column by
        # column, one object for a value every row has, as the fetch's rows have them
        n = len(keys)
        ids = list(range(start + 1, end + 1))
        entries: list[list[Any]] = [ids, [bank_id] * n, ["pdq"] * n, keys, keys, [labels] * n]
        entries += [["exchange"] * n, [None] * n, [now] * n, ["exchange:1"] * n, [now] * n]
        entries.append([1] * n)
        items: list[list[Any]] = [
            [exchange_id] * n,
            [""] * n,
            ids,
            [labels] * n,
            [now] * n,
            [now] * n,
        ]
        if pg:
            with driver.cursor() as cur:
                for table, cols, cells in (
                    ("bank_entries", entry_cols, entries),
                    ("exchange_items", item_cols, items),
                ):
                    with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
                        for row in zip(*cells, strict=True):
                            copy.write_row(row)
            driver.commit()
        else:
            if start == 0:  # the page cache and checkpointing a fetch's connection gets
                driver.execute(f"PRAGMA cache_size=-{BULK_CACHE_KIB}")
                driver.execute("PRAGMA wal_autocheckpoint=16384")
            driver.execute("BEGIN IMMEDIATE")
            for table, cols, cells in (
                ("bank_entries", entry_cols, entries),
                ("exchange_items", item_cols, items),
            ):  # as many rows per statement as the fetch sends
                shared, own = bulk.split_shared(cells)
                per = bulk.rows_per_statement(driver, len(own[0]), shared=len(shared))
                head = f"INSERT INTO {table} ({cols}) VALUES "  # noqa: S608 - our names
                for statement, parameters in bulk.sqlite_statements(head, own, per, shared=shared):
                    driver.executemany(statement, parameters)
            driver.execute("COMMIT")
    elapsed = time.monotonic() - started
    raw.close()
    db.dispose()
    print("DETAIL " + json.dumps({"floor_s": elapsed}))


# ---- the report ------------------------------------------------------------------------------


def section(database: str, command: str, rows: list[tuple[Measured, Measured]]) -> str:
    from shieldwall.matching.index import FOLLOW_SECONDS

    start, end = markers(database)
    lines = [
        start,
        f"## Exchange ingest: a StopNCII feed into a bank and the live index, {database}",
        "",
        f"Command: `{command}`. {machine_line('threatexchange', 'faiss-cpu', 'psycopg')}",
        "",
        "Both fetch the same local fake StopNCII feed (distinct active PDQ records, pages of "
        "800) over loopback HTTP, one after the other. **pytx**: `threatexchange fetch` "
        "into its local store, then its index rebuild; time is the whole process. "
        "**shieldwall**: `run_fetch` into a bank (provenance rows, batch commits, events) "
        "while a second process follows the database as a server's live index does "
        "(`MatchIndex`, polling every `index_poll_seconds`, every "
        f"{FOLLOW_SECONDS:g} s while banks change); time runs from the fetch's start until "
        "that index holds every record "
        "(database setup excluded). CPU: for pytx its process's; for shieldwall the "
        "fetching process's and the index follower's together, including setup (not the "
        "fake's or PostgreSQL's). Peak memory: the fetching process's maximum "
        "resident set; the index follower's is listed below (an index of N hashes needs "
        "memory for N hashes).",
        "",
        "| records | implementation | s | records/s | CPU s | peak MiB | ratio (records/s) |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for ours, theirs in rows:
        ratio = ours.rate / theirs.rate if theirs.rate else 0.0
        for m, r in ((theirs, ""), (ours, f"**{ratio:.1f}x**")):
            lines.append(
                f"| {m.records:,} | {m.name} | {m.wall_s:.1f} | {m.rate:,.0f} | {m.cpu_s:.1f} | "
                f"{m.peak_mib:,.0f} | {r} |"
            )
    lines.append("")
    for ours, _ in rows:
        d = ours.detail
        lines.append(
            f"- shieldwall at {ours.records:,}: fetch into the bank {d.get('fetch_s', 0):.1f} "
            f"s, every record queryable in the live index after {d.get('indexed_s', 0):.1f} "
            f"s; {d.get('entries', 0):,} entries; index follower peak "
            f"{d.get('index_peak_mib', 0):,.0f} MiB."
        )
    for ours, theirs in rows:
        floor = float(ours.detail.get("floor_s", 0))
        if floor:
            lines.append(
                f"- The database alone at {ours.records:,}: the same rows (one bank entry and "
                f"one provenance item per record, every index) sent straight to the driver in "
                f"sorted batches of a fetch's size, nothing else: {floor:.1f} s, "
                f"{theirs.wall_s / floor:.1f}x pytx's time -- the most an ingest that commits "
                "these rows in transactions of this size could reach here."
            )
    if len(rows) >= 2:
        small, big = rows[0], rows[-1]
        lines.append(
            f"- Fetching memory from {small[0].records:,} to {big[0].records:,} records: "
            f"shieldwall {small[0].peak_mib:,.0f} → {big[0].peak_mib:,.0f} MiB, pytx "
            f"{small[1].peak_mib:,.0f} → {big[1].peak_mib:,.0f} MiB."
        )
    lines.append(end)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--measure"]:
        measure_main(argv[2:] if argv[1:2] == ["--"] else argv[1:])
        return
    parser = argparse.ArgumentParser(prog="python -m benchmarks.exchange_ingest")
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--follow", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--floor", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--floor-batch", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child_main(args)
        return
    if args.follow:
        follow_main(args)
        return
    if args.floor:
        floor_main(args)
        return
    database = "postgresql" if args.database_url.startswith("postgresql") else "sqlite"
    command = f"python -m benchmarks.exchange_ingest --records {args.records}"
    if args.database_url:
        from sqlalchemy.engine import make_url

        shown = make_url(args.database_url).render_as_string(hide_password=True)
        command += f" --database-url {shown}"
    rows: list[tuple[Measured, Measured]] = []
    for records in sorted({max(1, args.records // 10), args.records}):
        work = Path(tempfile.mkdtemp(prefix="sw-exchange-bench-"))
        fake = Fake(records)
        try:
            print(f"{records:,} records: pytx ...", flush=True)
            theirs = pytx_run(fake, records, work)
            print(f"  {theirs.wall_s:.1f} s, {theirs.rate:,.0f}/s, {theirs.peak_mib:,.0f} MiB")
            print(f"{records:,} records: shieldwall ({database}) ...", flush=True)
            ours = shieldwall_run(fake, records, work, args.database_url)
            print(f"  {ours.wall_s:.1f} s, {ours.rate:,.0f}/s, {ours.peak_mib:,.0f} MiB")
            print(f"{records:,} records: the database alone ({database}) ...", flush=True)
            ours.detail["floor_s"] = floor_run(records, work, args.database_url)
            print(f"  {ours.detail['floor_s']:.1f} s")
        finally:
            fake.stop()
            shutil.rmtree(work, ignore_errors=True)
        rows.append((ours, theirs))
    text = section(database, command, rows)
    print(text)
    if not args.no_write:
        start, end = markers(database)
        write_section(start, end, text)


if __name__ == "__main__":
    main()
