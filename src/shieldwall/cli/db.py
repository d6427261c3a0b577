"""``shieldwall db``: database schema migrations (Alembic)."""

from __future__ import annotations

from typing import Annotated

import typer

from shieldwall.cli.console import EXIT_CHECK_FAILED, err, fail, load, note, open_database, out
from shieldwall.db import migrate

app = typer.Typer(
    help=(
        "Database schema migrations.\n\n"
        "The embedded SQLite database is migrated automatically; PostgreSQL is not, so run "
        "`shieldwall db upgrade` once per release before starting the new servers."
    ),
    no_args_is_help=True,
)


@app.command()
def upgrade(
    revision: Annotated[
        str, typer.Option(help="Target revision; `head` is the newest this release knows.")
    ] = "head",
) -> None:
    """Upgrade the database schema to a revision (default: the newest).

    Run it after installing a new release and before starting its servers, from one
    machine only. Safe to run again: an up-to-date database is left as it is.

    Examples:

        shieldwall db upgrade
        shieldwall db upgrade --revision 0001
    """
    settings = load()
    with open_database(settings, ensure_migrated=False) as db:
        before = migrate.current_revision(db.engine) or "empty"
        with err().status(f"upgrading the database from {before} to {revision}..."):
            migrate.upgrade(db.engine, revision)
        after = migrate.current_revision(db.engine) or "empty"
    if after == before:
        out().print(f"database already at {after}; nothing to do")
    else:
        out().print(f"database upgraded from {before} to {after}", style="green")


@app.command()
def current() -> None:
    """Print the database's schema revision and the newest one this release needs.

    Exits with status 1 when they differ, so deploy scripts and health checks can use it.

    Example:

        shieldwall db current || shieldwall db upgrade
    """
    settings = load()
    with open_database(settings, ensure_migrated=False) as db:
        current_rev = migrate.current_revision(db.engine)
        head = migrate.head_revision(db.engine)
    out().print(f"current: {current_rev or 'empty (never migrated)'}")
    out().print(f"head:    {head}")
    if current_rev != head:
        fail("the database is not current; run `shieldwall db upgrade`", code=EXIT_CHECK_FAILED)
    out().print("the database is current", style="green")


@app.command()
def downgrade(
    revision: Annotated[
        str, typer.Argument(help="Revision to go back to, e.g. `base` for an empty schema.")
    ],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Downgrade the database schema to an older revision. DESTROYS the data in dropped tables.

    Use it only to roll back a release whose migration you must undo, after a backup.
    Asks for confirmation unless --yes is given.

    Examples:

        shieldwall db downgrade 0001
        shieldwall db downgrade base --yes
    """
    settings = load()
    with open_database(settings, ensure_migrated=False) as db:
        before = migrate.current_revision(db.engine) or "empty"
        if not yes:
            typer.confirm(
                f"Downgrade {db.engine.url.render_as_string(hide_password=True)} from "
                f"{before} to {revision}? Data in tables this removes is lost",
                abort=True,
            )
        with err().status(f"downgrading the database from {before} to {revision}..."):
            migrate.downgrade(db.engine, revision)
        after = migrate.current_revision(db.engine) or "empty"
    note(f"database downgraded from {before} to {after}", style="yellow")
