"""``shieldwall exchange``: hash exchanges (principle 10): sources fetched into banks, and
banks shared with partners."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from shieldwall.cli.console import fail, load, note, open_database, out, validated, when
from shieldwall.cli.files import read_input_file
from shieldwall.core.access import Principal
from shieldwall.core.errors import InvalidInput
from shieldwall.exchanges import repository, runner, service
from shieldwall.exchanges.schemas import ExchangeCreate, ExchangeType, RunOut, RunTrigger

app = typer.Typer(
    help=(
        "Hash exchanges: fetch NCMEC, StopNCII, ThreatExchange, partner shieldwall "
        "deployments and plain lists into banks, and share banks with partners.\n\n"
        "Credentials are stored encrypted and never shown again. Every change and every "
        "fetch is recorded in the event log. See docs/exchanges.md."
    ),
    no_args_is_help=True,
)
ACTOR = Principal.system("cli")
#: A credentials file holds a few keys and tokens; anything far larger is the wrong file.
CREDENTIALS_MAX_BYTES = 1_048_576
Name = Annotated[str, typer.Argument(help="The exchange's name, e.g. ncmec-industry.")]


def _pairs(values: list[str] | None, what: str) -> dict[str, Any]:
    """``key=value`` options; values that read as JSON (numbers, lists, true) are taken so."""
    out_: dict[str, Any] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"--{what} takes key=value, got {item[:40]!r}")
        try:
            out_[key.strip()] = json.loads(value)
        except ValueError:
            out_[key.strip()] = value
    return out_


def _run_line(run: RunOut | None) -> str:
    if run is None:
        return "never run"
    text = (
        f"{run.status.value} {when(run.started_at)}: {run.records:,} records, +{run.added:,} "
        f"-{run.removed:,} ~{run.updated:,}, {run.quarantined:,} quarantined"
    )
    return f"{text}; {run.error}" if run.error else text


@app.command()
def add(
    name: Name,
    type: Annotated[ExchangeType, typer.Option("--type", help="The source's type.")],
    bank: Annotated[str, typer.Option(help="The bank fetched records go into.")],
    setting: Annotated[
        list[str] | None, typer.Option(help="A setting as key=value; repeat for several.")
    ] = None,
    credential: Annotated[
        list[str] | None,
        typer.Option(
            help="A credential as key=value (prefer --credentials-file: command "
            "lines can end up in shell history)."
        ),
    ] = None,
    credentials_file: Annotated[
        Path | None, typer.Option(help="A JSON object of credentials.", exists=True)
    ] = None,
    schedule_minutes: Annotated[
        int, typer.Option(min=0, help="Fetch every this many minutes; 0: by hand only.")
    ] = 60,
    time_limit: Annotated[int, typer.Option(min=5, help="Seconds a run may take.")] = 600,
    label: Annotated[
        list[str] | None, typer.Option(help="A label added to every entry; repeat.")
    ] = None,
    feedback: Annotated[
        bool, typer.Option(help="Send reviewers' decisions back (ncmec, stop_ncii).")
    ] = False,
    enabled: Annotated[bool, typer.Option(help="Fetch on schedule.")] = True,
) -> None:
    """Add an exchange bound to a bank.

    Examples:

        shieldwall exchange add ncmec-industry --type ncmec --bank NCMEC_CSAM \\
            --setting environment=Industry --credentials-file ncmec.json
        shieldwall exchange add stopncii --type stop_ncii --bank STOP_NCII \\
            --credentials-file stopncii.json --label ncii
        shieldwall exchange add partner --type shieldwall --bank FROM_PARTNER \\
            --setting url=https://sw.partner.example --setting bank=SHARED \\
            --setting public_key=ed25519:... --credentials-file partner.json
    """
    secrets = _pairs(credential, "credential")
    if credentials_file is not None:
        try:
            loaded = json.loads(
                read_input_file(credentials_file, CREDENTIALS_MAX_BYTES, "credentials file")
            )
        except ValueError as exc:
            raise InvalidInput(f"{credentials_file} is not a JSON object ({exc})") from None
        if not isinstance(loaded, dict):
            raise InvalidInput(f"{credentials_file} is not a JSON object")
        secrets.update(loaded)
    data = validated(
        ExchangeCreate,
        name=name,
        type=type,
        bank=bank,
        settings=_pairs(setting, "setting"),
        credentials=secrets or None,
        schedule_minutes=schedule_minutes,
        time_limit_seconds=time_limit,
        labels=label or [],
        feedback=feedback,
        enabled=enabled,
    )
    settings = load()
    with open_database(settings) as db, db.session() as session:
        exchange = service.create_exchange(session, settings, data, actor=ACTOR)
        summary = f"added {exchange.type} exchange {exchange.name} (id {exchange.id})"
    note(summary, style="green")


@app.command("list")
def list_exchanges() -> None:
    """List exchanges with their bank, schedule and last run."""
    settings = load()
    with open_database(settings) as db, db.session() as session:
        items = service.describe(session, repository.list_exchanges(session))
    table = Table(title=f"{len(items)} exchange(s)")
    for column in (
        "name",
        "type",
        "bank",
        "enabled",
        "every",
        "records",
        "quarantined",
        "last run",
    ):
        table.add_column(column)
    for e in items:
        table.add_row(
            e.name,
            e.type.value,
            e.bank,
            "yes" if e.enabled else "no",
            f"{e.schedule_minutes} min" if e.schedule_minutes else "by hand",
            f"{e.records:,}",
            f"{e.quarantined:,}",
            _run_line(e.last_run),
        )
    out().print(table)


@app.command()
def fetch(
    name: Name,
    time_limit: Annotated[
        int | None,
        typer.Option(min=1, help="Seconds this run may take (default: the exchange's own limit)."),
    ] = None,
    max_pages: Annotated[int | None, typer.Option(min=1, help="Stop after this many pages.")] = (
        None
    ),
) -> None:
    """Fetch an exchange now, in this process (exit status 1 when the fetch failed).

    Example:

        shieldwall exchange fetch ncmec-industry --time-limit 3600
    """
    settings = load()

    def progress(totals: Any) -> None:
        note(
            f"  {totals.records:,} records: +{totals.added:,} -{totals.removed:,}, "
            f"{totals.quarantined:,} quarantined"
        )

    with open_database(settings) as db:
        run = runner.run_fetch(
            db,
            settings,
            name,
            runner.RunOptions(
                trigger=RunTrigger.CLI,
                time_limit=time_limit,
                max_pages=max_pages,
                progress=progress,
            ),
        )
    line = f"{name}: {_run_line(run)}"
    if run.status.value == "failed":
        fail(line)
    note(line, style="green" if run.status.value == "succeeded" else "yellow")


@app.command()
def status(
    name: Name,
    runs: Annotated[int, typer.Option(min=1, max=100, help="How many runs to show.")] = 10,
) -> None:
    """An exchange's recent runs and quarantined records."""
    settings = load()
    with open_database(settings) as db, db.session() as session:
        report = service.status(session, name, runs=runs, quarantine=50)
    e = report.exchange
    out().print(
        f"{e.name} ({e.type.value}) -> bank {e.bank}; "
        f"{'enabled' if e.enabled else 'disabled'}; "
        f"{'every ' + str(e.schedule_minutes) + ' min' if e.schedule_minutes else 'by hand'}; "
        f"next run {when(e.next_run_at)}; credentials {'set' if e.credentials_set else 'none'}; "
        f"{e.records:,} records held",
        markup=False,
    )
    table = Table(title="runs")
    for column in (
        "id",
        "trigger",
        "status",
        "started",
        "pages",
        "records",
        "added",
        "removed",
        "updated",
        "quarantined",
        "error",
    ):
        table.add_column(column)
    for r in report.runs:
        table.add_row(
            str(r.id),
            r.trigger.value,
            r.status.value,
            when(r.started_at),
            str(r.pages),
            f"{r.records:,}",
            f"{r.added:,}",
            f"{r.removed:,}",
            f"{r.updated:,}",
            f"{r.quarantined:,}",
            r.error or "",
        )
    out().print(table)
    if report.quarantine:
        q = Table(title=f"quarantine ({e.quarantined:,})")
        for column in ("record", "reason", "times", "last seen"):
            q.add_column(column)
        for item in report.quarantine:
            q.add_row(item.record_id, item.reason, str(item.times), when(item.last_seen))
        out().print(q)


@app.command()
def delete(
    name: Name,
    keep_entries: Annotated[
        bool,
        typer.Option(
            "--keep-entries",
            help="Keep the entries it brought in the bank (by default the ones no other "
            "exchange brought and nobody added by hand are withdrawn).",
        ),
    ] = False,
) -> None:
    """Delete an exchange; the entries only it brought are withdrawn in the background by
    the outbox worker (`shieldwall jobs list` shows the exchange.withdraw job)."""
    settings = load()
    with open_database(settings) as db, db.session() as session:
        service.delete_exchange(session, name, actor=ACTOR, keep_entries=keep_entries)
    if keep_entries:
        note(f"deleted exchange {name}; the entries it brought stay in the bank", style="green")
    else:
        note(
            f"deleted exchange {name}; the entries only it brought are being withdrawn in the "
            "background (shieldwall jobs list)",
            style="green",
        )


@app.command()
def share(bank: Annotated[str, typer.Argument(help="The bank to publish.")]) -> None:
    """Share a bank with partners as a signed feed; prints the key they verify it with."""
    settings = load()
    with open_database(settings) as db, db.session() as session:
        shared = service.share_bank(session, settings, bank, actor=ACTOR)
    note(f"bank {shared.bank} is shared at {settings.base_url}{shared.feed_path}")
    out().print(shared.signing_key, markup=False)


@app.command()
def unshare(bank: Annotated[str, typer.Argument(help="The bank to stop sharing.")]) -> None:
    """Stop sharing a bank."""
    settings = load()
    with open_database(settings) as db, db.session() as session:
        service.unshare_bank(session, bank, actor=ACTOR)
    note(f"bank {bank} is no longer shared", style="green")


@app.command("signing-key")
def signing_key() -> None:
    """Print the key partners verify this deployment's feeds with."""
    out().print(service.signing_key_text(load()), markup=False)


__all__ = ["app"]
