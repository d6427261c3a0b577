"""Side-by-side benchmark: shieldwall's exact PDQ index against python-threatexchange's PDQIndex.

    python -m benchmarks.pdq_index [--sizes 100000,1000000,10000000] [--quick]

For each size and distribution (random; clustered = a few thousand random bases with 0-40
bits flipped) and for each index, a fresh single-threaded process (OMP_NUM_THREADS=1)
builds the index and measures: build time, resident memory (steady and peak, from
/proc/self/status), queries on a 50/50 mix of near-duplicates (an indexed hash with 0-31
bits flipped) and unrelated random hashes, latency percentiles, the cost of one add, recall
and precision against numpy brute force on a sample, and save time. A second fresh process
loads the saved file ("load after restart") and checks it answers the same. Results go to
docs/benchmarks.md between the pdq-index markers.

The machine may be shared: throughput is reported per CPU-second of the querying thread
(``thread_time``) and per wall-clock second; the two differ when other work competes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- bench:pdq-index:start -->", "<!-- bench:pdq-index:end -->"
THRESHOLD = 31
BASES = 3000
SINGLE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
IMPLS = ("shieldwall", "pytx")

# -- data ---------------------------------------------------------------------------------


def flip_bits(rows: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> None:
    """Flip exactly ``counts[i]`` distinct random bits of each ``(n, 32)`` uint8 row, in place.

    Robert Floyd's sampling, run on all rows at once: uniform over the k-subsets of 256 bits.
    """
    chunk = 250_000
    for start in range(0, len(rows), chunk):
        k = counts[start : start + chunk].astype(np.int64)
        chosen = np.zeros((len(k), 256), dtype=bool)
        index = np.arange(len(k))
        for step in range(int(k.max(initial=0))):
            live = index[step < k]
            top = 256 - k[live] + step  # Floyd: j runs over n-k .. n-1
            pick = (rng.random(len(live)) * (top + 1)).astype(np.int64)
            taken = chosen[live, pick]
            chosen[live, np.where(taken, top, pick)] = True
        rows[start : start + chunk] ^= np.packbits(chosen, axis=1)


def make_data(folder: Path, size: int, kind: str, queries: int, seed: int) -> None:
    """Write hashes.npy, queries.npy (50% near-duplicates, 50% random) and sample.npy."""
    rng = np.random.default_rng(seed)
    if kind == "random":
        hashes = rng.integers(0, 256, size=(size, 32), dtype=np.uint8)
    else:
        bases = rng.integers(0, 256, size=(BASES, 32), dtype=np.uint8)
        hashes = bases[rng.integers(0, BASES, size)]
        flip_bits(hashes, rng.integers(0, 41, size), rng)
    near = hashes[rng.integers(0, size, queries // 2)].copy()
    flip_bits(near, rng.integers(0, THRESHOLD + 1, len(near)), rng)
    unrelated = rng.integers(0, 256, size=(queries - len(near), 32), dtype=np.uint8)
    mix = np.concatenate([near, unrelated])[rng.permutation(queries)]
    np.save(folder / "hashes.npy", hashes)
    np.save(folder / "queries.npy", mix)


def brute_force(hashes: np.ndarray, queries: np.ndarray, threshold: int) -> list[set[int]]:
    """Ids (row numbers) within ``threshold`` of each query, by comparing with every row."""
    found: list[set[int]] = [set() for _ in range(len(queries))]
    step = 1 << 20
    for start in range(0, len(hashes), step):
        block = np.ascontiguousarray(hashes[start : start + step])
        rows = len(block) - len(block) % 8
        for i, q in enumerate(queries):
            # XOR eight rows (256 bytes) at a time: numpy is slow on 32-byte inner loops.
            x = block[:rows].reshape(-1, 256) ^ np.tile(q, 8)
            x = np.concatenate([x.reshape(-1, 32), block[rows:] ^ q])
            dist = np.bitwise_count(x.view("<u8")).sum(axis=1, dtype=np.uint16)
            found[i].update((np.flatnonzero(dist <= threshold) + start).tolist())
    return found


# -- measuring inside one process -------------------------------------------------------


def memory() -> dict[str, float]:
    """Resident (VmRSS) and peak resident (VmHWM) memory of this process, in MiB."""
    out = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


class Impl:
    """The few operations both indexes are measured on, over the same hex strings."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.index: Any = None

    def build(self, rows: np.ndarray) -> None:
        """Each in its own bulk form: shieldwall takes the (n, 32) byte array, pytx hex."""
        if self.name == "shieldwall":
            from shieldwall.core.index import PdqIndex

            self.index = PdqIndex.build(np.arange(len(rows)), rows)
        else:
            from threatexchange.signal_type.pdq.pdq_index import PDQIndex

            self.index = PDQIndex(zip(_hexes(rows), range(len(rows)), strict=True))

    def query(self, hexes: str) -> list[int]:
        if self.name == "shieldwall":
            return [i for i, _ in self.index.query(hexes)]
        return [m.metadata for m in self.index.query(hexes)]

    def add(self, hexes: str, entry_id: int) -> None:
        if self.name == "shieldwall":
            self.index.add([entry_id], [hexes])
        else:
            self.index.add(hexes, entry_id)

    def save(self, path: Path) -> None:
        if self.name == "shieldwall":
            self.index.save(path)
        else:
            with path.open("wb") as f:
                self.index.serialize(f)

    def load(self, path: Path, mmap: bool = False) -> None:
        if self.name == "shieldwall":
            from shieldwall.core.index import PdqIndex

            self.index = PdqIndex.load(path, mmap=mmap)
        else:
            from threatexchange.signal_type.pdq.pdq_index import PDQIndex

            with path.open("rb") as f:
                self.index = PDQIndex.deserialize(f)


def _hexes(rows: np.ndarray) -> Iterator[str]:
    for start in range(0, len(rows), 65536):
        block = np.ascontiguousarray(rows[start : start + 65536]).tobytes().hex()
        yield from (block[i : i + 64] for i in range(0, len(block), 64))


def _digest(answers: Sequence[Sequence[int]]) -> str:
    return hashlib.sha256(json.dumps([sorted(a) for a in answers]).encode()).hexdigest()[:16]


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run_build(task: dict[str, Any]) -> dict[str, Any]:
    folder, name = Path(task["folder"]), task["impl"]
    impl = Impl(name)
    if name == "pytx":
        import threatexchange.signal_type.pdq.pdq_index  # noqa: F401  (count library pages)
    else:
        import shieldwall.core.index  # noqa: F401
    base = memory()["VmRSS"]
    hashes = np.load(folder / "hashes.npy", mmap_mode="r")
    size = len(hashes)
    started = time.perf_counter()
    impl.build(hashes)
    build_s = time.perf_counter() - started
    del hashes
    gc.collect()
    after = memory()
    out: dict[str, Any] = {
        "build_s": build_s,
        "rss_mib": after["VmRSS"],
        "index_mib": after["VmRSS"] - base,
        "peak_mib": after["VmHWM"],
    }
    queries = np.load(folder / "queries.npy")
    hexes = list(_hexes(queries))
    answers, cpu, wall = [], [], []
    for q in hexes[: min(50, len(hexes))]:  # warm caches and lazily built plans
        impl.query(q)
    for q in hexes:
        c0, w0 = time.thread_time(), time.perf_counter()
        answers.append(impl.query(q))
        cpu.append(time.thread_time() - c0)
        wall.append(time.perf_counter() - w0)
    cpu_sorted = sorted(cpu)
    out |= {
        "qps_cpu": len(hexes) / sum(cpu),
        "qps_wall": len(hexes) / sum(wall),
        "p50_ms": 1e3 * statistics.median(cpu),
        "p99_ms": 1e3 * cpu_sorted[int(0.99 * (len(cpu) - 1))],
        "p99_wall_ms": 1e3 * sorted(wall)[int(0.99 * (len(wall) - 1))],
        "matches_per_query": sum(map(len, answers)) / len(answers),
        "digest": _digest(answers[: task["sample"]]),
    }
    if name == "shieldwall":
        c0 = time.thread_time()
        batch = impl.index.query_many(hexes)
        out["qps_batch_cpu"] = len(hexes) / (time.thread_time() - c0)
        assert [[i for i, _ in r] for r in batch] == answers, "query_many disagrees with query"
    # Recall and precision against numpy brute force on a sample of the same queries.
    sample = task["sample"]
    truth = [set(t) for t in json.loads((folder / "truth.json").read_text())]
    expected = sum(len(t) for t in truth)
    got = sum(len(set(a)) for a in answers[:sample])
    hit = sum(len(t & set(a)) for t, a in zip(truth, answers[:sample], strict=True))
    out |= {"recall": hit / expected if expected else 1.0, "precision": hit / got if got else 1.0}
    out["brute_matches"] = expected
    # Cost of one add: distinct new ids, hashes unrelated to the index.
    rng = np.random.default_rng(99)
    fresh = list(_hexes(rng.integers(0, 256, size=(task["adds"], 32), dtype=np.uint8)))
    costs, cpu_costs = [], []
    for i, h in enumerate(fresh):
        c0, w0 = time.thread_time(), time.perf_counter()
        impl.add(h, size + i)
        cpu_costs.append(time.thread_time() - c0)
        costs.append(time.perf_counter() - w0)
    out |= {
        "add_ms": 1e3 * statistics.median(costs),
        "add_max_ms": 1e3 * max(costs),
        "add_cpu_max_ms": 1e3 * max(cpu_costs),
    }
    if name == "shieldwall":
        out["compact_s"] = _timed(impl.index.compact)
    path = Path(task["file"])
    out["save_s"] = _timed(lambda: impl.save(path))
    out["file_mib"] = path.stat().st_size / 2**20
    return out


def run_load(task: dict[str, Any]) -> dict[str, Any]:
    name = task["impl"]
    impl = Impl(name)
    if name == "pytx":
        import threatexchange.signal_type.pdq.pdq_index  # noqa: F401
    else:
        import shieldwall.core.index  # noqa: F401
    base = memory()["VmRSS"]
    load_s = _timed(lambda: impl.load(Path(task["file"]), mmap=task.get("mmap", False)))
    after = memory()
    queries = np.load(Path(task["folder"]) / "queries.npy")[: task["sample"]]
    digest = _digest([impl.query(q) for q in _hexes(queries)])
    return {"load_s": load_s, "index_mib": after["VmRSS"] - base, "digest": digest}


# -- orchestration ----------------------------------------------------------------------


def _worker(task: dict[str, Any]) -> dict[str, Any]:
    env = {**os.environ, **SINGLE_THREAD}
    cmd = [sys.executable, "-m", "benchmarks.pdq_index", "--worker", json.dumps(task)]
    done = subprocess.run(  # noqa: S603 (our own module, arguments we built)
        cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return {"error": (done.stderr or done.stdout).strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def _available_mib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) / 1024
    return float("inf")


def measure(size: int, kind: str, args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="pdqbench-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        make_data(folder, size, kind, args.queries, seed=size + (kind == "clustered"))
        hashes = np.load(folder / "hashes.npy", mmap_mode="r")
        queries = np.load(folder / "queries.npy")[: args.sample]
        truth = brute_force(hashes, queries, THRESHOLD)
        del hashes
        (folder / "truth.json").write_text(json.dumps([sorted(t) for t in truth]))
        print(f"  data {size:,} {kind}: {time.perf_counter() - started:.1f}s", flush=True)
        for name in IMPLS:
            if name == "pytx" and size > args.pytx_max:
                results[name] = {"skipped": f"pytx not run above {args.pytx_max:,} entries"}
                continue
            need = size * (700 if name == "pytx" else 200) / 2**20
            if need > _available_mib() * 0.8:
                results[name] = {"skipped": f"needs ~{need:,.0f} MiB, not available"}
                continue
            file = folder / f"{name}.idx"
            task = {
                "impl": name,
                "folder": str(folder),
                "file": str(file),
                "sample": args.sample,
                "adds": args.adds if name == "shieldwall" else args.pytx_adds,
            }
            result = _worker({"mode": "build", **task})
            if "error" not in result:
                loaded = _worker({"mode": "load", **task})
                result["load_s"] = loaded.get("load_s")
                result["load_index_mib"] = loaded.get("index_mib")
                result["load_same_answers"] = loaded.get("digest") == result["digest"]
                if name == "shieldwall":
                    mapped = _worker({"mode": "load", "mmap": True, **task})
                    result["load_mmap_s"] = mapped.get("load_s")
            file.unlink(missing_ok=True)
            results[name] = result
            print(f"  {name}: {json.dumps(result)}", flush=True)
    return results


def environment(command: str) -> list[str]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    versions = ", ".join(
        f"{p} {metadata.version(p)}" for p in ("numpy", "faiss-cpu", "threatexchange")
    )
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    load = os.getloadavg()
    return [
        f"- command: `{command}`",
        f"- date: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%d %H:%M UTC')}; "
        f"shieldwall at {commit or '?'} (with uncommitted work)",
        f"- machine: {os.cpu_count()} CPUs (nproc), {cpu}; "
        f"{_available_mib() / 1024:.1f} GiB available at start; "
        f"load average at start {load[0]:.1f} (shared machine)",
        f"- Python {platform.python_version()}, {versions}; "
        "every measurement in its own process with OMP_NUM_THREADS=1",
    ]


def _fmt(value: Any, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def report(command: str, all_results: dict[str, dict[str, dict[str, Any]]]) -> str:
    lines = [START, "## Exact PDQ index: shieldwall vs python-threatexchange PDQIndex", ""]
    lines += environment(command)
    lines += [
        "",
        "Queries: a 50/50 mix of near-duplicates (an indexed hash with 0-31 bits flipped) and "
        "unrelated random hashes, threshold 31, one at a time on one thread. q/s (CPU) counts "
        "the querying thread's CPU time, q/s (wall) the elapsed time; p50/p99 are CPU time per "
        "query. Memory is VmRSS after the build minus before it (the index), and the process's "
        "peak VmHWM. Load is a fresh process reading the saved file (pytx: its pickle "
        "serialisation). Recall/precision: against numpy brute force on a sample.",
        "",
        "| size | data | index | build s | index MiB | peak MiB | load s | q/s (CPU) | "
        "q/s (wall) | p50 ms | p99 ms | add ms | recall | precision |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    ratios: list[str] = []
    for key, results in all_results.items():
        size, kind = key.split(":")
        for name in IMPLS:
            r = results.get(name, {})
            if "skipped" in r or "error" in r:
                why = r.get("skipped") or f"failed: {r.get('error')}"
                lines.append(f"| {int(size):,} | {kind} | {name} | {why} |" + " |" * 10)
                continue
            lines.append(
                f"| {int(size):,} | {kind} | {name} | {_fmt(r['build_s'], '.1f')} | "
                f"{_fmt(r['index_mib'], ',.0f')} | {_fmt(r['peak_mib'], ',.0f')} | "
                f"{_fmt(r.get('load_s'), '.2f')} | {_fmt(r['qps_cpu'], ',.0f')} | "
                f"{_fmt(r['qps_wall'], ',.0f')} | {_fmt(r['p50_ms'], '.3f')} | "
                f"{_fmt(r['p99_ms'], '.3f')} | {_fmt(r['add_ms'], '.3f')} | "
                f"{r['recall']:.4f} | {r['precision']:.4f} |"
            )
        ours, theirs = results.get("shieldwall", {}), results.get("pytx", {})
        if "qps_cpu" in ours and "qps_cpu" in theirs:
            ratios.append(
                f"| {int(size):,} | {kind} | {ours['qps_cpu'] / theirs['qps_cpu']:.1f}x | "
                f"{ours['qps_wall'] / theirs['qps_wall']:.1f}x | "
                f"{ours['index_mib'] / theirs['index_mib']:.2f} | "
                f"{ours['build_s'] / theirs['build_s']:.2f} | "
                f"{_ratio(ours.get('load_s'), theirs.get('load_s'))} | "
                f"{ours['add_ms'] / theirs['add_ms']:.5f} |"
            )
    if ratios:
        lines += [
            "",
            "Ratios, shieldwall / pytx (throughput: higher is better; the rest: lower is better):",
            "",
            "| size | data | q/s (CPU) | q/s (wall) | memory | build time | load time | add |",
            "|---|---|---|---|---|---|---|---|",
            *ratios,
        ]
    lines += ["", "shieldwall extras:", ""]
    lines += [
        "| size | data | batch q/s (CPU, `query_many`) | load with mmap s | compact s | "
        "file MiB | save s | add max ms (wall / CPU) | same answers after load |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key, results in all_results.items():
        size, kind = key.split(":")
        r = results.get("shieldwall", {})
        if "qps_cpu" not in r:
            continue
        lines.append(
            f"| {int(size):,} | {kind} | {_fmt(r.get('qps_batch_cpu'), ',.0f')} | "
            f"{_fmt(r.get('load_mmap_s'), '.2f')} | {_fmt(r.get('compact_s'), '.1f')} | "
            f"{_fmt(r.get('file_mib'), ',.0f')} | {_fmt(r.get('save_s'), '.1f')} | "
            f"{_fmt(r.get('add_max_ms'), '.3f')} / {_fmt(r.get('add_cpu_max_ms'), '.3f')} | "
            f"{r.get('load_same_answers')} |"
        )
    lines.append(END)
    return "\n".join(lines)


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if not a or not b else f"{a / b:.2f}"


def write_section(section: str) -> None:
    DOC.parent.mkdir(exist_ok=True)
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n\nMeasured against the peers.\n"
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + section + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.write_text(text)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pdq_index")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--kinds", default="random,clustered")
    parser.add_argument("--quick", action="store_true", help="fewer queries and samples")
    parser.add_argument("--pytx-max", type=int, default=10_000_000)
    parser.add_argument("--no-write", action="store_true", help="print, leave docs alone")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        task = json.loads(args.worker)
        result = run_build(task) if task["mode"] == "build" else run_load(task)
        print(json.dumps(result))
        return
    args.queries = 500 if args.quick else 2000
    args.sample = 50 if args.quick else 200
    args.adds, args.pytx_adds = (20, 2) if args.quick else (200, 3)
    command = "python -m benchmarks.pdq_index " + " ".join(argv or sys.argv[1:])
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for size in (int(s) for s in args.sizes.split(",")):
        for kind in args.kinds.split(","):
            print(f"{size:,} {kind}", flush=True)
            results[f"{size}:{kind}"] = measure(size, kind, args)
    section = report(command.strip(), results)
    print(section)
    if not args.no_write:
        write_section(section)


if __name__ == "__main__":
    main()
