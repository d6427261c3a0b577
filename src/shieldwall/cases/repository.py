"""All SQL for cases, their signals and decisions, scan records and review preferences."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

from sqlalchemy import String, cast, delete, func, or_, select
from sqlalchemy.orm import Session

from shieldwall.audit.models import Event
from shieldwall.cases.models import Case, CaseDecision, CaseSignal, ReviewPreference, ScanRecord
from shieldwall.cases.schemas import CaseStatus, DecisionState
from shieldwall.users.models import User

# ---- cases ---------------------------------------------------------------------------------


#: Case ids are 32-bit integers: a larger number names no case (and overflows the driver).
MAX_CASE_ID = 2**31 - 1


def get_case(session: Session, case_id: int, *, for_update: bool = False) -> Case | None:
    if not 1 <= case_id <= MAX_CASE_ID:
        return None
    stmt = select(Case).where(Case.id == case_id)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def active_case(session: Session, active_key: str, *, for_update: bool = False) -> Case | None:
    """The active case holding ``active_key``, if any."""
    stmt = select(Case).where(Case.active_key == active_key)
    if for_update:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return session.scalar(stmt)


def _queue_filters(
    *,
    statuses: Sequence[CaseStatus] | None,
    source: str | None,
    assignee_id: int | None,
    unassigned: bool,
    principle: int | None,
    label: str | None,
    subject_ref: str | None,
    overdue_at: datetime | None,
) -> list[object]:
    where: list[object] = []
    if statuses:
        where.append(Case.status.in_([s.value for s in statuses]))
    # Lists are stored as JSON text ('["a", "b"]' on both databases): a quoted member test
    # is exact because values are from fixed vocabularies without quotes.
    if source:
        where.append(cast(Case.sources, String).like(f'%"{source}"%'))
    if label:
        where.append(cast(Case.labels, String).like(f'%"{label}"%'))
    if principle is not None:
        where.append(
            or_(
                cast(Case.principles, String).like(f"%[{principle}]%"),
                cast(Case.principles, String).like(f"%[{principle},%"),
                cast(Case.principles, String).like(f"% {principle},%"),
                cast(Case.principles, String).like(f"% {principle}]%"),
                cast(Case.principles, String).like(f"%,{principle},%"),
                cast(Case.principles, String).like(f"%,{principle}]%"),
            )
        )
    if assignee_id is not None:
        where.append(Case.assignee_id == assignee_id)
    if unassigned:
        where.append(Case.assignee_id.is_(None))
    if subject_ref:
        where.append(Case.subject_ref == subject_ref)
    if overdue_at is not None:
        where.append(Case.due_at.is_not(None))
        where.append(Case.due_at < overdue_at)
    return where


def list_cases(
    session: Session,
    *,
    statuses: Sequence[CaseStatus] | None,
    source: str | None = None,
    assignee_id: int | None = None,
    unassigned: bool = False,
    principle: int | None = None,
    label: str | None = None,
    subject_ref: str | None = None,
    overdue_at: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Case], int]:
    """Cases in queue order — priority (highest first), then age (oldest first) — and how
    many match in all."""
    where = _queue_filters(
        statuses=statuses,
        source=source,
        assignee_id=assignee_id,
        unassigned=unassigned,
        principle=principle,
        label=label,
        subject_ref=subject_ref,
        overdue_at=overdue_at,
    )
    stmt = (
        select(Case)
        .where(*where)  # type: ignore[arg-type]
        .order_by(Case.priority.desc(), Case.detected_at.asc(), Case.id.asc())
        .limit(limit)
        .offset(offset)
    )
    total = session.scalar(select(func.count()).select_from(Case).where(*where))  # type: ignore[arg-type]
    return list(session.scalars(stmt)), int(total or 0)


def appeals_of(session: Session, case_id: int) -> list[Case]:
    stmt = select(Case).where(Case.appeal_of_case_id == case_id).order_by(Case.id)
    return list(session.scalars(stmt))


def usernames(session: Session, user_ids: Sequence[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    rows = session.execute(select(User.id, User.username).where(User.id.in_(set(user_ids))))
    return {int(uid): str(name) for uid, name in rows}


def get_user_by_name(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


# ---- signals -------------------------------------------------------------------------------


def signals_of(session: Session, case_id: int) -> list[CaseSignal]:
    stmt = select(CaseSignal).where(CaseSignal.case_id == case_id).order_by(CaseSignal.id)
    return list(session.scalars(stmt))


def signal_with_ref(session: Session, case_id: int, ref: str) -> CaseSignal | None:
    stmt = select(CaseSignal).where(CaseSignal.case_id == case_id, CaseSignal.ref == ref)
    return session.scalar(stmt)


# ---- decisions -----------------------------------------------------------------------------


def decisions_of(session: Session, case_id: int) -> list[CaseDecision]:
    stmt = select(CaseDecision).where(CaseDecision.case_id == case_id).order_by(CaseDecision.id)
    return list(session.scalars(stmt))


def pending_decision(session: Session, case_id: int) -> CaseDecision | None:
    stmt = select(CaseDecision).where(
        CaseDecision.case_id == case_id,
        CaseDecision.state == DecisionState.AWAITING_CONFIRMATION.value,
    )
    return session.scalar(stmt)


def final_decision(session: Session, case_id: int) -> CaseDecision | None:
    stmt = (
        select(CaseDecision)
        .where(
            CaseDecision.case_id == case_id,
            CaseDecision.state == DecisionState.FINAL.value,
        )
        .order_by(CaseDecision.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)


def pending_case_ids(session: Session, case_ids: Sequence[int]) -> set[int]:
    """Which of ``case_ids`` have a decision awaiting confirmation."""
    if not case_ids:
        return set()
    stmt = select(CaseDecision.case_id).where(
        CaseDecision.case_id.in_(list(case_ids)),
        CaseDecision.state == DecisionState.AWAITING_CONFIRMATION.value,
    )
    return {int(c) for c in session.scalars(stmt)}


def iter_sealed_notes(session: Session) -> Iterator[CaseDecision]:
    stmt = select(CaseDecision).where(
        or_(CaseDecision.note_sealed.is_not(None), CaseDecision.confirm_note_sealed.is_not(None))
    )
    yield from session.scalars(stmt.execution_options(yield_per=500))


# ---- timeline ------------------------------------------------------------------------------


def events_about(session: Session, subject: str, *, limit: int = 500) -> list[Event]:
    """Events whose subject is ``subject``, oldest first."""
    stmt = select(Event).where(Event.subject == subject).order_by(Event.id.asc()).limit(limit)
    return list(session.scalars(stmt))


# ---- scan records --------------------------------------------------------------------------


def scans_by_exact(
    session: Session, *, md5: Sequence[str], sha256: Sequence[str], now: datetime
) -> list[ScanRecord]:
    conditions = []
    if md5:
        conditions.append(ScanRecord.md5.in_(list(md5)))
    if sha256:
        conditions.append(ScanRecord.sha256.in_(list(sha256)))
    if not conditions:
        return []
    stmt = select(ScanRecord).where(or_(*conditions), ScanRecord.retain_until > now)
    return list(session.scalars(stmt))


def iter_scan_pdqs(
    session: Session, *, now: datetime, batch: int = 5000
) -> Iterator[list[tuple[int, str]]]:
    """(id, pdq) of retained scan records with a PDQ hash, in id order, in batches."""
    last = 0
    while True:
        rows = session.execute(
            select(ScanRecord.id, ScanRecord.pdq)
            .where(
                ScanRecord.id > last,
                ScanRecord.pdq.is_not(None),
                ScanRecord.retain_until > now,
            )
            .order_by(ScanRecord.id)
            .limit(batch)
        ).all()
        if not rows:
            return
        yield [(int(i), str(p)) for i, p in rows]
        last = int(rows[-1][0])


def scans_by_ids(session: Session, ids: Sequence[int]) -> list[ScanRecord]:
    out: list[ScanRecord] = []
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), 500):
        stmt = select(ScanRecord).where(ScanRecord.id.in_(wanted[start : start + 500]))
        out.extend(session.scalars(stmt))
    return out


def delete_expired_scans(session: Session, now: datetime) -> int:
    result = session.execute(delete(ScanRecord).where(ScanRecord.retain_until <= now))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# ---- preferences ---------------------------------------------------------------------------


def get_preference(session: Session, owner: str) -> ReviewPreference | None:
    return session.scalar(select(ReviewPreference).where(ReviewPreference.owner == owner))
