"""``shieldwall classifiers``: check the configured classifier plug-ins."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from shieldwall.cli.console import EXIT_CHECK_FAILED, fail, load, out
from shieldwall.cli.files import read_input_file
from shieldwall.core.errors import InvalidInput
from shieldwall.integrations.classifiers import ClassifierInput, ClassifierSet

app = typer.Typer(
    help="Classifier plug-ins (principle 2); see docs/classifiers.md.",
    no_args_is_help=True,
)


@app.command(name="list")
def list_command() -> None:
    """Show each configured classifier, its kind, thresholds, and whether it loads.

    A plug-in that cannot be loaded does not stop the server; this command shows why.
    Exit status 1 when one does not load.

    Example:

        shieldwall classifiers list
    """
    settings = load()
    classifiers = ClassifierSet.from_settings(settings)
    table = Table(title="classifiers")
    for column in ("name", "kind", "thresholds", "state"):
        table.add_column(column, overflow="fold")
    for config in settings.classifiers:
        if not config.enabled:
            state = "disabled"
        elif config.name in classifiers.problems:
            state = f"NOT LOADED: {classifiers.problems[config.name]}"
        else:
            state = "loaded"
        thresholds = ", ".join(f"{k} >= {v:g}" for k, v in sorted(config.thresholds.items()))
        table.add_row(config.name, config.kind, thresholds or "(none)", state)
    out().print(table, markup=False)
    classifiers.close()
    if classifiers.problems:
        raise typer.Exit(EXIT_CHECK_FAILED)


@app.command(name="try")
def try_command(
    file: Annotated[
        Path | None,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="A file to classify."),
    ] = None,
    url: Annotated[
        str | None, typer.Option(help="A URL to send (classifiers with send=url).")
    ] = None,
    media_type: Annotated[str | None, typer.Option(help="Declared media type.")] = None,
) -> None:
    """Send one file (or URL) to every configured classifier and print the outcome as JSON.

    This calls the configured services for real: use a benign test file. Exit status 1
    when a classifier failed.

    Examples:

        shieldwall classifiers try test-picture.jpg
        shieldwall classifiers try --url https://cdn.example/test.jpg
    """
    if file is None and not url:
        raise InvalidInput("give a FILE or --url")
    settings = load()
    data = read_input_file(file, settings.scan_max_bytes) if file is not None else None
    classifiers = ClassifierSet.from_settings(settings)
    if not classifiers:
        fail("no classifiers are configured (setting: classifiers)")
    try:
        outcome = classifiers.classify(ClassifierInput(data=data, media_type=media_type, url=url))
    finally:
        classifiers.close()
    typer.echo(json.dumps({"needs_review": outcome.needs_review, **outcome.summary()}, indent=2))
    if outcome.errors:
        raise typer.Exit(EXIT_CHECK_FAILED)
