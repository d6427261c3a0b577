"""``shieldwall accountability``: the industry accountability tracker's data."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shieldwall.accountability import analysis, exports, importing, service
from shieldwall.accountability.schemas import FileReport
from shieldwall.cli.console import EXIT_ERROR, err, load, note, open_database, out
from shieldwall.cli.files import read_input_file, writing
from shieldwall.core.access import Principal
from shieldwall.core.errors import InvalidInput

app = typer.Typer(
    help=(
        "Load, export and check the industry accountability tracker: commitments to the "
        "Voluntary Principles, NCMEC's CyberTipline counts, companies' own disclosures, and "
        "the audit of whether they add up. Changes are recorded as done by `system:cli`."
    ),
    no_args_is_help=True,
)
ACTOR = Principal.system("cli")


def _print_report(report: FileReport) -> None:
    if report.errors:
        note(f"{report.dataset}: NOT applied", style="red")
        for e in report.errors[:20]:
            err().print(f"  line {e.line}: {e.message}", markup=False, soft_wrap=True)
        return
    if not report.applied:
        note(f"{report.dataset}: {'; '.join(report.skipped)}", style="yellow")
        return
    note(
        f"{report.dataset}: {report.rows} rows, {report.added} added, {report.changed} changed, "
        f"{report.unchanged} unchanged"
    )
    for s in report.skipped[:5]:
        note(f"  note: {s}")


@app.command("import")
def import_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="By-hand CSV/JSON files or transparency reports (JSON)."),
    ] = None,
    reference: Annotated[
        bool,
        typer.Option(help="Load the shared reference data folder (the default with no files)."),
    ] = False,
    data_dir: Annotated[
        Path | None,
        typer.Option(help="Reference folder (default: the accountability_data_dir setting)."),
    ] = None,
    source_url: Annotated[
        str, typer.Option(help="Where a transparency report is published (its facts' source).")
    ] = "",
) -> None:
    """Import data. Each file is all or nothing: a malformed line is printed with its line
    number and nothing of that file is stored. Importing the same file again changes nothing.

    Examples:

        shieldwall accountability import --reference
        shieldwall accountability import evidence.csv commitments.csv
        shieldwall accountability import report-2024-h1.json --source-url https://example.org/t.json
    """
    settings = load()
    failed = 0
    with open_database(settings) as db:
        if reference or not paths:
            folder = data_dir or settings.resolved_accountability_data_dir
            if not folder.is_dir():
                raise InvalidInput(f"no reference data folder at {folder}")
            with db.session() as session:
                summary = importing.import_reference(session, folder, actor=ACTOR)
            for report in summary.files:
                _print_report(report)
                failed += bool(report.errors)
            note(f"{summary.unmapped_ncmec_names} NCMEC name(s) are not mapped to a company")
        for path in paths or []:
            try:
                data = read_input_file(path, settings.import_max_bytes)
                with db.session() as session:
                    report = importing.import_file(
                        session, data, path.name, actor=ACTOR, source_url=source_url
                    )
            except InvalidInput as exc:
                failed += 1
                note(f"{path}: NOT applied", style="red")
                for e in exc.context.get("errors", [])[:20] or [
                    {"line": 0, "message": exc.message}
                ]:
                    err().print(f"  line {e['line']}: {e['message']}", markup=False, soft_wrap=True)
                continue
            _print_report(report)
    if failed:
        raise typer.Exit(EXIT_ERROR)


@app.command("export")
def export_command(
    table: Annotated[
        str | None,
        typer.Option(
            help=f"One table as CSV: {', '.join(exports.TABLES)}. "
            "Default: all editable data as JSON."
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--out", help="File to write (default: standard output).")
    ] = None,
) -> None:
    """Export the tracker. The JSON (and each editable table's CSV) is the by-hand import
    format, so it imports back unchanged.

    Examples:

        shieldwall accountability export --out accountability.json
        shieldwall accountability export --table audit --out audit.csv
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        if table:
            cols, rows = exports.table(session, table, settings.accountability_audit_tolerance)
            text = exports.to_csv(cols, rows)
        else:
            text = exports.to_json(session)
    if output is None:
        sys.stdout.write(text)
    else:
        with writing(output) as fh:
            fh.write(text.encode("utf-8"))
        note(f"wrote {output}")


@app.command("audit")
def audit_command() -> None:
    """Print each company's consistency verdict (self-reported vs NCMEC).

    Example:

        shieldwall accountability audit
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        result = analysis.audit(session, settings.accountability_audit_tolerance)
        rows = [(c.name, a.verdict, a.reason) for c, a in result.companies]
        counts = result.counts()
    table = Table(title=f"consistency audit (tolerance {result.tolerance:.1%})")
    for column in ("company", "verdict", "reason"):
        table.add_column(column, overflow="fold")
    for name, verdict, reason in rows:
        table.add_row(name, verdict.replace("_", " "), reason)
    out().print(table)
    note(", ".join(f"{v.replace('_', ' ')}: {n}" for v, n in counts.items()))


@app.command("unmapped")
def unmapped_command() -> None:
    """List NCMEC names no alias maps to a company (most reports first).

    Example:

        shieldwall accountability unmapped
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        names = service.unmapped_names(session)
    for u in names:
        out().print(f"{u.reports:>10,}  {' '.join(map(str, u.years)):<24}  {u.name}", markup=False)
    note(f"{len(names)} unmapped name(s)")
