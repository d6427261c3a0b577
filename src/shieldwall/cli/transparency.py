"""``shieldwall transparency``: transparency reports from the event log (principle 11)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shieldwall.cli.console import load, note, open_database, out
from shieldwall.cli.files import writing
from shieldwall.core.access import Principal
from shieldwall.transparency import dsa, exports, repository, service
from shieldwall.transparency.metrics import METRICS
from shieldwall.transparency.periods import resolve

app = typer.Typer(
    help=(
        "Transparency reports computed from the event log: every number has a printed "
        "definition and can be traced to the events behind it (`explain`). Counts below "
        "transparency_suppression_floor are shown as 'fewer than N'. See docs/transparency.md."
    ),
    no_args_is_help=True,
)

ACTOR = Principal.system("cli")
From = Annotated[
    str | None,
    typer.Option("--from", help="First day (YYYY-MM-DD, UTC). Default: this half-year's."),
]
To = Annotated[
    str | None, typer.Option("--to", help="Last day, included. Default: the half-year's end.")
]


class Format(StrEnum):
    JSON = "json"
    CSV = "csv"
    HTML = "html"


def _write(text: str, path: Path | None) -> None:
    if path is None:
        typer.echo(text, nl=not text.endswith("\n"))
        return
    data = text.encode("utf-8")
    with writing(path, parents=True) as fh:
        fh.write(data)
    note(f"wrote {path} ({len(data):,} bytes)")


@app.command()
def report(
    start: From = None,
    end: To = None,
    fmt: Annotated[Format, typer.Option("--format", help="json, csv or html.")] = Format.JSON,
    path: Annotated[
        Path | None, typer.Option("--out", help="File to write; default stdout.")
    ] = None,
) -> None:
    """Compute the report for a period (a half-year by default) as JSON, CSV or HTML.

    The JSON validates against schemas/transparency-report.schema.json; the HTML is one
    self-contained page with its charts (no scripts, no external files)."""
    settings = load()
    with open_database(settings) as db, db.session() as session:
        period = resolve(start, end, today=service.today())
        document = service.build_report(session, settings, period)
    if fmt is Format.JSON:
        _write(json.dumps(document, indent=2, ensure_ascii=False) + "\n", path)
    elif fmt is Format.CSV:
        _write(exports.to_csv(document), path)
    else:
        from shieldwall.web.transparency import render_offline

        _write(render_offline(document), path)


@app.command()
def explain(
    metric: Annotated[str, typer.Argument(help="A metric id; `shieldwall transparency metrics`.")],
    start: From = None,
    end: To = None,
    limit: Annotated[int, typer.Option(min=1, help="Most events to list.")] = 200,
) -> None:
    """List the events a number was computed from (the raw number, before suppression).

    For staff: it names subjects such as case:12, never actors."""
    settings = load()
    with open_database(settings) as db, db.session() as session:
        period = resolve(start, end, today=service.today())
        found = service.explain(session, metric, period, limit=limit)
        rows = [(e.id, e.occurred_at, e.kind, e.subject, e.payload) for e in found.events]
    console = out()
    console.print(f"[bold]{found.metric.id}[/]: {found.metric.label}")
    console.print(found.metric.definition)
    value = "none (nothing measured)" if found.value is None else f"{found.value:g}"
    console.print(
        f"period {period.start} to {period.end}: value {value} "
        f"({found.samples:,} item(s), {found.event_count:,} event(s))"
    )
    table = Table("event", "occurred at (UTC)", "kind", "subject", "payload")
    for event_id, at, kind, subject, payload in rows:
        table.add_row(
            str(event_id),
            at.strftime("%Y-%m-%d %H:%M:%S"),
            kind,
            subject,
            json.dumps(payload, sort_keys=True)[:120],
        )
    console.print(table)
    if found.event_count > len(rows):
        note(f"{found.event_count - len(rows):,} more event(s) not shown; raise --limit")


@app.command(name="metrics")
def list_metrics() -> None:
    """Every metric with its definition and principles."""
    table = Table("id", "unit", "principles", "definition")
    for m in METRICS:
        table.add_row(m.id, m.unit, " ".join(map(str, m.principles)), m.definition)
    out().print(table)


@app.command()
def statements(
    start: From = None,
    end: To = None,
    path: Annotated[
        Path | None, typer.Option("--out", help="File to write; default stdout.")
    ] = None,
) -> None:
    """EU DSA statements of reasons, one per violating decision of the period, in the DSA
    Transparency Database API's format (send them in batches of 100 to
    POST /api/v1/statements). The field mapping and its gaps: docs/transparency.md."""
    settings = load()
    with open_database(settings) as db, db.session() as session:
        period = resolve(start, end, today=service.today())
        body = dsa.export(session, period)
    _write(json.dumps(body, indent=2, ensure_ascii=False) + "\n", path)


@app.command()
def publish(start: From = None, end: To = None) -> None:
    """Keep the report for a period exactly as computed now (event transparency.published);
    `shieldwall transparency published` lists what was published."""
    settings = load()
    with open_database(settings) as db, db.session() as session:
        period = resolve(start, end, today=service.today())
        row = service.publish(session, settings, period, actor=ACTOR)
        note(f"published report {row.id} for {period.label} (sha256 {row.sha256[:16]}...)")


@app.command()
def published(
    show: Annotated[
        int | None,
        typer.Option("--show", min=1, max=2**63 - 1, help="Print this report's JSON."),
    ] = None,
) -> None:
    """Published reports, newest first (or one of them as JSON with --show ID)."""
    settings = load()
    with open_database(settings) as db, db.session() as session:
        if show is not None:
            typer.echo(json.dumps(service.get_published(session, show).document, indent=2))
            return
        table = Table("id", "period", "published at (UTC)", "sha256")
        for row in repository.list_published(session):
            table.add_row(
                str(row.id),
                f"{row.period_start} to {row.period_end}",
                row.published_at.strftime("%Y-%m-%d %H:%M"),
                row.sha256,
            )
    out().print(table)
