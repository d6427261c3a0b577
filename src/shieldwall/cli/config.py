"""``shieldwall config``: the effective settings."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from shieldwall.cli.console import load, out

app = typer.Typer(
    help="Inspect the settings shieldwall runs with.",
    no_args_is_help=True,
)


@app.command()
def show(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Print the effective settings, with secrets and database passwords masked.

    Settings come from SHIELDWALL_* environment variables, then the TOML file named by
    SHIELDWALL_CONFIG_FILE (default ./shieldwall.toml), then defaults. Use it to check what
    a server will run with before starting it, or to attach to a support request.
    It does not touch the database.

    Examples:

        shieldwall config show
        shieldwall config show --json | jq .database_url
    """
    values = load().display()
    if as_json:
        typer.echo(json.dumps(values, indent=2, sort_keys=True, default=str))
        return
    table = Table(title="shieldwall settings")
    table.add_column("setting", no_wrap=True)
    table.add_column("value", overflow="fold")
    for name, value in values.items():
        shown = "(default)" if value is None else str(value)
        table.add_row(name, shown)
    out().print(table, markup=False)
