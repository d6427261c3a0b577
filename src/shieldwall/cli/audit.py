"""``shieldwall audit``: check the hash-chained event log."""

from __future__ import annotations

from typing import Annotated

import typer

from shieldwall.audit.service import verify_chain
from shieldwall.cli.console import EXIT_CHECK_FAILED, err, fail, load, open_database, out

app = typer.Typer(
    help=(
        "Check the event log, the append-only record of every change.\n\n"
        "Each event carries the SHA-256 of itself and the event before it, so editing, "
        "deleting or inserting a row breaks the chain from that point on."
    ),
    no_args_is_help=True,
)


@app.command()
def verify(
    anchor: Annotated[
        list[str] | None,
        typer.Option(
            help="A head hash printed by an earlier check and kept outside the database; "
            "fail when it is no longer in the chain. Repeatable.",
        ),
    ] = None,
) -> None:
    """Recompute every event's hash and link; name the first event that does not fit.

    Prints OK with the number of events and the head hash, or the first broken event and
    why, with exit status 1. Run it on a schedule and before publishing a transparency
    report.

    A chain rewritten from its first event on is consistent with itself. To detect that,
    keep the printed head hash outside the database (a ticket, a signed message, another
    system) and pass it with --anchor next time: the check then also fails when that hash
    is no longer the hash of some event. New events do not disturb an anchor.

    Examples:

        shieldwall audit verify
        shieldwall audit verify --anchor 3f1c...e9
    """
    settings = load()
    with (
        open_database(settings) as db,
        db.session() as session,
        err().status("verifying the event chain..."),
    ):
        report = verify_chain(session, anchors=anchor or ())
    if report.anchors_missing:
        fail(
            f"the chain verifies on its own ({report.checked} events) but "
            f"{', '.join(report.anchors_missing)} is not in it any more: the log was rewritten",
            code=EXIT_CHECK_FAILED,
        )
    if not report.ok:
        where = f"event {report.first_bad_id}" if report.first_bad_id is not None else "the head"
        fail(
            f"BROKEN at {where}: {report.reason}\n{report.checked} event(s) before it verified.",
            code=EXIT_CHECK_FAILED,
        )
    out().print(f"OK: {report.checked} event(s) verified", style="green", markup=False)
    out().print(f"head hash: {report.head_hash}", markup=False, soft_wrap=True)
