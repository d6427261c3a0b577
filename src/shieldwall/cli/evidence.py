"""``shieldwall evidence``: the evidence vault (list, show, export, verify, purge, legal hold,
key rotation). Every command acts as ``system:cli``; reads are logged as events."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shieldwall.cli.console import fail, load, note, open_database, out, when
from shieldwall.core.access import Principal
from shieldwall.core.errors import InvalidInput
from shieldwall.evidence import service

app = typer.Typer(
    help=(
        "The evidence vault: content and report data preserved when a case is decided "
        "violating or reported, sealed under <data_dir>/evidence, kept "
        "evidence_retention_days (legal holds block deletion). See docs/evidence.md."
    ),
    no_args_is_help=True,
)

CLI = Principal.system("cli")
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
EvidenceId = Annotated[int, typer.Argument(min=1, max=2**63 - 1, help="The evidence item's id.")]
Reason = Annotated[
    str, typer.Option("--reason", help="Why (the legal matter); kept with the hold.")
]


@app.command("list")
def list_items(
    case: Annotated[
        int | None, typer.Option("--case", min=1, max=2**31 - 1, help="Only this case.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="How many to show.")] = 200,
    as_json: AsJson = False,
) -> None:
    """Evidence items (metadata only: never content or report data).

    Examples:

        shieldwall evidence list
        shieldwall evidence list --case 12 --json
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        rows = service.describe(session, service.list_items(session, case_id=case, limit=limit))
    if as_json:
        out().print_json(json.dumps([r.model_dump(mode="json") for r in rows]))
        return
    table = Table(title=f"{len(rows)} evidence item(s)")
    for column in ("id", "case", "media", "report", "file", "hold", "retain until"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            str(r.id),
            str(r.case_id),
            str(r.media_id) if r.media_id is not None else "—",
            str(r.report_id) if r.report_id is not None else "—",
            f"held ({r.content_size:,} bytes)" if r.file_held else "no file held",
            "legal hold" if r.legal_hold else "—",
            when(r.retain_until),
        )
    out().print(table)


@app.command()
def show(
    evidence_id: EvidenceId,
    data: Annotated[
        bool, typer.Option("--data", help="Also print the preserved report data (logged).")
    ] = False,
) -> None:
    """One item's metadata and legal holds; with --data, its report-data document too.

    Example:

        shieldwall evidence show 4 --data
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        (item,) = service.describe(session, [service.get(session, evidence_id)])
        holds = service.holds_of(session, evidence_id)
        document = service.read_data(session, settings, evidence_id, actor=CLI) if data else None
    body = item.model_dump(mode="json")
    body["holds"] = [h.model_dump(mode="json") for h in holds]
    if document is not None:
        body["data"] = document
    out().print_json(json.dumps(body, ensure_ascii=False))


@app.command()
def export(
    evidence_id: EvidenceId,
    output: Annotated[Path, typer.Argument(help="File to write (must not exist).")],
) -> None:
    """Write the preserved file's bytes to OUTPUT (mode 0600), checked against its SHA-256.
    The read is logged as an evidence.read event.

    Example:

        shieldwall evidence export 4 /secure/evidence-4.bin
    """
    settings = load()
    if output.exists():
        fail(f"{output} exists; choose a new file name")
    with open_database(settings) as db, db.session() as session:
        content = service.read_bytes(session, settings, evidence_id, actor=CLI)
        digest = service.get(session, evidence_id).content_sha256
    try:
        fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(content)
    except OSError as exc:
        raise InvalidInput(f"cannot write {output} ({exc.strerror or exc})") from None
    out().print(f"wrote {len(content):,} bytes to {output} (SHA-256 {digest})")


@app.command()
def verify() -> None:
    """Check that every item's file and report data decrypt and match their SHA-256.

    Exits 1 and names each item that fails (tampered, missing file, unknown key).

    Example:

        shieldwall evidence verify
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        result = service.verify(session, settings, actor=CLI)
    for problem in result.failures:
        note(f"evidence {problem.evidence_id} ({problem.part}): {problem.problem}", style="red")
    if result.failures:
        failed = len({p.evidence_id for p in result.failures})
        fail(f"{failed} of {result.checked} evidence item(s) failed verification")
    out().print(f"verified {result.checked} evidence item(s): all intact")


@app.command()
def purge() -> None:
    """Delete evidence past its retention date that is not under legal hold.

    Run it daily (cron, a systemd timer). Files are removed after the database commit; an
    interrupted run leaves nothing the next run does not finish.

    Example:

        shieldwall evidence purge
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        result = service.purge_expired(session, settings, actor=CLI)
    out().print(
        f"purged {result.purged} evidence item(s); {result.held_skipped} past retention kept "
        f"under legal hold; {result.orphan_files} orphan file(s) removed"
    )


@app.command()
def hold(evidence_id: EvidenceId, reason: Reason) -> None:
    """Place a legal hold: the item is not deleted, whatever its retention date.

    Example:

        shieldwall evidence hold 4 --reason "preservation request 2026-114"
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        service.place_hold(session, evidence_id, reason=reason, actor=CLI)
    out().print(f"evidence {evidence_id} is under legal hold")


@app.command()
def release(evidence_id: EvidenceId, reason: Reason) -> None:
    """Release a legal hold: the item is purged once its retention date passes.

    Example:

        shieldwall evidence release 4 --reason "matter closed"
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        service.release_hold(session, evidence_id, reason=reason, actor=CLI)
    out().print(f"evidence {evidence_id}: legal hold released")


@app.command()
def rotate() -> None:
    """Re-wrap every item sealed under an older master key with the current one, then show
    how many items each key wraps.

    After a rotation: set the new key as SHIELDWALL_MASTER_KEY and the old one in
    SHIELDWALL_PREVIOUS_MASTER_KEYS, run this (and `shieldwall media rewrap`), and drop the
    old key once only the current one is listed. Ciphertext is not re-encrypted.

    Example:

        shieldwall evidence rotate
    """
    settings = load()
    current = settings.resolved_keyring().current_id.hex()
    with open_database(settings) as db, db.session() as session:
        done = service.rewrap_all(session, settings, actor=CLI)
        counts = service.objects_by_key(session)  # rewrap_all flushed: counts are current
    out().print(f"re-wrapped {done} evidence item(s) under the current master key")
    for key, count in sorted(counts.items()):
        marker = " (current)" if key == current else ""
        out().print(f"{key}{marker}: {count}")
