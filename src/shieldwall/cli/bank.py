"""``shieldwall bank``: hash banks of known material (principle 1)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from shieldwall.banks import io, repository, service
from shieldwall.banks.schemas import (
    BankAction,
    BankCreate,
    BankKind,
    BankOut,
    FileFormat,
    ImportReport,
)
from shieldwall.cli.console import err, load, note, open_database, out, validated, when
from shieldwall.cli.files import open_input_file, writing
from shieldwall.core.access import Principal

app = typer.Typer(
    help=(
        "Create, inspect, import into, export and delete hash banks.\n\n"
        "A block bank holds hashes of verified material: a match asks the platform to block "
        "or to send for review. An allow bank holds known false positives and wins over "
        "block banks. Every change is recorded in the event log as done by `system:cli`."
    ),
    no_args_is_help=True,
)
ACTOR = Principal.system("cli")
BankName = Annotated[str, typer.Argument(help="The bank's name, e.g. NCMEC_CSAM.")]
#: How many rejected lines `bank import` prints.
SHOWN_REJECTIONS = 20


def _counts_text(bank: BankOut) -> str:
    parts = []
    for signal_type, c in sorted(bank.counts.items()):
        text = f"{signal_type} {c.active:,}"
        if c.disabled:
            text += f" (+{c.disabled:,} disabled)"
        parts.append(text)
    return ", ".join(parts) or "empty"


@app.command()
def create(
    name: BankName,
    kind: Annotated[BankKind, typer.Option(help="block, or allow for known false positives.")] = (
        BankKind.BLOCK
    ),
    action: Annotated[
        BankAction | None,
        typer.Option(help="Block banks: what a match asks for (default block)."),
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option(help="An allowed entry label, e.g. A1; repeat for several."),
    ] = None,
    pdq_threshold: Annotated[
        int, typer.Option(min=0, max=64, help="Largest PDQ distance that matches.")
    ] = 31,
    description: Annotated[str, typer.Option(help="What the bank holds and where from.")] = "",
    dihedral: Annotated[bool, typer.Option(help="Also match rotated and flipped images.")] = False,
    letterbox: Annotated[
        bool, typer.Option(help="Also match images with borders removed.")
    ] = False,
) -> None:
    """Create a bank.

    Names follow HMA: upper-case letters, digits and _, not starting with a digit.

    Examples:

        shieldwall bank create NCMEC_CSAM --label A1 --label A2 --label B1 --label B2
        shieldwall bank create FALSE_POSITIVES --kind allow
        shieldwall bank create REVIEW_FIRST --action review --pdq-threshold 20
    """
    data = validated(
        BankCreate,
        name=name,
        kind=kind,
        action=action,
        labels=label or [],
        pdq_threshold=pdq_threshold,
        description=description,
        dihedral=dihedral,
        letterbox=letterbox,
    )
    settings = load()
    with open_database(settings) as db, db.session() as session:
        bank = service.create_bank(session, data, actor=ACTOR)
        summary = f"created {bank.kind} bank {bank.name} (id {bank.id})"
    note(summary, style="green")


@app.command("list")
def list_banks() -> None:
    """List banks with their settings and active entries by signal type.

    Example:

        shieldwall bank list
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        banks = service.describe(session, repository.list_banks(session))
    table = Table(title=f"{len(banks)} bank(s)")
    for column in ("name", "kind", "action", "enabled", "labels", "entries", "pdq ≤", "created"):
        table.add_column(column, overflow="fold", no_wrap=column in {"name", "kind"})
    for b in banks:
        table.add_row(
            b.name,
            b.kind.value,
            b.action.value if b.action else "—",
            "yes" if b.enabled else "no",
            " ".join(b.labels) or "—",
            _counts_text(b),
            str(b.pdq_threshold),
            when(b.created_at),
        )
    out().print(table)


@app.command()
def show(name: BankName) -> None:
    """Show one bank: settings, and entries by signal type (active, disabled, removed).

    Example:

        shieldwall bank show NCMEC_CSAM
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        bank = service.describe(session, [service.get_bank(session, name)])[0]
    settings_table = Table(title=f"bank {bank.name}", show_header=False)
    settings_table.add_column("setting", no_wrap=True)
    settings_table.add_column("value", overflow="fold")
    rows = [
        ("id", str(bank.id)),
        ("kind", bank.kind.value),
        ("action", bank.action.value if bank.action else "—"),
        ("enabled", "yes" if bank.enabled else "no"),
        ("description", bank.description or "—"),
        ("labels", " ".join(bank.labels) or "any"),
        ("pdq threshold", str(bank.pdq_threshold)),
        ("vpdq distance", str(bank.vpdq_distance)),
        ("vpdq query / target %", f"{bank.vpdq_query_pct:g} / {bank.vpdq_target_pct:g}"),
        ("dihedral", "on" if bank.dihedral else "off"),
        ("letterbox", "on" if bank.letterbox else "off"),
        ("created", when(bank.created_at)),
        ("updated", when(bank.updated_at)),
    ]
    for key, value in rows:
        settings_table.add_row(key, value)
    out().print(settings_table)
    counts = Table(title="entries")
    for column in ("signal type", "active", "disabled", "removed"):
        counts.add_column(column, justify="left" if column == "signal type" else "right")
    for signal_type, c in sorted(bank.counts.items()):
        counts.add_row(signal_type, f"{c.active:,}", f"{c.disabled:,}", f"{c.removed:,}")
    out().print(counts)


def _print_report(report: ImportReport) -> None:
    note(
        f"{report.bank}: {report.added:,} added, {report.duplicates:,} duplicate(s), "
        f"{report.revived:,} revived, {report.rejected:,} rejected "
        f"({report.lines:,} lines, {report.bytes_read:,} bytes)",
        style="green" if not report.rejected else "",
    )
    if report.rejected:
        note(
            f"warning: {report.rejected:,} line(s) were rejected and not imported; "
            "the rest was imported. First rejected lines:",
            style="yellow",
        )
        for rejection in report.rejections[:SHOWN_REJECTIONS]:
            note(f"  {rejection}", style="yellow")
        if report.rejected > SHOWN_REJECTIONS:
            note(f"  ... and {report.rejected - SHOWN_REJECTIONS:,} more", style="yellow")


@app.command("import")
def import_file(
    name: BankName,
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The file.")
    ],
    format: Annotated[
        str,
        typer.Option(
            help="auto (by extension: .csv .jsonl .ndjson .txt), csv, jsonl or local_file."
        ),
    ] = "auto",
    max_rejected: Annotated[
        int | None,
        typer.Option(
            min=0,
            help="Stop (importing nothing) after this many rejected lines; "
            "default: the import_max_rejected setting.",
        ),
    ] = None,
) -> None:
    """Import a bank file: CSV, JSON Lines or python-threatexchange's local_file.

    CSV: header signal_type,value,labels,source_record_id,quality (labels separated by
    spaces). JSON Lines: one object per line with those keys. local_file: one
    "<signal_type> <value>" per line; blank lines and # comments are skipped.

    All or nothing: malformed lines are rejected and listed with their line numbers, the
    rest is imported in one transaction (exit status 0, with a warning). An unreadable
    file or too many rejected lines import nothing (exit status 2). Entries already in the
    bank are counted as duplicates; removed ones are revived.

    Examples:

        shieldwall bank import NCMEC_CSAM hashes.csv
        shieldwall bank import MY_BANK signals.txt --format local_file
    """
    fmt = io.resolve_format(format, file.name)
    settings = load()
    limits = io.ImportLimits(
        max_rejected=settings.import_max_rejected if max_rejected is None else max_rejected
    )
    with (
        open_input_file(file, "bank file") as (stream, size),
        open_database(settings) as db,
        db.session() as session,
        Progress(
            TextColumn("importing {task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=err(),
            transient=True,
        ) as bar,
    ):
        task = bar.add_task(file.name, total=size or None)
        report = io.import_entries(
            session,
            name,
            stream,
            fmt,
            actor=ACTOR,
            limits=limits,
            progress=lambda done: bar.update(task, completed=done),
        )
    _print_report(report)


@app.command()
def export(
    name: BankName,
    format: Annotated[FileFormat, typer.Option(help="csv, jsonl or local_file.")] = (
        FileFormat.CSV
    ),
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", dir_okay=False, help="Write here instead of stdout."),
    ] = None,
) -> None:
    """Export a bank's entries (removed ones left out) as CSV, JSON Lines or local_file.

    Importing the file into a bank gives back the same entries (local_file keeps only
    signal type and value).

    Examples:

        shieldwall bank export NCMEC_CSAM -o ncmec.csv
        shieldwall bank export MY_BANK --format local_file > signals.txt
    """
    settings = load()
    written = 0
    with open_database(settings) as db, db.session() as session:
        bank = service.get_bank(session, name)
        if output is None:
            sink = sys.stdout.buffer
            for chunk in io.export_entries(session, bank, format):
                sink.write(chunk)
                written += len(chunk)
            sink.flush()
        else:
            with writing(output) as fh:
                for chunk in io.export_entries(session, bank, format):
                    fh.write(chunk)
                    written += len(chunk)
    if output is not None:
        note(f"exported {name} to {output} ({written:,} bytes)", style="green")


@app.command()
def delete(
    name: BankName,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a bank. Its entries are removed from every server's index at once.

    The bank and its entries stay in the database, marked deleted, for the record; the name
    can be used again.

    Example:

        shieldwall bank delete OLD_LIST --yes
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        bank = service.get_bank(session, name)
        if not yes:
            typer.confirm(f"Delete bank {bank.name} and remove all its entries?", abort=True)
        _bank, removed = service.delete_bank(session, name, actor=ACTOR)
    note(f"deleted bank {name}; {removed:,} entries removed", style="green")
