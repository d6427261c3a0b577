"""The ``shieldwall`` command: one Typer sub-app per command group.

Every command that touches data opens the database itself and commits when it finishes
(services only flush). A :class:`~shieldwall.core.errors.ShieldwallError` (bad input, a
conflict, an unmigrated database) is printed as ``error: <message>`` in red with exit
status 2, never as a traceback.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from typer.core import TyperGroup

from shieldwall import __version__
from shieldwall.cli import (
    accountability,
    apikey,
    audit,
    bank,
    cases,
    classifiers,
    config,
    db,
    demo,
    dev,
    evidence,
    exchange,
    hashing,
    jobs,
    media,
    reports,
    serve,
    survivor,
    text,
    transparency,
    user,
)
from shieldwall.cli.console import EXIT_ERROR, describe_validation_error, print_error
from shieldwall.core.errors import ShieldwallError

__all__ = ["app", "main"]


def _not_text(args: list[str]) -> int | None:
    """The 1-based position of the first argument that is not valid text: bytes that are
    not UTF-8 reach Python as lone surrogates, which no database or file can store."""
    for position, arg in enumerate(args, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            return position
    return None


class ShieldwallGroup(TyperGroup):
    """The root group: turns errors a user can act on into a message and exit status 2."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        position = _not_text(args)
        if position is not None:  # never echoed: it may be half of someone's secret
            print_error(
                f"argument {position} is not valid UTF-8 text; nothing was done "
                "(check the terminal's or script's character encoding)"
            )
            raise typer.Exit(EXIT_ERROR)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except ShieldwallError as exc:
            print_error(exc.message)
        except ValidationError as exc:
            print_error(describe_validation_error(exc))
        except OperationalError as exc:
            reason = exc.orig if exc.orig is not None else exc
            print_error(f"the database could not be used: {reason}")
        raise typer.Exit(EXIT_ERROR)


app = typer.Typer(
    name="shieldwall",
    cls=ShieldwallGroup,
    help=(
        "shieldwall: child-safety infrastructure (hash matching, review, reporting, "
        "transparency).\n\n"
        "Settings come from SHIELDWALL_* environment variables or shieldwall.toml; "
        "see `shieldwall config show`.\n\n"
        "First run on a laptop: `shieldwall demo seed` then `shieldwall serve`."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
    # Locals in a traceback could hold passwords or API keys.
    pretty_exceptions_show_locals=False,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"shieldwall {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    pass  # only global options; the help text is the Typer app's


app.command(name="serve")(serve.serve)
app.command(name="hash")(hashing.hash_command)
app.command(name="scan")(hashing.scan_command)
app.add_typer(db.app, name="db")
app.add_typer(user.app, name="user")
app.add_typer(apikey.app, name="apikey")
app.add_typer(bank.app, name="bank")
app.add_typer(cases.app, name="cases")
app.add_typer(exchange.app, name="exchange")
app.add_typer(audit.app, name="audit")
app.add_typer(config.app, name="config")
app.add_typer(demo.app, name="demo")
app.add_typer(accountability.app, name="accountability")
app.add_typer(jobs.app, name="jobs")
app.add_typer(media.app, name="media")
app.add_typer(evidence.app, name="evidence")
app.add_typer(classifiers.app, name="classifiers")
app.add_typer(survivor.app, name="survivor")
app.add_typer(text.text_app, name="text")
app.add_typer(text.terms_app, name="terms")
app.add_typer(reports.app, name="reports")
app.add_typer(transparency.app, name="transparency")
app.add_typer(dev.app, name="dev")


def main() -> None:
    """Entry point of the ``shieldwall`` console script."""
    app(prog_name="shieldwall")
