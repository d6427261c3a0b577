"""``shieldwall cases``: the review queue from the command line (principles 2 and 8)."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from shieldwall.cases import history, service
from shieldwall.cases.schemas import (
    ACTIVE_STATUSES,
    CaseOut,
    CaseSource,
    CaseStatus,
    Outcome,
)
from shieldwall.cli.console import load, note, open_database, out, when
from shieldwall.core.access import Principal
from shieldwall.core.errors import InvalidInput, NotFound
from shieldwall.users import repository as users_repository
from shieldwall.users import service as users

app = typer.Typer(
    help=(
        "List, show and decide review cases.\n\n"
        "Reading is done as `system:cli`. Deciding acts as a named person (--as USERNAME), "
        "held to the same rules as in the web UI and the API: the person needs the "
        "cases:write scope (admin or reviewer), the two-person rule asks a different person "
        "to confirm, and an appeal goes to someone who took no part in the original decision."
    ),
    no_args_is_help=True,
)
READER = Principal.system("cli")
CaseId = Annotated[int, typer.Argument(min=1, help="The case id (see `shieldwall cases list`).")]
AsUser = Annotated[
    str,
    typer.Option(
        "--as", help="Username of the reviewer deciding (required: it is their decision)."
    ),
]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _person(session: Session, username: str) -> Principal:
    user = users_repository.get_user_by_username(session, username.strip().lower())
    if user is None:
        raise NotFound(f"no user named {username[:64]!r}; see `shieldwall user list`")
    if not user.is_active:
        raise InvalidInput(f"{user.username} is deactivated")
    return users.principal_for(user)


def _statuses(status: list[str] | None) -> list[CaseStatus] | None:
    wanted = status or ["active"]
    if "all" in wanted:
        return None
    out_: list[CaseStatus] = []
    for name in wanted:
        if name == "active":
            out_.extend(ACTIVE_STATUSES)
            continue
        try:
            out_.append(CaseStatus(name))
        except ValueError:
            known = ", ".join(["active", "all", *(s.value for s in CaseStatus)])
            raise InvalidInput(f"unknown status {name!r}; known: {known}") from None
    return out_


@app.command("list")
def list_cases(
    status: Annotated[
        list[str] | None,
        typer.Option(help="active (default), all, or a status; repeat for several."),
    ] = None,
    source: Annotated[CaseSource | None, typer.Option(help="Only cases with this source.")] = None,
    assignee: Annotated[str | None, typer.Option(help="Only cases assigned to this user.")] = None,
    overdue: Annotated[bool, typer.Option(help="Only cases past their due time.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=500, help="How many to show.")] = 50,
    as_json: AsJson = False,
) -> None:
    """The queue in review order: priority (highest first), then age (oldest first).

    Examples:

        shieldwall cases list
        shieldwall cases list --status all --source user_report --json
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        page = service.queue(
            session,
            statuses=_statuses(status),
            source=source,
            assignee=assignee,
            overdue=overdue,
            limit=limit,
        )
    if as_json:
        out().print_json(page.model_dump_json())
        return
    table = Table(
        title=f"{page.total} case(s)" + (f", first {limit}" if page.total > limit else "")
    )
    for column in (
        "id",
        "priority",
        "status",
        "sources",
        "labels",
        "subject",
        "assignee",
        "detected",
        "due",
    ):
        table.add_column(column)
    for c in page.items:
        status_text = c.status.value + (
            " (awaiting confirmation)" if c.awaiting_confirmation else ""
        )
        table.add_row(
            str(c.id),
            f"{c.priority} {c.priority_rule}",
            status_text,
            " ".join(s.value for s in c.sources),
            " ".join(c.labels) or "—",
            f"{c.subject_kind} {c.subject_ref}",
            c.assignee or "—",
            when(c.detected_at),
            when(c.due_at),
        )
    out().print(table)


def _print_case(case: CaseOut) -> None:
    console = out()
    console.print(
        f"case {case.id}: {case.subject_kind} {case.subject_ref}"
        + (f" (account {case.account_ref})" if case.account_ref else ""),
        markup=False,
    )
    console.print(
        f"status {case.status.value}; priority {case.priority} ({case.priority_rule}); "
        f"sources {', '.join(s.value for s in case.sources)}; "
        f"labels {', '.join(case.labels) or 'none'}; principles {case.principles}",
        markup=False,
    )
    if case.appeal_of_case_id:
        console.print(f"appeal of case {case.appeal_of_case_id}", markup=False)
    sla = case.sla
    console.print(
        f"detected {when(sla.detected_at)}, first review {when(sla.first_reviewed_at)}, "
        f"decided {when(sla.decided_at)}, due {when(sla.due_at)}"
        + (" (overdue)" if sla.overdue else ""),
        markup=False,
    )
    signals = Table(title="signals")
    for column in ("id", "source", "received", "labels", "score", "summary"):
        signals.add_column(column)
    for s in case.signals:
        signals.add_row(
            str(s.id),
            s.source.value,
            when(s.received_at),
            " ".join(s.labels) or "—",
            "—" if s.score is None else f"{s.score:.3f}",
            json.dumps(s.summary, sort_keys=True),
        )
    console.print(signals)
    if case.decisions:
        decisions = Table(title="decisions")
        for column in ("id", "outcome", "label", "state", "by", "confirmed by", "note"):
            decisions.add_column(column)
        for d in case.decisions:
            decisions.add_row(
                str(d.id),
                d.outcome.value,
                d.label or "—",
                d.state.value,
                d.decided_by,
                d.confirmed_by or "—",
                d.note or "",
            )
        console.print(decisions)
    if case.actions:
        console.print(
            "actions: "
            + ", ".join(f"{a['type']} ({a['delivery']['state']})" for a in case.actions),
            markup=False,
        )
    timeline = Table(title="timeline")
    for column in ("event", "when", "kind", "actor"):
        timeline.add_column(column)
    for t in case.timeline:
        timeline.add_row(str(t.event_id), when(t.occurred_at), t.kind, t.actor)
    console.print(timeline)


@app.command()
def show(case_id: CaseId, as_json: AsJson = False) -> None:
    """One case: signals (ids and scores, never content), decisions, clocks, timeline.

    Reading here does not start the case's first-review clock (no person is looking).

    Example:

        shieldwall cases show 12
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        detail = service.get_case_detail(session, settings, case_id)
    if as_json:
        out().print_json(detail.model_dump_json())
        return
    _print_case(detail)


@app.command()
def decide(
    case_id: CaseId,
    outcome: Annotated[Outcome, typer.Argument(help="violating, not_violating or escalate.")],
    as_user: AsUser,
    label: Annotated[
        str | None, typer.Option(help="Required for violating: A1, A2, B1, B2, grooming, ...")
    ] = None,
    note_text: Annotated[str, typer.Option("--note", help="A note (stored encrypted).")] = "",
) -> None:
    """Decide a case as the named reviewer.

    Examples:

        shieldwall cases decide 12 violating --label A1 --as rita
        shieldwall cases decide 13 not_violating --note "a cartoon" --as rita
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        actor = _person(session, as_user)
        case = service.decide(
            session, settings, case_id, outcome=outcome, label=label, note=note_text, actor=actor
        )
        waiting = service.is_awaiting_confirmation(case)
        status = case.status
    if waiting:
        note(
            f"case {case_id}: decision recorded; it waits for a second reviewer "
            f"(`shieldwall cases confirm {case_id} --as OTHER`)",
            style="yellow",
        )
    else:
        note(f"case {case_id} is {status}", style="green")


@app.command()
def confirm(
    case_id: CaseId,
    as_user: AsUser,
    disagree: Annotated[
        bool, typer.Option(help="Disagree with the waiting decision: the case is escalated.")
    ] = False,
    note_text: Annotated[str, typer.Option("--note", help="A note (stored encrypted).")] = "",
) -> None:
    """Two-person rule: confirm (or --disagree with) the decision waiting on a case.

    Example:

        shieldwall cases confirm 12 --as sam
    """
    settings = load()
    with open_database(settings) as db, db.session() as session:
        actor = _person(session, as_user)
        case = service.confirm(
            session, settings, case_id, agree=not disagree, note=note_text, actor=actor
        )
        status = case.status
    note(f"case {case_id} is {status}", style="green")


@app.command("rewrap-notes")
def rewrap_notes() -> None:
    """Re-wrap reviewers' sealed notes under the current master key, after a rotation
    (put the old key in previous_master_keys until this and `shieldwall media rewrap` ran)."""
    settings = load()
    with open_database(settings) as db, db.session() as session:
        done = service.rewrap_notes(session, settings)
    note(f"re-wrapped {done:,} note(s) under the current master key")


@app.command("purge-scans")
def purge_scans() -> None:
    """Delete scan records past scan_retention_days (run daily, e.g. from cron)."""
    settings = load()
    with open_database(settings) as db, db.session() as session:
        removed = history.purge_expired(session, actor=READER)
    note(f"deleted {removed:,} expired scan record(s)")
