"""``shieldwall media``: retention and key rotation for media kept for review."""

from __future__ import annotations

import typer

from shieldwall.cli.console import load, note, open_database, out
from shieldwall.media import service

app = typer.Typer(
    help=(
        "Media kept for review: sealed under <data_dir>/media, deleted after "
        "media_retention_days. See docs/media.md."
    ),
    no_args_is_help=True,
)


@app.command()
def purge() -> None:
    """Delete media past its retention, and files left behind by interrupted stores.

    Run it daily (cron, a systemd timer). Files are removed after the database commit;
    an interrupted run leaves nothing half-done that the next run does not finish.

    Example:

        shieldwall media purge
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        removed = service.purge_expired(session, settings)
    out().print(f"purged {removed} media object(s)")


@app.command()
def rewrap() -> None:
    """Re-wrap every object sealed under an older master key with the current one.

    After a rotation: set the new key as SHIELDWALL_MASTER_KEY and the old one in
    SHIELDWALL_PREVIOUS_MASTER_KEYS, run this, and drop the old key once `shieldwall media
    keys` shows only the current one. Media ciphertext is not re-encrypted.

    Example:

        shieldwall media rewrap && shieldwall media keys
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        done = service.rewrap_all(session, settings)
    out().print(f"re-wrapped {done} media object(s) under the current master key")


@app.command()
def keys() -> None:
    """How many media objects each master key wraps (key ids, never keys).

    Example:

        shieldwall media keys
    """
    settings = load()
    current = settings.resolved_keyring().current_id.hex()
    with open_database(settings) as db, db.session() as session:
        counts = service.objects_by_key(session)
    if not counts:
        note("no media is stored")
    for key, count in sorted(counts.items()):
        marker = " (current)" if key == current else ""
        out().print(f"{key}{marker}: {count}")
