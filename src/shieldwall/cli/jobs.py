"""``shieldwall jobs``: the outbox worker, and a look at what it holds.

Webhooks (and later other outgoing work) are queued in the database in the transaction that
decides them and sent by an outbox worker: one runs inside every server process unless
``outbox_in_server`` is off, and ``shieldwall jobs run`` runs one on its own.
"""

from __future__ import annotations

import signal
from types import FrameType
from typing import Annotated

import typer
from rich.table import Table

from shieldwall.audit import service as audit
from shieldwall.cli.console import load, note, open_database, out, when
from shieldwall.core.errors import InvalidInput, NotFound
from shieldwall.db.base import utcnow
from shieldwall.jobs import handlers, repository
from shieldwall.jobs.models import OutboxStatus
from shieldwall.logs import configure_logging

app = typer.Typer(
    help=(
        "Run the outbox worker that sends signed webhooks to the platform after commit, "
        "list queued work, and re-queue work that failed or was given up."
    ),
    no_args_is_help=True,
)
ACTOR = "system:cli"


def _summary(counts: dict[str, int]) -> str:
    shown = [f"{name} {counts[name]}" for name in counts if counts[name] or name == "sent"]
    return ", ".join(shown)


@app.command()
def run(
    once: Annotated[
        bool,
        typer.Option("--once", help="Handle what is due now, then exit (for cron or tests)."),
    ] = False,
    limit: Annotated[
        int, typer.Option(min=1, max=100_000, help="With --once: handle at most this many.")
    ] = 1000,
) -> None:
    """Send due outbox work (webhooks): until stopped, or with --once what is due now.

    Without --once the worker polls every `outbox_poll_seconds`, keeps going while the
    database or the receiver is down, and stops cleanly on Ctrl-C or SIGTERM after the item
    in hand. Several workers (on several machines) may run at once: each item is claimed by
    one of them at a time.

    Examples:

        shieldwall jobs run --once

        SHIELDWALL_OUTBOX_IN_SERVER=false shieldwall serve & shieldwall jobs run
    """
    settings = load()
    configure_logging(settings.log_level)
    if settings.webhook_url and not settings.webhook_secret:
        note(
            "warning: webhook_url is set but webhook_secret is not; webhooks wait until it is",
            style="yellow",
        )
    with open_database(settings) as db:
        worker = handlers.build_worker(db, settings)
        if once:
            total: dict[str, int] = {}
            remaining = limit
            while remaining > 0:
                batch = min(remaining, worker.BATCH)
                counts = worker.run_once(batch)
                for name, value in counts.items():
                    total[name] = total.get(name, 0) + value
                remaining -= counts["claimed"]
                if counts["claimed"] < batch:
                    break
            shown = _summary(total) if total.get("claimed") else "nothing due"
            note(f"outbox: {shown}", style="green")
            return

        def stop(_signum: int, _frame: FrameType | None) -> None:
            note("stopping after the item in hand...")
            worker.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        kinds = ", ".join(sorted(worker.handlers))
        note(f"outbox worker {worker.name} running for: {kinds} (Ctrl-C stops)")
        worker.run_forever()


@app.command(name="list")
def list_items(
    status: Annotated[OutboxStatus | None, typer.Option(help="Only items in this state.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only items of this kind, e.g. webhook.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Newest this many.")] = 50,
) -> None:
    """Queued and finished outbox items, newest first, with counts by state."""
    settings = load()
    with open_database(settings) as db, db.session() as session:
        counts = repository.count_by_status(session)
        rows = repository.list_items(
            session, status=status.value if status else None, kind=kind, limit=limit
        )
        table = Table(title=f"{len(rows)} item(s)")
        for column in ("id", "kind", "subject", "status", "attempts", "next attempt", "error"):
            table.add_column(column, overflow="fold", no_wrap=column in {"id", "kind"})
        for item in rows:
            pending = item.status in (OutboxStatus.PENDING, OutboxStatus.SENDING)
            table.add_row(
                str(item.id),
                item.kind,
                item.subject or "—",
                item.status,
                str(item.attempts),
                when(item.next_attempt_at) if pending else "—",
                item.last_error or "",
            )
        out().print(table)
    note(", ".join(f"{name} {counts.get(name.value, 0)}" for name in OutboxStatus))


@app.command()
def retry(
    item_ids: Annotated[
        list[int] | None, typer.Argument(help="Items to send again (see `jobs list`).")
    ] = None,
    all_failed: Annotated[
        bool,
        typer.Option("--all-failed", help="Every item that failed or was given up."),
    ] = False,
) -> None:
    """Queue failed or given-up items again, as if new (a fresh retry window).

    The receiver sees the same idempotency key as before. Each re-queue is written to the
    event log as `outbox.requeued` by system:cli.
    """
    if not item_ids and not all_failed:
        raise InvalidInput("name item ids, or pass --all-failed")
    settings = load()
    with open_database(settings) as db, db.session() as session:
        if all_failed:
            targets = [
                item
                for status in (OutboxStatus.FAILED, OutboxStatus.DEAD)
                for item in repository.list_items(session, status=status.value, limit=100_000)
            ]
        else:
            targets = []
            for item_id in item_ids or []:
                item = repository.get(session, item_id)
                if item is None:
                    raise NotFound(f"no outbox item with id {item_id}")
                if item.status not in (OutboxStatus.FAILED, OutboxStatus.DEAD):
                    state = "already sent" if item.status == OutboxStatus.SENT else item.status
                    raise InvalidInput(f"item {item_id} is {state}; only failed or dead items")
                targets.append(item)
        now = utcnow()
        for item in targets:
            previous = item.status
            repository.requeue(session, item, now=now)
            audit.record(
                session,
                "outbox.requeued",
                actor=ACTOR,
                subject=item.subject,
                principles=item.principles,
                payload={"outbox_item_id": item.id, "previous_status": previous},
            )
    note(f"re-queued {len(targets)} item(s)", style="green")
