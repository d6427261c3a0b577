"""Survivors' takedown requests (principle 8): rules. Flushes, never commits.

A survivor, or a helper acting for one, hashes the imagery on their own device (``shieldwall
survivor hash``) and sends the hashes only (``POST /v1/takedown-requests``, no key needed,
rate-limited per client address). They get a request id and a random status token, shown
once and stored as a digest. The request opens a ``survivor_request`` case, reviewed like any
other; reviewers see the hashes and whatever the requester chose to share, nothing else.

When the case is decided (:func:`on_case_decided`, registered with
:func:`shieldwall.cases.service.register_decision_hook`):

* ``violating`` (approve): the hashes go into the survivor bank (``survivor_bank``, created
  as a block bank on first use), the request shows "in place since", and past scans that
  match (:func:`shieldwall.cases.history.scans_matching`) are re-surfaced as ``hash_match``
  cases;
* ``not_violating`` (decline): the request shows ``declined`` with a fixed, plain reason,
  never the reviewer's note or name.

Every step writes one event with subject ``takedown_request:<id>`` (ids and counts only).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from shieldwall.audit import service as audit
from shieldwall.banks import service as banks
from shieldwall.banks.models import Bank
from shieldwall.banks.schemas import LABEL_PATTERN, BankCreate, BankKind, EntryIn, EntrySource
from shieldwall.cases import history
from shieldwall.cases import service as cases
from shieldwall.cases.models import Case
from shieldwall.cases.schemas import CaseSource, CaseStatus, Outcome, SignalIn, Subject
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.core.errors import Conflict, InvalidInput, NotFound
from shieldwall.core.signals import SignalType
from shieldwall.core.taxonomy import ReportCategory
from shieldwall.db.base import utcnow
from shieldwall.intake import ratelimit, repository, tokens
from shieldwall.intake.models import TakedownRequest
from shieldwall.intake.schemas import (
    TakedownRequestIn,
    TakedownReviewOut,
    TakedownStatus,
    TakedownStatusOut,
)
from shieldwall.intake.service import (
    hash_pairs,
    require_reviewer,
    seal_text,
    stored_hashes,
    unseal_text,
)

PRINCIPLES = (8,)
#: Who acts when a member of the public sends a request (no account, no key).
REQUESTER = "anonymous:takedown_request"
#: The label every entry added from a takedown request carries.
SURVIVOR_LABEL = "survivor_request"
#: The answer for an unknown id, a wrong token and a missing token alike.
NOT_FOUND_MESSAGE = "no takedown request matches this id and status token"

EXPLANATIONS: dict[TakedownStatus, str] = {
    TakedownStatus.RECEIVED: (
        "We have your request. It is waiting for a reviewer; nothing else is needed from you."
    ),
    TakedownStatus.IN_REVIEW: "A reviewer is looking at your request.",
    TakedownStatus.IN_PLACE: (
        "Your hashes are in place: copies uploaded here that match them are blocked, and "
        "matching copies found earlier have been sent for review and removal."
    ),
}
#: What a requester reads when the reviewers decline. Fixed words: no reviewer, no note.
DECLINED_REASON = (
    "The reviewers did not add these hashes to the block list: they could not confirm that "
    "the request is within what this service can act on. You can send a new request; if you "
    "left contact details, the team may get in touch."
)


def _subject(request: TakedownRequest) -> str:
    return f"takedown_request:{request.id}"


def _record(
    session: Session,
    kind: str,
    request: TakedownRequest,
    actor: Principal | str,
    payload: dict[str, object],
) -> None:
    audit.record(
        session,
        kind,
        actor=actor,
        subject=_subject(request),
        principles=PRINCIPLES,
        payload={"request_id": request.id, **payload},
    )


def request_limit(settings: Settings) -> ratelimit.Limit:
    return ratelimit.Limit(
        "takedown_request",
        settings.takedown_rate_limit,
        settings.takedown_rate_window_seconds,
        what="takedown requests from this network address",
    )


def status_limit(settings: Settings) -> ratelimit.Limit:
    return ratelimit.Limit(
        "takedown_status",
        settings.takedown_status_rate_limit,
        settings.takedown_rate_window_seconds,
        what="status look-ups from this network address",
    )


# ---- submitting ----------------------------------------------------------------------------


def check_request(settings: Settings, data: TakedownRequestIn) -> None:
    """The limits that depend on settings; :class:`InvalidInput` names the field (and, for a
    hash, its position)."""
    if len(data.hashes) > settings.takedown_max_hashes:
        raise InvalidInput(
            f"a takedown request carries at most {settings.takedown_max_hashes} hashes; this "
            f"one has {len(data.hashes)}: send the rest in another request",
            field="hashes",
        )
    for i, item in enumerate(data.hashes):
        if (
            item.signal_type is SignalType.PDQ
            and item.quality is not None
            and item.quality < settings.pdq_quality_floor
        ):
            raise InvalidInput(
                f"hashes.{i}: this pdq hash has quality {item.quality}, below "
                f"{settings.pdq_quality_floor}; such hashes match unrelated pictures, so leave "
                "it out (the md5 and sha256 of the same file still work)",
                field=f"hashes.{i}.quality",
            )
    if data.message is not None and len(data.message) > settings.takedown_max_message_chars:
        raise InvalidInput(
            f"message is {len(data.message)} characters long; at most "
            f"{settings.takedown_max_message_chars} are accepted",
            field="message",
        )


@dataclass(frozen=True, slots=True)
class TakedownReceived:
    request: TakedownRequest
    status_token: str
    """Shown to the requester once; only its digest is stored."""


def submit_takedown(
    session: Session,
    settings: Settings,
    data: TakedownRequestIn,
    *,
    client_address: str | None,
    now: datetime | None = None,
) -> TakedownReceived:
    """Store a takedown request, open its case, and make its status token; all or nothing.

    ``client_address`` is used only for rate limiting, as a keyed hash; it is not stored.
    """
    now = now or utcnow()
    check_request(settings, data)
    secret = settings.resolved_secret_key()
    ratelimit.hit(
        session, request_limit(settings), ratelimit.address_key(secret, client_address), now=now
    )
    token = tokens.new_token()
    request = TakedownRequest(
        token_hash=tokens.digest(token),
        status=TakedownStatus.RECEIVED.value,
        category=data.category.value if data.category is not None else None,
        on_behalf=data.on_behalf,
        hashes=stored_hashes(data.hashes),
        hash_count=len(data.hashes),
        bank_entry_ids=[],
        received_at=now,
        updated_at=now,
    )
    session.add(request)
    session.flush()
    request.contact_sealed = seal_text(settings, data.contact, f"{_subject(request)}:contact")
    request.message_sealed = seal_text(settings, data.message, f"{_subject(request)}:message")
    shared = {
        "hash_count": request.hash_count,
        "signal_types": sorted({h.signal_type.value for h in data.hashes}),
        "category": request.category,
        "on_behalf": request.on_behalf,
        "has_contact": data.contact is not None,
        "has_message": data.message is not None,
    }
    _record(session, "takedown_request.received", request, REQUESTER, shared)
    case = cases.attach_signal(
        session,
        settings,
        subject=Subject("content", _subject(request)),
        signal=SignalIn(
            source=CaseSource.SURVIVOR_REQUEST,
            principles=PRINCIPLES,
            summary={"takedown_request_id": request.id, **shared},
            # the case keeps a sample for reviewers; the request keeps them all
            hashes=hash_pairs(request.hashes)[: cases.MAX_SIGNAL_HASHES],
            ref=_subject(request),
        ),
        actor=REQUESTER,
    )
    request.case_id = case.id
    session.flush()
    return TakedownReceived(request, token)


# ---- the requester's view ------------------------------------------------------------------


def public_status(session: Session, request: TakedownRequest) -> TakedownStatus:
    if request.status != TakedownStatus.RECEIVED:
        return TakedownStatus(request.status)
    case = session.get(Case, request.case_id) if request.case_id is not None else None
    if case is not None and (
        case.first_reviewed_at is not None
        or case.assignee_id is not None
        or case.status != CaseStatus.OPEN
    ):
        return TakedownStatus.IN_REVIEW
    return TakedownStatus.RECEIVED


def takedown_status(
    session: Session,
    settings: Settings,
    request_id: int,
    token: str | None,
    *,
    client_address: str | None,
    now: datetime | None = None,
) -> TakedownStatusOut | None:
    """The request's progress, for whoever holds its status token.

    Returns ``None`` — and the caller answers exactly as for an unknown id — when the id is
    unknown or the token is wrong or missing. The look-up counts against the client
    address's rate limit either way, so the caller should commit before answering ``None``.
    """
    secret = settings.resolved_secret_key()
    ratelimit.hit(
        session, status_limit(settings), ratelimit.address_key(secret, client_address), now=now
    )
    request = repository.get_takedown(session, request_id)
    if not tokens.matches(token, request.token_hash if request is not None else None):
        return None
    assert request is not None
    status = public_status(session, request)
    return TakedownStatusOut(
        id=request.id,
        status=status,
        explanation=request.status_reason or EXPLANATIONS[status],
        received_at=request.received_at,
        updated_at=request.updated_at,
        hash_count=request.hash_count,
        in_place_since=request.in_place_since,
    )


# ---- the reviewers' view -------------------------------------------------------------------


def takedown_for_review(
    session: Session, settings: Settings, request_id: int, *, actor: Principal
) -> TakedownReviewOut:
    """The hashes and what the requester chose to share, decrypted, for a reviewer
    (``cases:read``). Every view writes one ``takedown_request.viewed`` event."""
    require_reviewer(actor)
    request = repository.get_takedown(session, request_id)
    if request is None:
        raise NotFound(f"no takedown request {request_id}", takedown_request_id=request_id)
    contact = unseal_text(settings, request.contact_sealed, f"{_subject(request)}:contact")
    message = unseal_text(settings, request.message_sealed, f"{_subject(request)}:message")
    _record(session, "takedown_request.viewed", request, actor, {"case_id": request.case_id})
    return TakedownReviewOut(
        id=request.id,
        status=public_status(session, request),
        received_at=request.received_at,
        category=ReportCategory(request.category) if request.category else None,
        on_behalf=request.on_behalf,
        hashes=list(request.hashes),
        contact=contact,
        message=message,
        case_id=request.case_id,
        in_place_since=request.in_place_since,
        bank_entry_ids=list(request.bank_entry_ids),
    )


# ---- decisions -----------------------------------------------------------------------------


def survivor_bank(session: Session, settings: Settings, *, actor: Principal | str) -> Bank:
    """The bank approved requests go into; created (block, action block) on first use."""
    try:
        bank = banks.get_bank(session, settings.survivor_bank)
    except NotFound:
        return banks.create_bank(
            session,
            BankCreate(
                name=settings.survivor_bank,
                kind=BankKind.BLOCK,
                description="Hashes sent by survivors (or helpers acting for them) in "
                "takedown requests that reviewers approved.",
            ),
            actor=actor,
        )
    if bank.kind != BankKind.BLOCK:
        raise Conflict(
            f"the survivor bank {bank.name} is an allow bank; takedown hashes must go into a "
            "block bank: set survivor_bank to another name",
            bank=bank.name,
        )
    return bank


def _entry_labels(bank: Bank, case: Case) -> list[str]:
    wanted = [SURVIVOR_LABEL]
    if case.label and re.match(LABEL_PATTERN, case.label):
        wanted.append(case.label)
    if bank.labels:  # the bank has a label set: keep to it
        wanted = [label for label in wanted if label in bank.labels]
    return sorted(set(wanted))


def approve(
    session: Session,
    settings: Settings,
    request: TakedownRequest,
    case: Case,
    *,
    actor: Principal | str,
    now: datetime | None = None,
) -> None:
    """Put the request's hashes into the survivor bank, mark it in place, and re-surface past
    scans that match as ``hash_match`` cases."""
    now = now or utcnow()
    bank = survivor_bank(session, settings, actor=actor)
    labels = _entry_labels(bank, case)
    items = [
        EntryIn(
            signal_type=str(h["signal_type"]),
            value=str(h["value"]),
            quality=int(str(h["quality"])) if h.get("quality") is not None else None,
            labels=labels,
            source=EntrySource.SURVIVOR_REQUEST,
            source_record_id=_subject(request),
        )
        for h in request.hashes
    ]
    added = banks.add_entries(session, bank.name, items, actor=actor)
    request.bank_entry_ids = [r.id for r in added.items]
    request.status = TakedownStatus.IN_PLACE.value
    request.status_reason = None
    request.decided_at = now
    request.in_place_since = now
    request.updated_at = now
    session.flush()
    _record(
        session,
        "takedown_request.approved",
        request,
        actor,
        {
            "case_id": case.id,
            "bank_id": bank.id,
            "added": added.added,
            "duplicates": added.duplicates,
            "revived": added.revived,
        },
    )
    resurface(session, settings, request, bank, labels, actor=actor)


def resurface(
    session: Session,
    settings: Settings,
    request: TakedownRequest,
    bank: Bank,
    labels: list[str],
    *,
    actor: Principal | str,
) -> list[int]:
    """Open (or join) a ``hash_match`` case for every past scan matching the request's
    hashes; returns the case ids. Writes ``takedown_request.resurfaced`` with the counts."""
    records = history.scans_matching(
        session, hash_pairs(request.hashes), pdq_threshold=bank.pdq_threshold
    )
    case_ids: list[int] = []
    for record in records:
        found = [
            (kind, value)
            for kind, value in (
                ("md5", record.md5),
                ("sha256", record.sha256),
                ("pdq", record.pdq),
            )
            if value
        ]
        subject = Subject(
            "content",
            record.content_ref or f"scan:{record.scan_id}",
            account_ref=record.account_ref,
        )
        opened = cases.attach_signal(
            session,
            settings,
            subject=subject,
            signal=SignalIn(
                source=CaseSource.HASH_MATCH,
                principles=(1, 8),
                summary={
                    "scan_id": record.scan_id,
                    "scan_record_id": record.id,
                    "bank": bank.name,
                    "takedown_request_id": request.id,
                    "resurfaced": True,
                },
                labels=labels,
                hashes=found,
                ref=f"takedown_request:{request.id}:scan:{record.scan_id}",
            ),
            actor=actor,
        )
        case_ids.append(opened.id)
    unique = sorted(set(case_ids))
    _record(
        session,
        "takedown_request.resurfaced",
        request,
        actor,
        {"scans": len(records), "case_ids": unique},
    )
    return unique


def decline(
    session: Session,
    request: TakedownRequest,
    case: Case,
    *,
    actor: Principal | str,
    now: datetime | None = None,
) -> None:
    now = now or utcnow()
    request.status = TakedownStatus.DECLINED.value
    request.status_reason = DECLINED_REASON
    request.decided_at = now
    request.updated_at = now
    session.flush()
    _record(session, "takedown_request.declined", request, actor, {"case_id": case.id})


def on_case_decided(session: Session, settings: Settings, case: Case, actor: Principal) -> None:
    """The decision hook for ``survivor_request`` cases: a final ``violating`` decision
    approves every pending request of the case, ``not_violating`` declines them. Requests
    already decided are left as they are (a hook called twice changes nothing)."""
    outcome = case.outcome
    for request in repository.takedowns_for_case(session, case.id):
        if request.status != TakedownStatus.RECEIVED:
            continue
        if outcome == Outcome.VIOLATING:
            approve(session, settings, request, case, actor=actor)
        elif outcome == Outcome.NOT_VIOLATING:
            decline(session, request, case, actor=actor)


_installed = False


def install_decision_hook() -> None:
    """Register :func:`on_case_decided` for survivor requests (once per process)."""
    global _installed
    if not _installed:
        cases.register_decision_hook(CaseSource.SURVIVOR_REQUEST, on_case_decided)
        _installed = True


install_decision_hook()
