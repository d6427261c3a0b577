"""Rules for cases: signals in, the queue, assignment, decisions. Flushes, never commits.

One active case per subject
    A case is *active* while open, in review or escalated. :func:`attach_signal` joins a
    signal to the subject's active case or opens one. The database keeps this true across
    processes: ``cases.active_key`` is unique and set only while a case is active. A writer
    that loses an insert race gets an ``IntegrityError`` inside a savepoint and joins the
    winner's case instead.

Lock order
    Every state change writes an event, and writing an event locks the event chain head
    until commit. Functions here that read-then-write a case take that lock *first*
    (:func:`serialise`), so two writers never hold a case row and the chain head in
    opposite orders (which PostgreSQL would break as a deadlock). It costs nothing extra:
    the transaction would hold the head lock from its first event to commit anyway. Call
    these functions late in a transaction, after slow work (hashing, HTTP). Decisions may
    change banks, so they take the bank change lock before the event chain
    (:func:`serialise_for_banks`), the order banks.service uses.

Decisions
    Only holders of ``cases:write`` decide. ``violating`` needs a label from
    :mod:`shieldwall.core.taxonomy`; labels listed in ``case_two_person_labels`` wait for
    a *different* reviewer to confirm (:func:`confirm`). A final decision sets the case to
    ``decided``, runs its effects (:mod:`shieldwall.cases.effects`: hash-on-confirm, actions
    to the platform, appeal outcomes) and then the hooks other domains registered with
    :func:`register_decision_hook`, all in the caller's transaction.
"""

from __future__ import annotations

import importlib
import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shieldwall.audit import repository as audit_repository
from shieldwall.audit import service as audit
from shieldwall.banks.changes import change_seq
from shieldwall.cases import priority as rules
from shieldwall.cases import repository
from shieldwall.cases.models import Case, CaseDecision, CaseSignal
from shieldwall.cases.preferences import (
    organisation_preferences,
    own_preferences,
    preferences_for,
    set_organisation_preferences,
    set_own_preferences,
)
from shieldwall.cases.queries import (
    case_detail,
    get_case_summary,
    is_awaiting_confirmation,
    media_ids,
    next_in_queue,
    note_aad,
    queue,
    reviewers,
    status_counts,
    summaries,
    usernames,
)
from shieldwall.cases.schemas import (
    ACTIVE_STATUSES,
    MAX_NOTE,
    CaseOut,
    CaseSource,
    CaseStatus,
    DecisionState,
    Outcome,
    SignalIn,
    Subject,
    clean_ref,
)
from shieldwall.config import Settings
from shieldwall.core.access import Principal, Scope, scopes_for_role
from shieldwall.core.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from shieldwall.core.principles import validate_principles
from shieldwall.core.sealing import rewrap, seal
from shieldwall.core.signals import normalise
from shieldwall.core.taxonomy import DecisionLabel
from shieldwall.db.base import as_utc, utcnow
from shieldwall.users import repository as users_repository

__all__ = [
    "DecisionHook",
    "assign",
    "attach_signal",
    "case_detail",
    "close",
    "confirm",
    "decide",
    "get_case",
    "get_case_detail",
    "get_case_summary",
    "is_awaiting_confirmation",
    "media_ids",
    "next_in_queue",
    "organisation_preferences",
    "own_preferences",
    "preferences_for",
    "queue",
    "register_decision_hook",
    "reviewers",
    "rewrap_notes",
    "set_organisation_preferences",
    "set_own_preferences",
    "start_review",
    "status_counts",
    "summaries",
    "usernames",
]

DecisionHook = Callable[[Session, Settings, Case, Principal], None]

#: Principles a signal counts for when it names none.
DEFAULT_PRINCIPLES: dict[CaseSource, tuple[int, ...]] = {
    CaseSource.HASH_MATCH: (1,),
    CaseSource.CLASSIFIER: (2,),
    CaseSource.USER_REPORT: (8,),
    CaseSource.SURVIVOR_REQUEST: (8,),
    CaseSource.APPEAL: (8,),
    CaseSource.GROOMING: (3,),
    CaseSource.SOLICITATION: (4,),
    CaseSource.URL_MATCH: (1, 4),
}
#: Largest signal summary (as compact JSON).
MAX_SUMMARY_BYTES = 4096
MAX_SIGNAL_LABELS = 50
MAX_SIGNAL_HASHES = 50
_LABEL = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")

_hooks: dict[CaseSource, list[DecisionHook]] = {}
#: Modules that register decision hooks when imported. :func:`_finalise` imports them first,
#: so a decision runs the same hooks whether it came from the API, the web or the CLI.
HOOK_MODULES: tuple[str, ...] = (
    "shieldwall.intake.takedowns",
    "shieldwall.evidence.hooks",
    "shieldwall.reporting.hooks",
    "shieldwall.exchanges.feedback",
    "shieldwall.textsignals.conversations",
)
_hook_modules_loaded = False


def _load_hook_modules() -> None:
    global _hook_modules_loaded
    if _hook_modules_loaded:
        return
    for name in HOOK_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if not (name == missing or name.startswith(missing + ".")):
                raise  # the module exists but something it needs is missing
    _hook_modules_loaded = True


def register_decision_hook(source: CaseSource, hook: DecisionHook) -> None:
    """Call ``hook(session, settings, case, actor)`` whenever a case holding a ``source``
    signal gets its final decision (after two-person confirmation when that applies).
    Runs in the deciding transaction: an exception undoes the decision. Registering the same
    hook twice has no effect."""
    bucket = _hooks.setdefault(CaseSource(source), [])
    if hook not in bucket:
        bucket.append(hook)


def decision_hooks(source: CaseSource) -> tuple[DecisionHook, ...]:
    return tuple(_hooks.get(CaseSource(source), ()))


# ---- small helpers -------------------------------------------------------------------------


def subject_of(case: Case) -> str:
    return f"case:{case.id}"


def actor_ref(actor: Principal | str) -> str:
    return actor.actor if isinstance(actor, Principal) else actor


def reviewer_ref(actor: Principal) -> str:
    """Who a reviewer is, whichever way they came in (web login or personal API key)."""
    return f"user:{actor.user_id}" if actor.user_id is not None else actor.actor


def serialise(session: Session) -> None:
    """Take the event chain lock now (see the module docstring: lock order)."""
    audit_repository.lock_head(session)


def serialise_for_banks(session: Session) -> None:
    """Take the bank change lock, then the event chain lock: the order every bank change
    takes them in (banks.service stamps a change before recording its event). A decision
    may change banks (hash-on-confirm, an upheld appeal, a survivor's approved request), so
    it must not hold the event chain while waiting for the bank lock."""
    change_seq(session)
    audit_repository.lock_head(session)


def _record(
    session: Session,
    kind: str,
    case: Case,
    actor: Principal | str,
    payload: dict[str, Any],
    principles: Sequence[int] | None = None,
) -> None:
    audit.record(
        session,
        kind,
        actor=actor,
        subject=subject_of(case),
        principles=principles if principles is not None else case.principles,
        payload=payload,
    )


def priority_rules(settings: Settings) -> tuple[rules.PriorityRule, ...]:
    return rules.parse_rules(settings.case_priority_rules)


def _reprioritise(settings: Settings, case: Case) -> rules.PriorityResult:
    facts = rules.facts_of(
        sources=case.sources,
        labels=case.labels,
        child_in_danger=case.child_in_danger,
        top_score=case.top_score,
        escalated=case.status == CaseStatus.ESCALATED,
    )
    result = rules.evaluate(facts, priority_rules(settings))
    case.priority = result.priority
    case.priority_rule = result.rule
    detected = as_utc(case.detected_at) or utcnow()
    case.due_at = detected + timedelta(hours=result.due_hours)
    return result


# ---- signals -------------------------------------------------------------------------------


def _check_signal(signal: SignalIn) -> tuple[CaseSource, tuple[int, ...], list[list[str]]]:
    try:
        source = CaseSource(signal.source)
    except ValueError:
        known = ", ".join(s.value for s in CaseSource)
        raise InvalidInput(f"unknown signal source; known: {known}", field="source") from None
    try:
        principles = validate_principles(tuple(signal.principles) or DEFAULT_PRINCIPLES[source])
    except ValueError as exc:
        raise InvalidInput(str(exc), field="principles") from None
    if not isinstance(signal.summary, dict):
        raise InvalidInput("a signal summary must be an object", field="summary")
    try:
        size = len(json.dumps(signal.summary, separators=(",", ":"), default=None))
    except (TypeError, ValueError):
        raise InvalidInput("a signal summary must be plain JSON", field="summary") from None
    if size > MAX_SUMMARY_BYTES:
        raise InvalidInput(
            f"a signal summary is limited to {MAX_SUMMARY_BYTES} bytes (ids and counts only)",
            field="summary",
        )
    if len(signal.labels) > MAX_SIGNAL_LABELS:
        raise InvalidInput(f"at most {MAX_SIGNAL_LABELS} labels per signal", field="labels")
    for label in signal.labels:
        if not isinstance(label, str) or not _LABEL.fullmatch(label):
            raise InvalidInput(
                "labels are 1-40 letters, digits, '_', '.', ':' or '-'", field="labels"
            )
    if signal.score is not None and (
        isinstance(signal.score, bool)
        or not math.isfinite(signal.score)
        or not 0.0 <= signal.score <= 1.0
    ):
        raise InvalidInput("a signal score must be between 0 and 1", field="score")
    if len(signal.hashes) > MAX_SIGNAL_HASHES:
        raise InvalidInput(f"at most {MAX_SIGNAL_HASHES} hashes per signal", field="hashes")
    hashes: list[list[str]] = []
    for signal_type, value in signal.hashes:
        pair = [str(signal_type).strip().lower(), normalise(str(signal_type), value)]
        if pair not in hashes:
            hashes.append(pair)
    return source, principles, hashes


def open_case(
    session: Session,
    *,
    subject: Subject,
    active_key: str,
    appeal_of: int | None = None,
) -> tuple[Case, bool]:
    """Insert a new active case, or — when another transaction got there first — return the
    case that now holds ``active_key``. (case, created)."""
    now = utcnow()
    case = Case(
        subject_kind=subject.kind,
        subject_ref=subject.ref,
        account_ref=subject.account_ref,
        active_key=active_key,
        status=CaseStatus.OPEN.value,
        sources=[],
        principles=[],
        labels=[],
        priority=0,
        priority_rule="",
        child_in_danger=False,
        signal_count=0,
        detected_at=now,
        created_at=now,
        updated_at=now,
        appeal_of_case_id=appeal_of,
    )
    try:
        with session.begin_nested():
            session.add(case)
            session.flush()
    except IntegrityError:
        existing = repository.active_case(session, active_key, for_update=True)
        if existing is None:
            raise
        return existing, False
    return case, True


def attach_signal(
    session: Session,
    settings: Settings,
    *,
    subject: Subject,
    signal: SignalIn,
    actor: Principal | str,
) -> Case:
    """Join ``signal`` to the subject's active case, or open one.

    Recomputes the case's priority and due time. Events: ``case.opened`` (a new case, with
    its first signal) or ``case.signal_added``. A signal whose ``ref`` the case already
    holds adds nothing (safe to retry). Raises :class:`InvalidInput` for a malformed
    signal, before anything is written.
    """
    source, principles, hashes = _check_signal(signal)
    ref = clean_ref(signal.ref, field_name="ref")
    serialise(session)
    case = repository.active_case(session, subject.key, for_update=True)
    created = False
    if case is None:
        case, created = open_case(session, subject=subject, active_key=subject.key)
    elif ref is not None and repository.signal_with_ref(session, case.id, ref) is not None:
        return case
    return add_signal(
        session,
        settings,
        case,
        source=source,
        principles=principles,
        hashes=hashes,
        ref=ref,
        signal=signal,
        actor=actor,
        created=created,
        subject=subject,
    )


def add_signal(
    session: Session,
    settings: Settings,
    case: Case,
    *,
    source: CaseSource,
    principles: Sequence[int],
    hashes: list[list[str]],
    ref: str | None,
    signal: SignalIn,
    actor: Principal | str,
    created: bool,
    subject: Subject | None = None,
    extra: dict[str, Any] | None = None,
) -> Case:
    now = utcnow()
    row = CaseSignal(
        case_id=case.id,
        source=source.value,
        ref=ref,
        principles=list(principles),
        summary=dict(signal.summary),
        labels=sorted(set(signal.labels)),
        score=signal.score,
        child_in_danger=bool(signal.child_in_danger),
        media_id=signal.media_id,
        hashes=hashes,
        actor=actor_ref(actor),
        received_at=now,
    )
    session.add(row)
    before = case.priority
    case.sources = sorted({*case.sources, source.value})
    case.principles = sorted({*case.principles, *principles})
    case.labels = sorted({*case.labels, *signal.labels})
    case.child_in_danger = case.child_in_danger or bool(signal.child_in_danger)
    if signal.score is not None:
        case.top_score = max(signal.score, case.top_score or 0.0)
    case.signal_count = case.signal_count + 1
    if signal.media_id is not None:
        case.media_id = signal.media_id
    if subject is not None and case.account_ref is None and subject.account_ref:
        case.account_ref = subject.account_ref
    case.updated_at = now
    result = _reprioritise(settings, case)
    session.flush()
    payload: dict[str, Any] = {
        "signal_id": row.id,
        "source": source.value,
        "priority": case.priority,
        "rule": result.rule,
        "labels": row.labels,
        "child_in_danger": row.child_in_danger,
        **(extra or {}),
    }
    if ref is not None:
        payload["ref"] = ref
    if created:
        payload["subject_kind"] = case.subject_kind
        _record(session, "case.opened", case, actor, payload)
    else:
        payload["priority_before"] = before
        _record(session, "case.signal_added", case, actor, payload)
    return case


# ---- reading -------------------------------------------------------------------------------


def get_case(session: Session, case_id: int, *, for_update: bool = False) -> Case:
    case = repository.get_case(session, case_id, for_update=for_update)
    if case is None:
        raise NotFound(f"no case with id {case_id}", case_id=case_id)
    return case


def _seal_note(settings: Settings, case_id: int, note: str) -> bytes | None:
    if not note:
        return None
    return seal(note.encode("utf-8"), settings.resolved_keyring(), aad=note_aad(case_id))


def rewrap_notes(session: Session, settings: Settings) -> int:
    """Re-wrap every sealed note under the current master key (after a rotation); returns
    how many notes were re-wrapped."""
    keyring = settings.resolved_keyring()
    count = 0
    for decision in repository.iter_sealed_notes(session):
        aad = note_aad(decision.case_id)
        if decision.note_sealed is not None:
            decision.note_sealed = rewrap(decision.note_sealed, keyring, aad=aad)
            count += 1
        if decision.confirm_note_sealed is not None:
            decision.confirm_note_sealed = rewrap(decision.confirm_note_sealed, keyring, aad=aad)
            count += 1
    session.flush()
    return count


# ---- review --------------------------------------------------------------------------------


def _require_writer(actor: Principal) -> None:
    if not actor.can(Scope.CASES_WRITE):
        raise PermissionDenied(
            f"deciding cases needs the '{Scope.CASES_WRITE.value}' scope, which "
            f"{actor.actor} does not hold",
            required_scope=Scope.CASES_WRITE.value,
        )


def _require_active(case: Case, what: str) -> None:
    if case.status not in ACTIVE_STATUSES:
        raise Conflict(
            f"case {case.id} is {case.status}; only open, in-review or escalated cases can "
            f"be {what}",
            case_id=case.id,
            case_status=case.status,
        )


def start_review(session: Session, case_id: int, *, actor: Principal) -> Case:
    """A reviewer opened the case: starts the first-review clock once (event
    ``case.review_started``); moves an open case to in review. Later calls change nothing."""
    _require_writer(actor)
    case = get_case(session, case_id)
    if case.first_reviewed_at is not None or case.status not in ACTIVE_STATUSES:
        return case
    serialise(session)
    case = get_case(session, case_id, for_update=True)
    if case.first_reviewed_at is not None:
        return case
    _mark_reviewed(case)
    session.flush()
    _record(session, "case.review_started", case, actor, {"status": case.status})
    return case


def _mark_reviewed(case: Case) -> None:
    now = utcnow()
    if case.first_reviewed_at is None:
        case.first_reviewed_at = now
    if case.status == CaseStatus.OPEN:
        case.status = CaseStatus.IN_REVIEW.value
    case.updated_at = now


def assign(
    session: Session,
    settings: Settings,
    case_id: int,
    *,
    username: str | None = None,
    unassign: bool = False,
    actor: Principal,
) -> Case:
    """Give the case to ``username`` (an active person who may decide cases), to the caller
    when no username is given, or to nobody with ``unassign``. An open case moves to in
    review. Event ``case.assigned`` or ``case.unassigned``; nothing when unchanged."""
    _require_writer(actor)
    assignee_id: int | None = None
    if not unassign:
        if username:
            user = users_repository.get_user_by_username(session, username.strip().lower())
            if user is None:
                raise NotFound(f"no user named {username[:64]!r}", username=username[:64])
        elif actor.user_id is not None:
            user = users_repository.get_user(session, actor.user_id)
            if user is None:
                raise NotFound(f"no user with id {actor.user_id}")
        else:
            raise InvalidInput(
                f"{actor.actor} is not a person; name the reviewer to assign", field="username"
            )
        if not user.is_active or Scope.CASES_WRITE not in scopes_for_role(user.role):
            raise InvalidInput(
                f"{user.username} cannot review cases (needs an active admin or reviewer)",
                field="username",
            )
        assignee_id = user.id
    serialise(session)
    case = get_case(session, case_id, for_update=True)
    _require_active(case, "assigned")
    if case.assignee_id == assignee_id:
        return case
    previous = case.assignee_id
    case.assignee_id = assignee_id
    case.assigned_at = utcnow() if assignee_id is not None else None
    if assignee_id is not None and case.status == CaseStatus.OPEN:
        case.status = CaseStatus.IN_REVIEW.value
    case.updated_at = utcnow()
    session.flush()
    if assignee_id is None:
        _record(session, "case.unassigned", case, actor, {"previous_user_id": previous})
    else:
        _record(
            session,
            "case.assigned",
            case,
            actor,
            {"user_id": assignee_id, "previous_user_id": previous},
        )
    return case


def check_note(note: str | None) -> str:
    text = (note or "").strip()
    if len(text) > MAX_NOTE:
        raise InvalidInput(
            f"a note is limited to {MAX_NOTE} characters (got {len(text)})", field="note"
        )
    if "\x00" in text:
        raise InvalidInput("a note must not contain NUL characters", field="note")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate ("\ud800" in JSON) cannot be sealed
        raise InvalidInput("a note must be valid Unicode text", field="note") from None
    return text


def check_label(outcome: Outcome, label: str | None) -> str | None:
    """The decision label: required (and known) for ``violating``, refused otherwise."""
    known = ", ".join(label.value for label in DecisionLabel)
    text = (label or "").strip()
    if outcome is Outcome.VIOLATING:
        if not text:
            raise InvalidInput(
                f"a violating decision needs a label; known labels: {known}", field="label"
            )
        if text not in DecisionLabel._value2member_map_:
            raise InvalidInput(f"unknown label {text[:40]!r}; known labels: {known}", field="label")
        return text
    if text:
        raise InvalidInput(
            f"a label goes with a violating decision only, not {outcome.value}", field="label"
        )
    return None


def _check_appeal_reviewer(session: Session, case: Case, who: str) -> None:
    if case.appeal_of_case_id is None:
        return
    original = repository.final_decision(session, case.appeal_of_case_id)
    if original is None:
        return
    if who in {original.decided_by, original.confirmed_by}:
        raise PermissionDenied(
            f"case {case.id} appeals a decision you took part in (case "
            f"{case.appeal_of_case_id}); a different reviewer must decide it",
            case_id=case.id,
        )


def decide(
    session: Session,
    settings: Settings,
    case_id: int,
    *,
    outcome: Outcome,
    label: str | None,
    note: str,
    actor: Principal,
) -> Case:
    """Record a reviewer's decision. ``escalate`` moves the case to escalation; a label in
    ``case_two_person_labels`` waits for :func:`confirm`; anything else is final at once
    (events, effects, hooks). Raises :class:`PermissionDenied` without ``cases:write`` or
    for the original decider of an appeal, :class:`Conflict` for a case that is decided,
    closed or awaiting confirmation, :class:`InvalidInput` for a bad label or note."""
    _require_writer(actor)
    try:
        outcome = Outcome(outcome)
    except ValueError:
        known = ", ".join(o.value for o in Outcome)
        raise InvalidInput(f"unknown outcome; known: {known}", field="outcome") from None
    label = check_label(outcome, label)
    text = check_note(note)
    who = reviewer_ref(actor)
    if outcome is Outcome.ESCALATE:
        serialise(session)
    else:
        serialise_for_banks(session)
    case = get_case(session, case_id, for_update=True)
    if case.status not in ACTIVE_STATUSES:
        raise Conflict(
            f"case {case.id} is already {case.status}; it cannot be decided again",
            case_id=case.id,
            case_status=case.status,
        )
    if repository.pending_decision(session, case.id) is not None:
        raise Conflict(
            f"case {case.id} has a decision awaiting a second reviewer's confirmation; "
            "confirm or reject it first",
            case_id=case.id,
        )
    _check_appeal_reviewer(session, case, who)
    _mark_reviewed(case)
    decision = CaseDecision(
        case_id=case.id,
        outcome=outcome.value,
        label=label,
        note_sealed=_seal_note(settings, case.id, text),
        decided_by=who,
        decided_by_user_id=actor.user_id,
        decided_at=utcnow(),
        bank_entry_ids=[],
    )
    if outcome is Outcome.ESCALATE:
        decision.state = DecisionState.RECORDED.value
        session.add(decision)
        _escalate(session, settings, case)
        _record(
            session,
            "case.escalated",
            case,
            actor,
            {"decision_id": decision.id, "priority": case.priority, "has_note": bool(text)},
        )
        return case
    two_person = label is not None and label in settings.case_two_person_labels
    if two_person:
        decision.state = DecisionState.AWAITING_CONFIRMATION.value
        session.add(decision)
        session.flush()
        _record(
            session,
            "case.decision_proposed",
            case,
            actor,
            {"decision_id": decision.id, "outcome": outcome.value, "label": label},
        )
        return case
    decision.state = DecisionState.FINAL.value
    session.add(decision)
    session.flush()
    _finalise(session, settings, case, decision, actor)
    return case


def _escalate(session: Session, settings: Settings, case: Case) -> None:
    case.status = CaseStatus.ESCALATED.value
    case.updated_at = utcnow()
    _reprioritise(settings, case)
    session.flush()


def confirm(
    session: Session,
    settings: Settings,
    case_id: int,
    *,
    agree: bool = True,
    note: str = "",
    actor: Principal,
) -> Case:
    """A second reviewer confirms (``agree``) or rejects the decision awaiting confirmation.
    Agreeing makes it final; disagreeing escalates the case. The confirmer must differ from
    the decider."""
    _require_writer(actor)
    text = check_note(note)
    who = reviewer_ref(actor)
    serialise_for_banks(session)
    case = get_case(session, case_id, for_update=True)
    pending = repository.pending_decision(session, case.id)
    if pending is None or case.status not in ACTIVE_STATUSES:
        raise Conflict(f"case {case.id} has no decision awaiting confirmation", case_id=case.id)
    if who == pending.decided_by:
        raise PermissionDenied(
            "the two-person rule needs a second reviewer: you made this decision, so "
            "someone else must confirm it",
            case_id=case.id,
        )
    _check_appeal_reviewer(session, case, who)
    pending.confirmed_by = who
    pending.confirmed_by_user_id = actor.user_id
    pending.confirmed_at = utcnow()
    pending.confirm_note_sealed = _seal_note(settings, case.id, text)
    if not agree:
        pending.state = DecisionState.REJECTED.value
        _escalate(session, settings, case)
        _record(
            session,
            "case.decision_rejected",
            case,
            actor,
            {"decision_id": pending.id, "priority": case.priority, "has_note": bool(text)},
        )
        return case
    pending.state = DecisionState.FINAL.value
    session.flush()
    _finalise(session, settings, case, pending, actor)
    return case


def _finalise(
    session: Session,
    settings: Settings,
    case: Case,
    decision: CaseDecision,
    actor: Principal,
) -> None:
    from shieldwall.cases import effects

    now = utcnow()
    case.status = CaseStatus.DECIDED.value
    case.active_key = None
    case.outcome = decision.outcome
    case.label = decision.label
    case.decided_at = now
    case.decided_by = decision.decided_by
    case.updated_at = now
    session.flush()
    payload: dict[str, Any] = {
        "decision_id": decision.id,
        "outcome": decision.outcome,
        "label": decision.label,
        "confirmed": decision.confirmed_by is not None,
        "appeal_of_case_id": case.appeal_of_case_id,
    }
    _record(session, "case.decided", case, actor, payload)
    effects.apply(session, settings, case, decision, actor)
    _load_hook_modules()
    for source in case.sources:
        for hook in decision_hooks(CaseSource(source)):
            hook(session, settings, case, actor)


def close(session: Session, case_id: int, *, actor: Principal) -> Case:
    """Close a decided case (nothing more to do on it). Event ``case.closed``."""
    _require_writer(actor)
    serialise(session)
    case = get_case(session, case_id, for_update=True)
    if case.status != CaseStatus.DECIDED:
        raise Conflict(
            f"case {case.id} is {case.status}; only decided cases can be closed",
            case_id=case.id,
            case_status=case.status,
        )
    case.status = CaseStatus.CLOSED.value
    case.closed_at = utcnow()
    case.updated_at = case.closed_at
    session.flush()
    _record(session, "case.closed", case, actor, {"outcome": case.outcome})
    return case


def get_case_detail(
    session: Session, settings: Settings, case_id: int, *, viewer: Principal | None = None
) -> CaseOut:
    """One case with everything a reviewer sees. When ``viewer`` is a person who may decide
    cases, their first look starts the case's first-review clock (:func:`start_review`)."""
    case = get_case(session, case_id)
    if (
        viewer is not None
        and viewer.user_id is not None
        and viewer.can(Scope.CASES_WRITE)
        and case.first_reviewed_at is None
        and case.status in ACTIVE_STATUSES
    ):
        case = start_review(session, case_id, actor=viewer)
    return case_detail(session, settings, case)
