"""User reports (principle 8): rules. Flushes, never commits.

A platform's servers send a user's report (``POST /v1/user-reports``). It is rate-limited per
reporter, its free text is sealed at rest, and it becomes a ``user_report`` signal on a case
through :func:`shieldwall.cases.service.attach_signal`. Repeated reports of the same content
(same content id, same URL or same hash) are filed under the subject of the earliest one, so
they join one case. Reviewers (``cases:read``) read a report, text included, through
:func:`report_for_review`; every such view writes an event.

Survivors' takedown requests live in :mod:`shieldwall.intake.takedowns`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.cases import service as cases
from shieldwall.cases.schemas import CaseSource, SignalIn, Subject, SubjectKind
from shieldwall.config import Settings
from shieldwall.core.access import Principal, Scope
from shieldwall.core.errors import InvalidInput, NotFound, PermissionDenied, ServiceUnavailable
from shieldwall.core.sealing import SealError, seal, unseal
from shieldwall.core.signals import SignalType
from shieldwall.core.taxonomy import REPORT_CATEGORIES, ReportCategory
from shieldwall.db.base import utcnow
from shieldwall.intake import ratelimit, repository
from shieldwall.intake.models import UserReport
from shieldwall.intake.schemas import MAX_REF, HashIn, UserReportIn, UserReportOut

#: How many hex characters of the reporter's keyed hash reviewers see as a pseudonym.
PSEUDONYM_CHARS = 12


def require_reviewer(actor: Principal) -> None:
    """Only people (or keys) holding ``cases:read`` see what reporters and survivors wrote."""
    if not actor.can(Scope.CASES_READ):
        raise PermissionDenied(
            f"reading reports needs the '{Scope.CASES_READ.value}' scope, which "
            f"{actor.actor} does not hold",
            required_scope=Scope.CASES_READ.value,
        )


def seal_text(settings: Settings, text: str | None, aad: str) -> bytes | None:
    if not text:
        return None
    return seal(text.encode("utf-8"), settings.resolved_keyring(), aad=aad.encode())


def unseal_text(settings: Settings, blob: bytes | None, aad: str) -> str | None:
    if blob is None:
        return None
    try:
        return unseal(blob, settings.resolved_keyring(), aad=aad.encode()).decode("utf-8")
    except SealError as exc:
        raise ServiceUnavailable(
            f"{aad.split(':', 2)[0].replace('_', ' ')} text cannot be decrypted: {exc}; check "
            "that this server has the master key it was written with "
            "(SHIELDWALL_MASTER_KEY / SHIELDWALL_PREVIOUS_MASTER_KEYS)"
        ) from None


def stored_hashes(hashes: Iterable[HashIn]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for item in hashes:
        row: dict[str, object] = {"signal_type": item.signal_type.value, "value": item.value}
        if item.quality is not None:
            row["quality"] = item.quality
        out.append(row)
    return out


def hash_pairs(rows: Iterable[dict[str, object]]) -> list[tuple[str, str]]:
    return [(str(r["signal_type"]), str(r["value"])) for r in rows]


# ---- what a report points at ---------------------------------------------------------------


def lookup_key(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}\0{value}".encode()).hexdigest()


def content_keys(data: UserReportIn) -> list[str]:
    """The lookup keys by which repeated reports of the same content find each other."""
    keys: list[str] = []
    if data.content_id:
        keys.append(lookup_key("content", data.content_id))
    if data.url is not None:
        keys.append(lookup_key("url", str(data.url)))
    keys.extend(lookup_key(h.signal_type.value, h.value) for h in data.hashes)
    return list(dict.fromkeys(keys))


def _ref(prefix: str, value: str) -> str:
    """``prefix:value``, or ``prefix-sha256:<digest>`` when that would not fit a case ref."""
    text = f"{prefix}:{value}"
    if len(text) <= MAX_REF:
        return text
    return f"{prefix}-sha256:{hashlib.sha256(value.encode()).hexdigest()}"


def subject_for(data: UserReportIn) -> Subject:
    """The case subject of a report that nothing earlier points at: the content (by id, URL
    or first exact hash), else the conversation, else the account."""
    if data.content_id:
        return Subject(SubjectKind.CONTENT.value, data.content_id, account_ref=data.account_id)
    if data.url is not None:
        return Subject(SubjectKind.CONTENT.value, _ref("url", str(data.url)), data.account_id)
    if data.hashes:
        perceptual = (SignalType.PDQ, SignalType.VPDQ)
        exact = [h for h in data.hashes if h.signal_type not in perceptual]
        first = (exact or data.hashes)[0]
        return Subject(
            SubjectKind.CONTENT.value, _ref(first.signal_type.value, first.value), data.account_id
        )
    if data.conversation_id:
        return Subject(
            SubjectKind.CONVERSATION.value, data.conversation_id, account_ref=data.account_id
        )
    assert data.account_id is not None  # the schema requires one of them
    return Subject(SubjectKind.ACCOUNT.value, data.account_id)


# ---- submitting ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReportReceived:
    report: UserReport
    joined_report_id: int | None
    """The earlier report whose subject this one joined (None: the first about it)."""


def report_limit(settings: Settings) -> ratelimit.Limit:
    return ratelimit.Limit(
        "user_report",
        settings.user_report_rate_limit,
        settings.user_report_rate_window_seconds,
        what="reports from this reporter",
    )


def submit_report(
    session: Session,
    settings: Settings,
    data: UserReportIn,
    *,
    actor: Principal,
    now: datetime | None = None,
) -> ReportReceived:
    """Store a user report and attach it to a case; all or nothing.

    :class:`InvalidInput` for text over ``user_report_max_text_chars``;
    :class:`~shieldwall.core.errors.RateLimited` when the reporter sent too many.
    """
    now = now or utcnow()
    if len(data.text) > settings.user_report_max_text_chars:
        raise InvalidInput(
            f"text is {len(data.text)} characters long; at most "
            f"{settings.user_report_max_text_chars} are accepted",
            field="text",
        )
    secret = settings.resolved_secret_key()
    reporter_key = ratelimit.caller_key(secret, "reporter", f"{actor.actor}\0{data.reporter_id}")
    ratelimit.hit(session, report_limit(settings), reporter_key, now=now)

    keys = content_keys(data)
    earlier = repository.earliest_report_with_keys(session, keys)
    if earlier is not None:
        subject = Subject(
            earlier.subject_kind,
            earlier.subject_ref,
            account_ref=data.account_id or earlier.account_id,
        )
    else:
        subject = subject_for(data)

    report = UserReport(
        received_at=now,
        submitted_by=actor.actor,
        reporter_key=reporter_key,
        category=data.category.value,
        child_in_danger=data.child_in_danger,
        content_id=data.content_id,
        url=str(data.url) if data.url is not None else None,
        account_id=data.account_id,
        conversation_id=data.conversation_id,
        hashes=stored_hashes(data.hashes),
        text_chars=len(data.text),
        subject_kind=subject.kind,
        subject_ref=subject.ref,
    )
    session.add(report)
    session.flush()
    report.text_sealed = seal_text(settings, data.text, f"user_report:{report.id}:text")
    repository.add_report_keys(session, report.id, keys)

    principles = REPORT_CATEGORIES[data.category].principles
    audit.record(
        session,
        "user_report.received",
        actor=actor,
        subject=f"user_report:{report.id}",
        principles=principles,
        payload={
            "report_id": report.id,
            "category": report.category,
            "child_in_danger": report.child_in_danger,
            "hash_count": len(data.hashes),
            "has_text": bool(data.text),
            "joined_report_id": earlier.id if earlier is not None else None,
        },
        at=now,
    )
    case = cases.attach_signal(
        session,
        settings,
        subject=subject,
        signal=SignalIn(
            source=CaseSource.USER_REPORT,
            principles=principles,
            summary={
                "report_id": report.id,
                "category": report.category,
                "child_in_danger": report.child_in_danger,
                "hash_count": len(data.hashes),
                "has_text": bool(data.text),
            },
            labels=[report.category],
            child_in_danger=data.child_in_danger,
            hashes=hash_pairs(report.hashes),
            ref=f"user_report:{report.id}",
        ),
        actor=actor,
    )
    report.case_id = case.id
    session.flush()
    return ReportReceived(report, earlier.id if earlier is not None else None)


# ---- reading (reviewers) -------------------------------------------------------------------


def get_report(session: Session, report_id: int) -> UserReport:
    report = repository.get_report(session, report_id)
    if report is None:
        raise NotFound(f"no user report {report_id}", report_id=report_id)
    return report


def report_text(session: Session, settings: Settings, report_id: int, *, actor: Principal) -> str:
    """The reporter's free text, decrypted, for a reviewer (``cases:read``); writes
    ``user_report.viewed``."""
    return report_for_review(session, settings, report_id, actor=actor).text


def report_for_review(
    session: Session, settings: Settings, report_id: int, *, actor: Principal
) -> UserReportOut:
    """The whole report, text decrypted, for a reviewer (``cases:read``). Every view writes
    one ``user_report.viewed`` event (who, which report, which case)."""
    require_reviewer(actor)
    report = get_report(session, report_id)
    text = unseal_text(settings, report.text_sealed, f"user_report:{report.id}:text") or ""
    audit.record(
        session,
        "user_report.viewed",
        actor=actor,
        subject=f"user_report:{report.id}",
        principles=(8,),
        payload={"report_id": report.id, "case_id": report.case_id},
    )
    return UserReportOut(
        id=report.id,
        received_at=report.received_at,
        submitted_by=report.submitted_by,
        reporter=report.reporter_key[:PSEUDONYM_CHARS],
        category=ReportCategory(report.category),
        child_in_danger=report.child_in_danger,
        content_id=report.content_id,
        url=report.url,
        account_id=report.account_id,
        conversation_id=report.conversation_id,
        hashes=list(report.hashes),
        text=text,
        case_id=report.case_id,
    )


def reports_for_case(session: Session, case_id: int) -> list[UserReport]:
    """The reports filed into a case, oldest first (text still sealed)."""
    return repository.reports_for_case(session, case_id)
