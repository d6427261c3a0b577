"""``shieldwall reports``: reports to the authorities (CyberTipline, hotlines).

Reports are queued by violating decisions and sent by the outbox worker (in the server or
``shieldwall jobs run``). These commands show them, send a refused or given-up one again,
and retract one. They act as ``system:cli``.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from shieldwall.cli.console import load, note, open_database, out, when
from shieldwall.core.access import Principal
from shieldwall.reporting import destinations, service
from shieldwall.reporting.schemas import ReportStatus

app = typer.Typer(
    help="Reports to the authorities: list, show, retry and retract (sent by the outbox worker).",
    no_args_is_help=True,
)
ACTOR = Principal.system("cli")


@app.command("list")
def list_reports(
    status: Annotated[ReportStatus | None, typer.Option(help="Only reports in this state.")] = None,
    destination: Annotated[str | None, typer.Option(help="Only this destination.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Reports, newest first, with their state in plain words.

    Example: shieldwall reports list --status failed
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        reports, _ = service.list_reports(
            session,
            settings,
            status=status.value if status else None,
            destination=destination,
            limit=limit,
        )
    if as_json:
        out().print_json(json.dumps([r.model_dump(mode="json") for r in reports]))
        return
    if not reports:
        note("no reports")
        return
    table = Table("id", "destination", "cases", "files", "status", "NCMEC/dest. id", "queued")
    for r in reports:
        table.add_row(
            str(r.id),
            r.destination,
            ", ".join(str(c) for c in r.case_ids),
            f"{r.files_held}/{r.file_count} held",
            r.status_words + (f" — {r.last_error}" if r.last_error else ""),
            r.external_id or "-",
            when(r.created_at),
        )
    out().print(table)


@app.command()
def show(
    report_id: Annotated[int, typer.Argument(min=1, max=2**63 - 1)],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """One report: its state, every step of its lifecycle, and what is missing."""
    settings = load()
    with open_database(settings) as db, db.session() as session:
        report = service.to_out(session, settings, service.get_report(session, report_id))
    if as_json:
        out().print_json(report.model_dump_json())
        return
    console = out()
    console.print(f"report {report.id} to {report.destination} ({report.environment})")
    console.print(f"  cases: {', '.join(str(c) for c in report.case_ids)}")
    console.print(f"  status: {report.status} — {report.status_words}")
    if report.external_id:
        console.print(f"  destination's id: {report.external_id}")
    console.print(f"  files: {report.file_count} ({report.files_held} held and uploaded)")
    if report.last_error:
        console.print(f"  last error: {report.last_error}")
    for missing in report.missing:
        console.print(f"  missing: {missing}", style="yellow")
    for step in report.steps:
        console.print(f"  {when(step.at)}  {step.words}")


@app.command()
def retry(report_id: Annotated[int, typer.Argument(min=1, max=2**63 - 1)]) -> None:
    """Send a refused or given-up report again, from its last completed step."""
    settings = load()
    with open_database(settings) as db, db.session() as session:
        report = service.retry(session, settings, report_id, actor=ACTOR)
        note(f"report {report.id} queued again; the outbox worker sends it")


@app.command()
def retract(report_id: Annotated[int, typer.Argument(min=1, max=2**63 - 1)]) -> None:
    """Withdraw a report: never sent if it was waiting; retracted at NCMEC if it was
    submitted but not finished. A finished report cannot be retracted through the API."""
    settings = load()
    with open_database(settings) as db, db.session() as session:
        report = service.retract(session, settings, report_id, actor=ACTOR)
        note(f"report {report.id} retracted")


@app.command("destinations")
def list_destinations() -> None:
    """Where reports can go, and what each still needs in the configuration."""
    settings = load()
    table = Table("name", "title", "missing")
    for d in destinations.describe(settings):
        table.add_row(d["name"], d["title"], "; ".join(d["missing"]) or "nothing")
    out().print(table)
