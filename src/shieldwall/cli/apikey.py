"""``shieldwall apikey``: keys for the HTTP API."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from shieldwall.apikeys import repository, service
from shieldwall.apikeys.models import ApiKey
from shieldwall.apikeys.schemas import ApiKeyCreate, KeyKind
from shieldwall.cli.console import load, note, open_database, out, validated, when
from shieldwall.core.access import INTEGRATION_SCOPES, Principal, Scope
from shieldwall.core.errors import InvalidInput, NotFound
from shieldwall.db.base import utcnow
from shieldwall.users import repository as users_repository

app = typer.Typer(
    help=(
        "Create, list and revoke API keys.\n\n"
        "An integration key is for a platform's servers (scopes: "
        f"{', '.join(sorted(INTEGRATION_SCOPES))}); a personal key acts for one person "
        "and never holds more than their role allows. Keys are stored hashed: the whole "
        "key is shown once, when it is created."
    ),
    no_args_is_help=True,
)
ACTOR = Principal.system("cli")
#: A hundred years: longer than any key should live, and far from the last date Python holds.
MAX_EXPIRES_DAYS = 36_500
OWNER_REQUIRED = (
    "--owner is required: at the command line no person is logged in to own the key. "
    "Name the person responsible for it (`shieldwall user list`); for an integration key "
    "that is the admin recorded as its creator, for a personal key the person it acts for"
)


@app.command()
def create(
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'upload service'.")],
    scope: Annotated[
        list[Scope], typer.Option(help="A permission; repeat for several.", show_choices=True)
    ],
    kind: Annotated[KeyKind, typer.Option(help="integration or personal.")] = (KeyKind.INTEGRATION),
    owner: Annotated[
        str | None,
        typer.Option(help="Username of the person responsible (required, see above)."),
    ] = None,
    expires_days: Annotated[
        int | None,
        typer.Option(
            min=1, max=MAX_EXPIRES_DAYS, help="Days until the key stops working; default never."
        ),
    ] = None,
) -> None:
    """Create an API key and print it ONCE; it cannot be shown again.

    The key alone goes to standard output and everything else to standard error, so
    KEY=$(shieldwall apikey create ...) captures just the key. Store it in your secret
    manager straight away; if it is lost, revoke it and create another.

    --owner is required because nobody is logged in at the command line: for an
    integration key it names the admin recorded as the key's creator, for a personal key
    the person it acts for.

    Examples:

        shieldwall apikey create --name "upload service" --scope scan --owner alice
        shieldwall apikey create --name laptop --kind personal --owner alice \\
            --scope cases:read --scope cases:write --expires-days 90
    """
    if owner is None:
        raise InvalidInput(OWNER_REQUIRED, field="owner")
    settings = load()
    with open_database(settings) as db, db.session() as session:
        person = users_repository.get_user_by_username(session, owner.strip().lower())
        if person is None:
            raise NotFound(f"no user named {owner!r}; see `shieldwall user list`")
        expires_at = utcnow() + timedelta(days=expires_days) if expires_days else None
        data = validated(
            ApiKeyCreate,
            name=name,
            kind=kind,
            scopes=scope,
            owner_id=person.id,
            expires_at=expires_at,
        )
        key, plain = service.create_key(session, data, actor=ACTOR)
        summary = (
            f"created {key.kind} API key {key.id} ({key.prefix}) {key.name!r} "
            f"with scopes {', '.join(key.scopes)}, owner {person.username}"
        )
    note(summary, style="green")
    if expires_at is not None:
        note(f"it expires at {expires_at.isoformat(timespec='minutes')}")
    note(
        "This is the only time the key is shown; it cannot be shown again. Store it now:",
        style="bold yellow",
    )
    out().print(plain, markup=False, soft_wrap=True)


def _status(key: ApiKey) -> str:
    if key.revoked_at is not None:
        return f"revoked {when(key.revoked_at)}"
    if key.expires_at is not None and key.expires_at <= utcnow():
        return f"expired {when(key.expires_at)}"
    if key.expires_at is not None:
        return f"active until {when(key.expires_at)}"
    return "active"


@app.command("list")
def list_keys(
    show_all: Annotated[bool, typer.Option("--all", help="Include revoked keys.")] = False,
) -> None:
    """List API keys: id, name, prefix, kind, scopes, owner, dates and status. Never secrets.

    The prefix is the public part of a key (sw_PREFIX_...), enough to tell which key a
    log line or a support request is about.

    Examples:

        shieldwall apikey list
        shieldwall apikey list --all
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        keys = repository.list_keys(session, include_revoked=show_all)
        owners = {u.id: u.username for u in users_repository.list_users(session)}
    table = Table(title=f"{len(keys)} API key(s)" + ("" if show_all else ", revoked hidden"))
    columns = ("id", "name", "prefix", "kind", "scopes", "owner", "created", "last used", "status")
    for column in columns:
        table.add_column(column, overflow="fold", no_wrap=column in {"id", "prefix", "kind"})
    for k in keys:
        table.add_row(
            str(k.id),
            k.name,
            k.prefix,
            k.kind,
            " ".join(k.scopes),
            owners.get(k.owner_id, f"user {k.owner_id}"),
            when(k.created_at),
            when(k.last_used_at),
            _status(k),
        )
    out().print(table)


def _find(session: Session, id_or_prefix: str) -> ApiKey:
    value = id_or_prefix.strip()
    if value.startswith("sw_"):  # a whole key or "sw_<prefix>" pasted in
        value = value.split("_")[1]
    key = repository.get_by_prefix(session, value)
    # ASCII digits only ("²".isdigit() is true); repository.get refuses ids past the column
    if key is None and value.isascii() and value.isdigit() and len(value) <= 20:
        key = repository.get(session, int(value))
    if key is None:
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise NotFound(f"no API key with id or prefix {shown!r}; see `shieldwall apikey list`")
    return key


@app.command()
def revoke(
    id_or_prefix: Annotated[str, typer.Argument(help="The key's id or prefix from `list`.")],
) -> None:
    """Revoke an API key; it stops working at once, everywhere. Cannot be undone.

    Use it when a key leaked, its service is retired, or its secret was lost.

    Examples:

        shieldwall apikey revoke 3
        shieldwall apikey revoke k2x7q4mzab
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        key = service.revoke_key(session, _find(session, id_or_prefix).id, actor=ACTOR)
        summary = f"revoked API key {key.id} ({key.prefix}) {key.name!r}"
    note(summary, style="green")
