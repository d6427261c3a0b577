"""What every command group shares: consoles, settings, opening the database, and how
errors are shown.

Consoles are made per call, not at import, so they follow the terminal (and ``COLUMNS``)
of the moment they print. Messages go to standard error; results a script may capture
(a table, an API key, JSON) go to standard output.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console

from shieldwall.config import Settings, load_settings
from shieldwall.core.errors import InvalidInput, describe_errors
from shieldwall.db import migrate
from shieldwall.db.engine import Database

M = TypeVar("M", bound=BaseModel)

#: Exit status for a failure the user can act on (bad input, conflict, unmigrated database).
EXIT_ERROR = 2
#: Exit status for a check that ran and found a problem (`db current`, `audit verify`).
EXIT_CHECK_FAILED = 1


def out() -> Console:
    """Standard output: results."""
    return Console(highlight=False)


def err() -> Console:
    """Standard error: progress, notices, warnings and errors."""
    return Console(stderr=True, highlight=False)


def note(message: str, *, style: str = "") -> None:
    """One line of information on standard error, never wrapped mid-word by Rich."""
    err().print(message, style=style or None, markup=False, soft_wrap=True)


def print_error(message: str) -> None:
    err().print(f"error: {message}", style="red", markup=False, soft_wrap=True)


def fail(message: str, *, code: int = EXIT_CHECK_FAILED) -> NoReturn:
    """Print ``message`` in red and exit with ``code``."""
    err().print(message, style="red", markup=False, soft_wrap=True)
    raise typer.Exit(code)


def describe_validation_error(exc: ValidationError) -> str:
    return describe_errors(exc.errors(include_input=False, include_url=False))


def validated(model: type[M], **values: Any) -> M:
    """Build a schema object; bad values become :class:`InvalidInput` (exit status 2)."""
    try:
        return model(**values)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc)) from None


def load(**overrides: Any) -> Settings:
    """Settings from the environment and config file; problems become clear errors."""
    try:
        return load_settings(**overrides)
    except ValidationError as exc:
        raise InvalidInput(f"invalid settings: {describe_validation_error(exc)}") from None
    except FileNotFoundError as exc:
        raise InvalidInput(str(exc)) from None


@contextmanager
def open_database(settings: Settings, *, ensure_migrated: bool = True) -> Iterator[Database]:
    """The configured database, disposed of afterwards.

    With ``ensure_migrated`` the schema must be current, as for the server: SQLite (or any
    database with ``auto_migrate`` on) is upgraded, anything else raises
    :class:`~shieldwall.core.errors.DatabaseNotMigrated` naming ``shieldwall db upgrade``.
    """
    db = Database(settings.effective_database_url)
    try:
        if ensure_migrated:
            if settings.should_auto_migrate and not migrate.is_current(db.engine):
                note(f"upgrading the database schema to {migrate.head_revision(db.engine)}")
            migrate.ensure_current(db.engine, auto_migrate=settings.should_auto_migrate)
        yield db
    finally:
        db.dispose()


def when(value: datetime | None) -> str:
    """A timestamp for tables: UTC, to the minute; an em dash for never."""
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else "—"
