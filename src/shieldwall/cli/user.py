"""``shieldwall user``: people who log in to the web pages."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from shieldwall.cli.console import load, note, open_database, out, validated, when
from shieldwall.core.access import Principal, Role
from shieldwall.core.errors import InvalidInput, NotFound
from shieldwall.db.base import utcnow
from shieldwall.users import passwords, repository, service
from shieldwall.users.models import User
from shieldwall.users.schemas import UserCreate, UserUpdate

app = typer.Typer(
    help=(
        "Create and manage people (admins, reviewers, analysts).\n\n"
        "Use it to make the first admin, or to get back in when no admin can log in; "
        "day to day, admins manage people in the web pages. Every change is recorded "
        "in the event log as done by `system:cli`."
    ),
    no_args_is_help=True,
)

Username = Annotated[str, typer.Argument(help="Login name, e.g. alice.")]
PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from the first line of standard input instead of asking.",
    ),
]
ACTOR = Principal.system("cli")


def read_password(from_stdin: bool) -> str:
    """A new password, from stdin or a hidden prompt asked twice; checked against the policy
    before anything is written."""
    if from_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        if not password:
            raise InvalidInput("--password-stdin was given but standard input had no password")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        passwords.check_policy(password)
    except ValueError as exc:
        raise InvalidInput(str(exc), field="password") from None
    return password


def _find(session: Session, username: str) -> User:
    user = repository.get_user_by_username(session, username.strip().lower())
    if user is None:
        raise NotFound(f"no user named {username!r}; see `shieldwall user list`")
    return user


def _update(username: str, data: UserUpdate, done: str) -> None:
    settings = load()
    with open_database(settings) as db, db.session() as session:
        user = _find(session, username)
        service.update_user(session, user.id, data, actor=ACTOR)
        name = user.username
    note(f"{name}: {done}", style="green")


@app.command()
def create(
    username: Username,
    role: Annotated[Role, typer.Option(help="What the person may do.")],
    display_name: Annotated[str, typer.Option(help="Name shown in the web pages.")] = "",
    password_stdin: PasswordStdin = False,
) -> None:
    """Create a person who can log in to the web pages.

    The password is asked twice without echo, or read from standard input with
    --password-stdin (for scripts). Passwords need at least 12 characters.

    Roles: admin (everything, including people and API keys), reviewer (the review queue
    and banks), analyst (reports and the event log).

    Examples:

        shieldwall user create alice --role admin --display-name "Alice Smith"
        printf '%s\\n' "$PASSWORD" | \\
            shieldwall user create bob --role reviewer --password-stdin
    """
    password = read_password(password_stdin)
    data = validated(
        UserCreate,
        username=username.strip().lower(),
        password=password,
        role=role,
        display_name=display_name,
    )
    settings = load()
    with open_database(settings) as db, db.session() as session:
        user = service.create_user(session, data, actor=ACTOR)
        user_id, name = user.id, user.username
    note(f"created user {name} (id {user_id}, role {role.value})", style="green")


@app.command("list")
def list_users() -> None:
    """List everyone who has an account, with role and status.

    Example:

        shieldwall user list
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        users = repository.list_users(session)
    table = Table(title=f"{len(users)} user(s)")
    for column in ("id", "username", "display name", "role", "status", "last login", "created"):
        table.add_column(column, overflow="fold", no_wrap=column in {"id", "username"})
    now = utcnow()
    for u in users:
        if not u.is_active:
            status = "deactivated"
        elif u.locked_until is not None and u.locked_until > now:
            status = f"locked until {when(u.locked_until)}"
        else:
            status = "active"
        table.add_row(
            str(u.id),
            u.username,
            u.display_name,
            u.role,
            status,
            when(u.last_login_at),
            when(u.created_at),
        )
    out().print(table)


@app.command("set-role")
def set_role(username: Username, role: Annotated[Role, typer.Argument(help="New role.")]) -> None:
    """Change a person's role. The last active admin cannot be demoted.

    Example:

        shieldwall user set-role bob admin
    """
    _update(username, validated(UserUpdate, role=role), f"role is now {role.value}")


@app.command()
def deactivate(username: Username) -> None:
    """Stop a person from logging in and end their sessions; their history stays.

    Their personal API keys stop working too. The last active admin cannot be deactivated.

    Example:

        shieldwall user deactivate bob
    """
    _update(
        username, validated(UserUpdate, is_active=False), "deactivated; their sessions were ended"
    )


@app.command()
def activate(username: Username) -> None:
    """Let a deactivated person log in again.

    Example:

        shieldwall user activate bob
    """
    _update(username, validated(UserUpdate, is_active=True), "active")


@app.command()
def unlock(username: Username) -> None:
    """Clear the lock-out after too many failed logins, so the person can try again now.

    Example:

        shieldwall user unlock alice
    """
    _update(username, validated(UserUpdate, unlock=True), "unlocked")


@app.command("set-password")
def set_password(username: Username, password_stdin: PasswordStdin = False) -> None:
    """Set a new password for a person and end their web sessions.

    Use it when someone forgot their password or the only admin is locked out.

    Examples:

        shieldwall user set-password alice
        printf '%s\\n' "$PASSWORD" | shieldwall user set-password alice \\
            --password-stdin
    """
    password = read_password(password_stdin)
    _update(
        username,
        validated(UserUpdate, password=password),
        "password changed; their sessions were ended",
    )
