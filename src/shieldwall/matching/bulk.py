"""Bulk scanning of a folder tree: hash on every core, match in one process, write a result
file that a later run resumes from.

The result file (JSON Lines or CSV) gets one row per file as soon as it is known, flushed
every few rows; a run that is interrupted leaves every finished row, and the next run with
the same output skips those paths. Files that cannot be read or decoded get a row with
``verdict = error`` and the reason; they never stop the run.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import os
import stat
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from shieldwall.audit import service as audit
from shieldwall.core.access import Principal
from shieldwall.core.errors import InvalidInput, ShieldwallError
from shieldwall.core.hashing import HashOptions, MediaHashes, hash_file
from shieldwall.db.engine import Database
from shieldwall.matching.index import MatchIndex
from shieldwall.matching.service import Matcher, signals_of

FIELDS = (
    "path",
    "size",
    "media_kind",
    "verdict",
    "matches",
    "banks",
    "entry_ids",
    "labels",
    "min_distance",
    "md5",
    "sha256",
    "pdq",
    "pdq_quality",
    "error",
)


@dataclass
class BulkReport:
    scanned: int = 0
    skipped: int = 0
    verdicts: Counter[str] = field(default_factory=Counter)

    @property
    def errors(self) -> int:
        return self.verdicts.get("error", 0)


def iter_files(root: Path) -> Iterator[Path]:
    """Regular files under ``root`` in a stable order; symlinks are not followed."""
    if root.is_file():
        yield root
        return
    for directory, dirs, files in os.walk(root, followlinks=False):
        dirs.sort()
        for name in sorted(files):
            path = Path(directory) / name
            if path.is_file() and not path.is_symlink():
                yield path


_FIRST_LINE_BYTES = 1 << 20
_JSONL_START = b'{"path": '


def _looks_like_results(first: bytes, fmt: str) -> bool:
    """Whether ``first``, a result file's first line (or all of it, torn), is what
    :class:`_Writer` writes first in ``fmt``."""
    torn = not first.endswith(b"\n")
    if fmt == "csv":
        header = ",".join(FIELDS).encode()
        return header.startswith(first) if torn else first.rstrip(b"\r\n") == header
    if torn:
        return first.startswith(_JSONL_START) or _JSONL_START.startswith(first)
    try:
        row = json.loads(first)
    except ValueError:
        return False
    return isinstance(row, dict) and "path" in row and "verdict" in row


def check_output(output: Path, fmt: str) -> None:
    """:class:`InvalidInput` unless ``output`` is missing, empty, or a regular file that an
    earlier scan wrote in ``fmt``: a scan never truncates or appends to anything else."""
    try:
        st = output.stat()
    except FileNotFoundError:
        return
    except OSError as exc:
        raise InvalidInput(f"cannot use {output} as the result file ({exc.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        what = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise InvalidInput(f"the result file {output} is {what}; name a file (-o FILE)")
    if st.st_size == 0:
        return
    try:
        with output.open("rb") as fh:
            first = fh.readline(_FIRST_LINE_BYTES)
    except OSError as exc:
        raise InvalidInput(f"cannot read the result file {output} ({exc.strerror})") from None
    if not _looks_like_results(first, fmt):
        raise InvalidInput(
            f"{output} exists and is not a {fmt} scan result file; it was left as it is. "
            "Name a new file, or the result file of an earlier scan to resume it"
        )


def done_paths(output: Path, fmt: str) -> set[str]:
    """Paths already in a result file from an earlier run (a torn last line is ignored)."""
    if not output.exists():
        return set()
    seen: set[str] = set()
    # a damaged line is skipped like a torn one, not a reason to stop
    with output.open(encoding="utf-8", errors="replace", newline="") as fh:
        if fmt == "csv":
            for row in csv.DictReader(fh):
                if row.get("path"):
                    seen.add(row["path"])
        else:
            for line in fh:
                try:
                    seen.add(json.loads(line)["path"])
                except (ValueError, KeyError, TypeError):
                    continue
    return seen


def trim_torn_tail(output: Path) -> None:
    """Cut a last line that an interrupted run left without its newline."""
    if not output.exists() or output.stat().st_size == 0:
        return
    with output.open("rb+") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        block = min(size, 1 << 20)
        fh.seek(size - block)
        tail = fh.read(block)
        if tail.endswith(b"\n"):
            return
        cut = tail.rfind(b"\n")
        fh.truncate(size - block + cut + 1 if cut >= 0 else 0)


def _hash_one(job: tuple[str, HashOptions]) -> tuple[str, MediaHashes | None, str | None]:
    path, options = job
    try:
        return path, hash_file(path, options=options), None
    except ShieldwallError as exc:
        return path, None, exc.message
    except OSError as exc:
        return path, None, f"cannot read the file ({exc.strerror or type(exc).__name__})"


def _row(
    path: str, media: MediaHashes | None, error: str | None, matcher: Matcher
) -> dict[str, Any]:
    if media is None:
        return {"path": path, "verdict": "error", "error": error or "unknown error"}
    signals, _shown = signals_of(media)
    result = matcher.lookup(signals)
    pdq = media.primary_pdq
    return {
        "path": path,
        "size": media.size,
        "media_kind": str(media.kind),
        "verdict": result.verdict.value,
        "matches": len(result.matches),
        "banks": sorted({m.bank for m in result.matches}),
        "entry_ids": sorted({m.entry_id for m in result.matches}),
        "labels": sorted({label for m in result.matches for label in m.labels}),
        "min_distance": min((m.distance for m in result.matches), default=None),
        "md5": media.md5,
        "sha256": media.sha256,
        "pdq": pdq.hex if pdq else None,
        "pdq_quality": pdq.quality if pdq else None,
        "error": None,
    }


class _Writer:
    def __init__(self, fh: IO[str], fmt: str, *, header: bool) -> None:
        self.fh = fh
        self.fmt = fmt
        self.csv = (
            csv.DictWriter(fh, fieldnames=FIELDS, extrasaction="ignore") if fmt == "csv" else None
        )
        if self.csv is not None and header:
            self.csv.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        if self.csv is not None:
            flat = {
                k: (" ".join(map(str, v)) if isinstance(v, list) else v) for k, v in row.items()
            }
            self.csv.writerow(flat)
        else:
            self.fh.write(json.dumps({k: row.get(k) for k in FIELDS}, ensure_ascii=False) + "\n")


def bulk_scan(
    db: Database,
    index: MatchIndex,
    root: Path,
    output: Path,
    *,
    options: HashOptions,
    quality_floor: int,
    fmt: str = "jsonl",
    workers: int | None = None,
    resume: bool = True,
    actor: Principal | None = None,
    on_start: Callable[[int], None] | None = None,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> BulkReport:
    """Scan every file under ``root`` into ``output``; see the module docstring."""
    if fmt not in ("jsonl", "csv"):
        raise ValueError("format must be jsonl or csv")
    check_output(output, fmt)
    report = BulkReport()
    if resume:
        trim_torn_tail(output)
    already = done_paths(output, fmt) if resume else set()
    todo: list[str] = []
    for path in iter_files(root):
        text = str(path)
        if text in already:
            report.skipped += 1
        else:
            todo.append(text)
    if on_start is not None:
        on_start(len(todo))
    index.require_ready()
    mode = "a" if resume and output.exists() else "w"
    header = mode == "w" or output.stat().st_size == 0
    workers = max(1, workers or os.cpu_count() or 1)
    with output.open(mode, encoding="utf-8", newline="") as fh, db.session() as session:
        writer = _Writer(fh, fmt, header=header)
        matcher = Matcher(session, index, quality_floor=quality_floor)
        jobs = ((p, options) for p in todo)
        for n, (done, media, error) in enumerate(_results(jobs, workers), start=1):
            row = _row(done, media, error, matcher)
            writer.write(row)
            report.scanned += 1
            report.verdicts[row["verdict"]] += 1
            if n % 20 == 0:
                fh.flush()
                session.rollback()  # release read locks between batches
            if on_row is not None:
                on_row(row)
        fh.flush()
    with db.session() as session:
        audit.record(
            session,
            "scan.bulk_completed",
            actor=actor or "system:cli",
            subject=f"bulk:{root.name or 'root'}",
            principles=[1],
            payload={
                "scanned": report.scanned,
                "skipped": report.skipped,
                "verdicts": dict(report.verdicts),
            },
        )
    return report


def _results(
    jobs: Iterable[tuple[str, HashOptions]], workers: int
) -> Iterator[tuple[str, MediaHashes | None, str | None]]:
    if workers == 1:
        yield from map(_hash_one, jobs)
        return
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        yield from pool.imap_unordered(_hash_one, jobs, chunksize=4)
