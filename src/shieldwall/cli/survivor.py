"""``shieldwall survivor hash``: hash pictures and videos on this device for a takedown
request. Offline: no network, no database, no settings needed."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from shieldwall.cli.console import EXIT_ERROR, note, out
from shieldwall.core.errors import InvalidInput
from shieldwall.core.taxonomy import ReportCategory
from shieldwall.intake.offline import (
    DEFAULT_MAX_HASHES,
    FileHashes,
    build_requests,
    hash_for_request,
)

app = typer.Typer(
    help=(
        "For survivors and the people helping them: hash pictures and videos on this "
        "device for a takedown request. Works offline and sends nothing; see "
        "docs/survivors.md."
    ),
    no_args_is_help=True,
)


def _print(result: FileHashes) -> None:
    lines = [f"{result.path}  ({result.kind})"]
    lines.append(f"  md5      {result.md5}")
    lines.append(f"  sha256   {result.sha256}")
    for pdq in result.pdq:
        name = "pdq" if pdq.variant == "original" else f"pdq ({pdq.variant})"
        flag = "" if pdq.usable else "  low quality: not sent"
        lines.append(f"  {name:<8} {pdq.hex}  quality {pdq.quality}{flag}")
    if result.vpdq is not None:
        frames = len(json.loads(result.vpdq))
        lines.append(f"  vpdq     {frames} frames")
    for text in result.notes:
        lines.append(f"  note: {text}")
    for line in lines:
        out().print(line, markup=False, soft_wrap=True, highlight=False)


def _targets(output: Path, count: int) -> list[Path]:
    if count == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{i}{output.suffix}") for i in range(1, count + 1)]


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by this user only (the hashes point at private pictures)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def hash_command(
    files: Annotated[
        # readable=False: an unreadable file is named and the others still hashed, rather
        # than the whole run refused up front
        list[Path],
        typer.Argument(help="Pictures or videos to hash.", readable=False),
    ],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the request.")
    ] = Path("takedown-request.json"),
    category: Annotated[
        ReportCategory | None,
        typer.Option(help="Optional: what the imagery is (e.g. child_sexual_exploitation)."),
    ] = None,
    on_behalf: Annotated[
        bool, typer.Option("--on-behalf", help="You are helping someone else.")
    ] = False,
    contact: Annotated[
        str | None, typer.Option(help="Optional: how the reviewers can reach you.")
    ] = None,
    message: Annotated[
        str | None, typer.Option(help="Optional: anything the reviewers should know.")
    ] = None,
    max_hashes: Annotated[
        int, typer.Option(min=1, help="Most hashes per request file (the server's limit).")
    ] = DEFAULT_MAX_HASHES,
) -> None:
    """Hash FILES on this device and write a ready-to-send takedown request.

    For each file it prints the MD5 and SHA-256 (they match exact copies), and the PDQ
    hash with its quality for a picture (it also matches resized or re-saved copies) or the
    vPDQ for a video. It writes the request (takedown-request.json, readable only by you) with
    the hashes and nothing else: no pictures, no file names. Nothing is sent anywhere; see
    docs/survivors.md for how to send it. A file that cannot be read is named with the reason,
    the others are still hashed, and the exit status is then 2.

    Examples:

        shieldwall survivor hash photo1.jpg photo2.png
        shieldwall survivor hash --on-behalf --contact helpline@example.org *.jpg
    """
    hashed: list[FileHashes] = []
    failed = 0
    for path in files:
        try:
            result = hash_for_request(path)
        except InvalidInput as exc:
            failed += 1
            note(f"cannot hash {exc.message}", style="red")
            continue
        hashed.append(result)
        _print(result)
    if not hashed:
        note("no file could be hashed; no request was written", style="red")
        raise typer.Exit(EXIT_ERROR)
    bodies = build_requests(
        hashed,
        max_hashes=max_hashes,
        category=category,
        on_behalf=on_behalf,
        contact=contact,
        message=message,
    )
    targets = _targets(output, len(bodies))
    for target, body in zip(targets, bodies, strict=True):
        try:
            _write_private(target, json.dumps(body, indent=2) + "\n")
        except OSError as exc:
            note(f"cannot write {target}: {exc.strerror or exc}", style="red")
            raise typer.Exit(EXIT_ERROR) from None
    total = sum(len(b["hashes"]) for b in bodies)
    names = ", ".join(str(t) for t in targets)
    note(
        f"wrote {names}: {total} hashes from {len(hashed)} file(s). Nothing was sent. "
        "Send it as docs/survivors.md explains, and keep the status token you get back.",
        style="green",
    )
    if failed:
        note(f"{failed} file(s) could not be hashed (see above)", style="red")
        raise typer.Exit(EXIT_ERROR)


app.command(name="hash")(hash_command)
