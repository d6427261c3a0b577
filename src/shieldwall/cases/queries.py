"""Reading cases: the queue, counts, one case with its signals, decisions, clocks, timeline
and actions. Nothing here writes; :mod:`shieldwall.cases.service` re-exports these."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, object_session

from shieldwall.actions import service as actions
from shieldwall.cases import repository
from shieldwall.cases.models import Case, CaseDecision, CaseSignal
from shieldwall.cases.schemas import (
    ACTIVE_STATUSES,
    CaseOut,
    CasePage,
    CaseSource,
    CaseStatus,
    CaseSummary,
    DecisionOut,
    DecisionState,
    Outcome,
    SignalOut,
    SlaOut,
    TimelineItem,
    clean_ref,
)
from shieldwall.config import Settings
from shieldwall.core.access import Principal, Scope, scopes_for_role
from shieldwall.core.errors import InvalidInput, NotFound
from shieldwall.core.sealing import SealError, unseal
from shieldwall.db.base import utcnow
from shieldwall.users import repository as users_repository
from shieldwall.users.models import User

#: Shown instead of a note the configured master keys cannot open.
UNREADABLE_NOTE = "[this note cannot be decrypted with the configured master keys]"
MAX_PAGE = 500
#: Furthest offset into the queue (past it every page is empty; the database's integers end).
MAX_OFFSET = 1_000_000


def note_aad(case_id: int) -> bytes:
    return f"case:{case_id}:note".encode()


def read_note(settings: Settings, case_id: int, sealed: bytes | None) -> str | None:
    if sealed is None:
        return None
    try:
        return unseal(sealed, settings.resolved_keyring(), aad=note_aad(case_id)).decode("utf-8")
    except SealError:
        return UNREADABLE_NOTE


def get_case(session: Session, case_id: int) -> Case:
    case = repository.get_case(session, case_id)
    if case is None:
        raise NotFound(f"no case with id {case_id}", case_id=case_id)
    return case


# ---- the queue -----------------------------------------------------------------------------


def _assignee_id(session: Session, assignee: str | None, viewer: Principal | None) -> int | None:
    if not assignee:
        return None
    if assignee == "me":
        if viewer is None or viewer.user_id is None:
            raise InvalidInput("assignee 'me' needs a signed-in person", field="assignee")
        return viewer.user_id
    user = users_repository.get_user_by_username(session, assignee.strip().lower())
    if user is None:
        raise InvalidInput(f"no user named {assignee[:64]!r}", field="assignee")
    return user.id


def summaries(session: Session, rows: Sequence[Case]) -> list[CaseSummary]:
    """Cases as the queue shows them (two queries for all: assignees, pending decisions)."""
    names = repository.usernames(session, [c.assignee_id for c in rows if c.assignee_id])
    pending = repository.pending_case_ids(session, [c.id for c in rows])
    return [
        CaseSummary.model_validate(case).model_copy(
            update={
                "assignee": names.get(case.assignee_id) if case.assignee_id else None,
                "awaiting_confirmation": case.id in pending,
            }
        )
        for case in rows
    ]


def queue(
    session: Session,
    *,
    statuses: Sequence[CaseStatus | str] | None = ACTIVE_STATUSES,
    source: CaseSource | str | None = None,
    assignee: str | None = None,
    assignee_id: int | None = None,
    unassigned: bool = False,
    principle: int | None = None,
    label: str | None = None,
    subject_ref: str | None = None,
    overdue: bool = False,
    viewer: Principal | None = None,
    limit: int = 50,
    offset: int = 0,
) -> CasePage:
    """Cases in queue order — priority (highest first), then age (oldest first).

    ``statuses`` None means every status. ``assignee`` is a username, or ``me`` for the
    ``viewer``. Unknown statuses, sources or users are :class:`InvalidInput`.
    """
    try:
        wanted = [CaseStatus(s) for s in statuses] if statuses is not None else None
    except ValueError:
        known = ", ".join(s.value for s in CaseStatus)
        raise InvalidInput(f"unknown status; known: {known}", field="status") from None
    try:
        kind = CaseSource(source) if source else None
    except ValueError:
        known = ", ".join(s.value for s in CaseSource)
        raise InvalidInput(f"unknown source; known: {known}", field="source") from None
    if principle is not None and not 1 <= principle <= 11:
        raise InvalidInput("principles are numbered 1-11", field="principle")
    # filters are compared in SQL: control characters (NUL above all, which PostgreSQL
    # refuses) are refused here, never quoted back
    label = clean_ref(label, field_name="label")
    subject_ref = clean_ref(subject_ref, field_name="subject_ref")
    who = _assignee_id(session, assignee, viewer) if assignee else assignee_id
    rows, total = repository.list_cases(
        session,
        statuses=wanted,
        source=kind.value if kind is not None else None,
        assignee_id=who,
        unassigned=unassigned,
        principle=principle,
        label=label,
        subject_ref=subject_ref,
        overdue_at=utcnow() if overdue else None,
        limit=max(1, min(limit, MAX_PAGE)),
        offset=max(0, min(offset, MAX_OFFSET)),
    )
    return CasePage(items=summaries(session, rows), total=total)


def status_counts(session: Session) -> dict[str, int]:
    """How many cases are in each status (every status present, zero included)."""
    rows = session.execute(select(Case.status, func.count()).group_by(Case.status)).all()
    counts = {s.value: 0 for s in CaseStatus}
    counts.update({str(status): int(n) for status, n in rows})
    return counts


def reviewers(session: Session) -> list[User]:
    """Active people who may decide cases, by username."""
    return [
        u
        for u in users_repository.list_users(session)
        if u.is_active and Scope.CASES_WRITE in scopes_for_role(u.role)
    ]


def usernames(session: Session, user_ids: Sequence[int]) -> dict[int, str]:
    return repository.usernames(session, user_ids)


def next_in_queue(session: Session, *, after_case_id: int) -> int | None:
    """The active case after ``after_case_id`` in queue order; when that case is not active
    (just decided), or was last, the top of the queue. None when nothing else waits."""
    rows, _ = repository.list_cases(session, statuses=ACTIVE_STATUSES, limit=MAX_PAGE)
    ids = [c.id for c in rows]
    if after_case_id in ids:
        later = ids[ids.index(after_case_id) + 1 :]
        if later:
            return later[0]
    others = [i for i in ids if i != after_case_id]
    return others[0] if others else None


def media_ids(session: Session, case_id: int) -> list[int]:
    """The media a case's signals carried, in the order they arrived, without repeats."""
    get_case(session, case_id)
    out: list[int] = []
    for signal in repository.signals_of(session, case_id):
        if signal.media_id is not None and signal.media_id not in out:
            out.append(signal.media_id)
    return out


def is_awaiting_confirmation(case: Case) -> bool:
    session = object_session(case)
    if session is None:
        raise ValueError("is_awaiting_confirmation needs a case attached to a session")
    return repository.pending_decision(session, case.id) is not None


# ---- one case ------------------------------------------------------------------------------


def _signal_out(signal: CaseSignal) -> SignalOut:
    return SignalOut(
        id=signal.id,
        source=CaseSource(signal.source),
        ref=signal.ref,
        principles=list(signal.principles),
        summary=dict(signal.summary),
        labels=list(signal.labels),
        score=signal.score,
        child_in_danger=signal.child_in_danger,
        media_id=signal.media_id,
        hash_types=sorted({pair[0] for pair in signal.hashes}),
        actor=signal.actor,
        received_at=signal.received_at,
    )


def decision_out(settings: Settings, decision: CaseDecision) -> DecisionOut:
    return DecisionOut(
        id=decision.id,
        outcome=Outcome(decision.outcome),
        label=decision.label,
        state=DecisionState(decision.state),
        note=read_note(settings, decision.case_id, decision.note_sealed),
        confirm_note=read_note(settings, decision.case_id, decision.confirm_note_sealed),
        decided_by=decision.decided_by,
        decided_at=decision.decided_at,
        confirmed_by=decision.confirmed_by,
        confirmed_at=decision.confirmed_at,
        bank=decision.bank,
        bank_entry_ids=list(decision.bank_entry_ids),
    )


def sla_of(case: Case) -> SlaOut:
    def seconds(end: Any) -> float | None:
        return None if end is None else round((end - case.detected_at).total_seconds(), 3)

    active = case.status in ACTIVE_STATUSES
    return SlaOut(
        detected_at=case.detected_at,
        first_reviewed_at=case.first_reviewed_at,
        decided_at=case.decided_at,
        due_at=case.due_at,
        overdue=bool(active and case.due_at is not None and case.due_at < utcnow()),
        seconds_to_first_review=seconds(case.first_reviewed_at),
        seconds_to_decision=seconds(case.decided_at),
    )


def get_case_summary(session: Session, case_id: int) -> CaseSummary | None:
    case = repository.get_case(session, case_id)
    return summaries(session, [case])[0] if case is not None else None


def case_detail(session: Session, settings: Settings, case: Case) -> CaseOut:
    """Everything about one case a reviewer may see (no media bytes, no hash values)."""
    summary = summaries(session, [case])[0]
    events = repository.events_about(session, f"case:{case.id}")
    action_rows = actions.list_actions(session, case_id=case.id, limit=500)
    return CaseOut(
        **summary.model_dump(),
        media_id=case.media_id,
        signals=[_signal_out(s) for s in repository.signals_of(session, case.id)],
        decisions=[decision_out(settings, d) for d in repository.decisions_of(session, case.id)],
        sla=sla_of(case),
        timeline=[
            TimelineItem(
                event_id=e.id,
                occurred_at=e.occurred_at,
                kind=e.kind,
                actor=e.actor,
                payload=dict(e.payload),
            )
            for e in events
        ],
        actions=[a.model_dump() for a in actions.describe(session, list(reversed(action_rows)))],
        appeals=[c.id for c in repository.appeals_of(session, case.id)],
    )
