"""End to end: ``POST /v1/lookup`` with a PDQ hash against a large bank, over real HTTP.

    python -m benchmarks.e2e_lookup [--entries 1000000] [--seconds 20] [--connections 16]

Sets up a throw-away SQLite database (or ``--database-url`` PostgreSQL) with one block bank
of ``--entries`` clustered PDQ hashes (a few thousand bases with 0-40 bits flipped, as real
lists cluster), starts ``shieldwall serve --workers 2`` on a free loopback port, waits until
both workers' indexes are loaded, then drives it with ``wrk`` (a Lua script picks bodies from
a 50/50 mix of near-duplicates of indexed hashes and unrelated random hashes) for
``--seconds``. Every request authenticates an API key, looks the hash up, and writes one
``scan.completed`` event, as in production. The load generator runs on the same 2-core
machine as the server, so the figures are a floor. Results go to docs/benchmarks.md
between the e2e-lookup markers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy.engine import make_url

from benchmarks.pdq_index import flip_bits
from benchmarks.report import machine_line, write_section


def markers(database: str) -> tuple[str, str]:
    return (
        f"<!-- bench:e2e-lookup-{database}:start -->",
        f"<!-- bench:e2e-lookup-{database}:end -->",
    )
BASES = 3000
ROOT = Path(__file__).resolve().parents[1]


def clustered_hashes(n: int, rng: np.random.Generator) -> np.ndarray:
    """A few thousand random bases, each copy with 0-40 random bits flipped."""
    bases = rng.integers(0, 256, size=(BASES, 32), dtype=np.uint8)
    rows = bases[rng.integers(0, BASES, size=n)].copy()
    flip_bits(rows, rng.integers(0, 41, size=n), rng)
    return np.unique(rows, axis=0)  # a bank holds each hash once


def populate(url: str, entries: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Create the bank and its entries directly with SQL (setup, not measured)."""
    from sqlalchemy import insert

    from shieldwall.apikeys import service as apikeys
    from shieldwall.apikeys.schemas import ApiKeyCreate, KeyKind
    from shieldwall.banks.changes import change_seq
    from shieldwall.banks.models import Bank, BankEntry
    from shieldwall.core.access import Principal, Role, Scope
    from shieldwall.db import migrate
    from shieldwall.db.base import utcnow
    from shieldwall.db.engine import Database
    from shieldwall.users import service as users
    from shieldwall.users.schemas import UserCreate

    db = Database(url)
    migrate.upgrade(db.engine)
    system = Principal.system("bench")
    hashes = clustered_hashes(entries, rng)
    with db.session() as s:
        owner = users.create_user(
            s, UserCreate(username="bench", password=os.urandom(16).hex(), role=Role.ADMIN),
            actor=system,
        )
        _, key = apikeys.create_key(
            s, ApiKeyCreate(name="bench", kind=KeyKind.INTEGRATION, scopes=[Scope.SCAN],
                            owner_id=owner.id), actor=system,
        )
        seq = change_seq(s)
        bank = Bank(name="BENCH", description="", kind="block", action="block", enabled=True,
                    labels=[], change_seq=seq)
        s.add(bank)
        s.flush()
        now = utcnow()
        batch = 50_000
        for start in range(0, entries, batch):
            chunk = hashes[start : start + batch]
            s.execute(insert(BankEntry), [
                {"bank_id": bank.id, "signal_type": "pdq", "value": row.tobytes().hex(),
                 "value_key": row.tobytes().hex(), "labels": [], "source": "file_import",
                 "added_at": now, "added_by": "system:bench", "updated_at": now,
                 "change_seq": seq}
                for row in chunk
            ])
    db.dispose()
    return hashes, key


def bodies(hashes: np.ndarray, count: int, rng: np.random.Generator) -> list[str]:
    near = hashes[rng.integers(0, len(hashes), size=count // 2)].copy()
    flip_bits(near, rng.integers(0, 32, size=len(near)), rng)
    unrelated = rng.integers(0, 256, size=(count - len(near), 32), dtype=np.uint8)
    mixed = [row for pair in zip(near, unrelated, strict=False) for row in pair]
    return [
        json.dumps({"signals": [{"signal_type": "pdq", "value": row.tobytes().hex()}]})
        for row in mixed
    ]


def lua_script(path: Path, key: str, payloads: list[str]) -> None:
    quoted = ",\n".join(json.dumps(p) for p in payloads)
    path.write_text(
        "local bodies = {\n" + quoted + "\n}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n + 1\n"
        "  local body = bodies[(n % #bodies) + 1]\n"
        "  return wrk.format('POST', '/v1/lookup', {['Content-Type']='application/json',"
        f" ['Authorization']='Bearer {key}'}}, body)\n"
        "end\n"
        "done = function(summary, latency, requests)\n"
        "  io.write(string.format('RESULT %d %d %d %d %d %d\\n', summary.requests,"
        " summary.duration, latency:percentile(50), latency:percentile(99),"
        " summary.errors.status, summary.errors.timeout))\n"
        "end\n"
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(base: str, key: str, deadline_s: float) -> float:
    started = time.monotonic()
    probe = {"signals": [{"signal_type": "pdq", "value": "0" * 64}]}
    ok_in_row = 0
    while time.monotonic() - started < deadline_s:
        try:
            ready = httpx.get(f"{base}/readyz", timeout=5).status_code == 200
            # both workers must answer: several ready answers in a row
            ok_in_row = ok_in_row + 1 if ready else 0
            if ok_in_row >= 6:
                r = httpx.post(f"{base}/v1/lookup", json=probe,
                               headers={"Authorization": f"Bearer {key}"}, timeout=10)
                if r.status_code == 200:
                    return time.monotonic() - started
        except httpx.HTTPError:
            ok_in_row = 0
        time.sleep(0.5)
    raise RuntimeError("the server did not become ready")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.e2e_lookup")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed (apt-get install wrk); nothing measured")
    rng = np.random.default_rng(7)
    work = Path(tempfile.mkdtemp(prefix="sw-e2e-"))
    url = args.database_url or f"sqlite:///{work / 'bench.db'}"
    print(f"populating {args.entries:,} entries into {url.split(':')[0]} ...", flush=True)
    t0 = time.monotonic()
    hashes, key = populate(url, args.entries, rng)
    setup_s = time.monotonic() - t0
    port = free_port()
    env = {**os.environ, "SHIELDWALL_DATABASE_URL": url, "SHIELDWALL_DATA_DIR": str(work),
           "SHIELDWALL_SECRET_KEY": "bench", "SHIELDWALL_LOG_LEVEL": "warning",
           "SHIELDWALL_AUTO_MIGRATE": "true"}
    server = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "-m", "shieldwall", "serve", "--host", "127.0.0.1", "--port",
         str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        load_s = wait_ready(base, key, 900)
        script = work / "lookup.lua"
        lua_script(script, key, bodies(hashes, 2000, rng))
        run = subprocess.run(  # noqa: S603
            [shutil.which("wrk") or "wrk", "-t2", f"-c{args.connections}",
             f"-d{args.seconds}s", "--latency", "-s", str(script), base],
            capture_output=True, text=True, check=True, timeout=args.seconds + 120,
        )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)
    match = re.search(r"RESULT (\d+) (\d+) (\d+) (\d+) (\d+) (\d+)", run.stdout)
    if match is None:
        sys.exit("wrk printed no result:\n" + run.stdout + run.stderr)
    requests, duration_us, p50_us, p99_us, status_errors, timeouts = map(int, match.groups())
    rps = requests / (duration_us / 1e6)
    shown = [
        make_url(a).render_as_string(hide_password=True) if "://" in a else a
        for a in (argv or sys.argv[1:])
    ]
    command = "python -m benchmarks.e2e_lookup " + " ".join(shown)
    database = "postgresql" if args.database_url else "sqlite"
    start, end = markers(database)
    section = "\n".join([
        start,
        f"## End to end: `POST /v1/lookup` (PDQ) against one large bank, {database}",
        "",
        f"Command: `{command.strip()}`. {machine_line('uvicorn', 'fastapi')}",
        "",
        "Server: `shieldwall serve --workers 2` on loopback, "
        f"{'PostgreSQL' if args.database_url else 'embedded SQLite'}; each request "
        "authenticates an API key, queries the index, reads the matched entries and writes "
        "one hash-chained `scan.completed` event. Load: `wrk -t2 "
        f"-c{args.connections}` for {args.seconds} s on the same 2-core machine, bodies a "
        "50/50 mix of near-duplicates (0-31 bits from an indexed hash) and random hashes.",
        "",
        "| entries | requests/s | p50 latency | p99 latency | non-2xx | timeouts | "
        "index ready after start | setup (not measured) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {args.entries:,} | {rps:,.0f} | {p50_us / 1000:.1f} ms | {p99_us / 1000:.1f} ms | "
        f"{status_errors} | {timeouts} | {load_s:.0f} s | {setup_s:.0f} s |",
        "",
        "No peer runs this end to end here (HMA needs its own Flask/PostgreSQL deployment); "
        "the index itself is compared with python-threatexchange in the PDQ index section.",
        end,
    ])
    print(section)
    if not args.no_write:
        write_section(start, end, section)


if __name__ == "__main__":
    main()
