"""``shieldwall hash`` and ``shieldwall scan``: hash files, and scan a folder tree in bulk."""

from __future__ import annotations

import json
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from shieldwall.cli.console import err, fail, load, note, open_database, out
from shieldwall.core.access import Principal
from shieldwall.core.errors import ShieldwallError
from shieldwall.core.hashing import REFERENCE_OPTIONS, HashOptions, MediaHashes, hash_file
from shieldwall.matching.bulk import bulk_scan, check_output
from shieldwall.matching.index import MatchIndex
from shieldwall.matching.service import hash_options


class HashFormat(StrEnum):
    TEXT = "text"
    LOCAL_FILE = "local_file"
    JSON = "json"


def _options(reference: bool, dihedral: bool, letterbox: bool, all_frames: bool) -> HashOptions:
    settings = load()
    base = REFERENCE_OPTIONS if reference else HashOptions()
    return replace(
        base,
        dihedral=dihedral,
        letterbox=letterbox,
        gif_all_frames=all_frames,
        quality_floor=settings.pdq_quality_floor,
        max_pixels=settings.max_image_pixels,
    )


def _lines(path: Path, media: MediaHashes, fmt: HashFormat) -> list[str]:
    if fmt is HashFormat.JSON:
        doc = {
            "path": str(path),
            "kind": str(media.kind),
            "format": media.format,
            **{str(k): v for k, v in media.exact.items()},
            "pdq": [{"variant": p.variant, "hash": p.hex, "quality": p.quality} for p in media.pdq],
            "low_quality": media.low_quality,
            "vpdq": media.vpdq,
        }
        return [json.dumps(doc)]
    pairs = [(str(k), v) for k, v in media.exact.items()]
    pairs += [("pdq", p.hex) for p in media.pdq if p.variant == "original"]
    if media.vpdq is not None:
        pairs.append(("vpdq", media.vpdq))
    if fmt is HashFormat.LOCAL_FILE:
        return [f"{name} {value}" for name, value in pairs]
    text = [f"{path}  ({media.kind}{', ' + media.format if media.format else ''})"]
    for name, value in pairs:
        if name == "pdq":
            continue  # listed with its quality below
        shown = value if len(value) <= 80 else value[:77] + "..."
        text.append(f"  {name:<10} {shown}")
    for p in media.pdq:
        label = "low quality" if p.is_low_quality(media.quality_floor) else "quality"
        text.append(f"  pdq:{p.variant:<18} {p.hex}  {label} {p.quality}")
    return text


def hash_command(
    files: Annotated[
        list[Path], typer.Argument(help="Files to hash.", exists=True, dir_okay=False)
    ],
    fmt: Annotated[HashFormat, typer.Option("--format", help="text, local_file or json.")] = (
        HashFormat.TEXT
    ),
    reference: Annotated[
        bool, typer.Option(help="Reference path: bit-identical to python-threatexchange (slower).")
    ] = False,
    dihedral: Annotated[bool, typer.Option(help="Also the 7 rotations/flips.")] = False,
    letterbox: Annotated[bool, typer.Option(help="Also with uniform borders trimmed.")] = False,
    all_frames: Annotated[bool, typer.Option(help="Every frame of an animated image.")] = False,
) -> None:
    """Print the hashes of files: md5, sha1, sha256, PDQ for photos, vPDQ for videos.

    `--format local_file` prints python-threatexchange's `<signal_type> <value>` lines, ready
    for `shieldwall bank import`. Nothing is stored and no event is written. A file that
    cannot be hashed is reported on standard error and the exit status is 2.

    Examples:

        shieldwall hash photo.jpg clip.mp4
        shieldwall hash --format local_file known/*.jpg > known.txt
    """
    options = _options(reference, dihedral, letterbox, all_frames)
    failed = 0
    for path in files:
        try:
            media = hash_file(path, options=options)
        except ShieldwallError as exc:
            failed += 1
            note(f"{path}: {exc.message}", style="red")
            continue
        for line in _lines(path, media, fmt):
            out().print(line, markup=False, soft_wrap=True, highlight=False)
    if failed:
        raise typer.Exit(2)


class ResultFormat(StrEnum):
    JSONL = "jsonl"
    CSV = "csv"


def scan_command(
    root: Annotated[
        Path, typer.Argument(help="A folder (scanned recursively) or a file.", exists=True)
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Result file; an existing one is resumed.")
    ] = Path("scan-results.jsonl"),
    fmt: Annotated[
        ResultFormat | None, typer.Option("--format", help="jsonl or csv (default: by extension).")
    ] = None,
    workers: Annotated[int, typer.Option(min=0, help="Hashing processes; 0 = every core.")] = 0,
    resume: Annotated[bool, typer.Option(help="Skip paths already in the result file.")] = True,
) -> None:
    """Scan a folder tree against the banks, on every core, into a result file.

    Each file is hashed (in parallel worker processes) and looked up in this database's
    banks, and one row is written per file: path, verdict (block / review / allow / error),
    matching banks and entries, md5, sha256 and PDQ. Interrupt it at any time: running it
    again with the same --output continues where it stopped. Files that cannot be decoded
    get verdict `error` with the reason. One `scan.bulk_completed` event records the counts.

    Examples:

        shieldwall scan /srv/uploads -o uploads-scan.jsonl
        shieldwall scan ./images --format csv -o images.csv --workers 2
    """
    chosen = fmt or (ResultFormat.CSV if output.suffix.lower() == ".csv" else ResultFormat.JSONL)
    check_output(output, chosen.value)  # before the index loads: a wrong -o fails at once
    settings = load()
    with open_database(settings) as db:
        index = MatchIndex(db, settings)
        with err().status("loading the matching index..."):
            index.load()
        options = hash_options(
            index,
            quality_floor=settings.pdq_quality_floor,
            max_pixels=settings.max_image_pixels,
            max_bytes=settings.scan_max_bytes,
        )
        progress = Progress(
            TextColumn("scanning"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err(),
        )
        with progress:
            task = progress.add_task("scan", total=None)
            report = bulk_scan(
                db,
                index,
                root,
                output,
                options=options,
                quality_floor=settings.pdq_quality_floor,
                fmt=chosen.value,
                workers=workers or None,
                resume=resume,
                actor=Principal.system("cli"),
                on_start=lambda n: progress.update(task, total=n),
                on_row=lambda _row: progress.advance(task),
            )
    counts = ", ".join(f"{v}: {n}" for v, n in sorted(report.verdicts.items())) or "nothing new"
    note(f"scanned {report.scanned} file(s), skipped {report.skipped} already done; {counts}")
    note(f"results: {output}")
    if report.verdicts.get("block") or report.verdicts.get("review"):
        note("some files matched a bank: see the result file", style="yellow")
    if report.scanned == 0 and report.skipped == 0:
        fail("no files found", code=2)
