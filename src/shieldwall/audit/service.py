"""Writing and verifying the event log.

:func:`record` is how every capability reports a state change; it flushes, the caller
commits, so the event lands in the same transaction as the change it describes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from shieldwall.audit import repository
from shieldwall.audit.chain import (
    GENESIS_HASH,
    KIND_PATTERN,
    event_digest,
    normalise_payload,
)
from shieldwall.audit.models import Event
from shieldwall.core.access import Principal
from shieldwall.core.principles import validate_principles
from shieldwall.db.base import utcnow

log = logging.getLogger(__name__)


def record(
    session: Session,
    kind: str,
    *,
    actor: Principal | str,
    subject: str = "",
    principles: Iterable[int] = (),
    payload: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> Event:
    """Append one event to the chain. Payloads carry ids and counts, never content.

    Raises ``ValueError`` for a malformed kind, unknown principle or non-JSON payload.
    """
    if not KIND_PATTERN.fullmatch(kind):
        raise ValueError(f"event kind {kind!r} must look like 'domain.verb_phrase'")
    numbers = list(validate_principles(tuple(principles)))
    body = normalise_payload(payload)
    actor_ref = actor.actor if isinstance(actor, Principal) else actor
    occurred_at = at or utcnow()

    head = repository.lock_head(session)
    event_id = head.last_event_id + 1
    digest = event_digest(
        event_id=event_id,
        occurred_at=occurred_at,
        actor=actor_ref,
        kind=kind,
        subject=subject,
        principles=numbers,
        payload=body,
        prev_hash=head.last_hash,
    )
    event = Event(
        id=event_id,
        occurred_at=occurred_at,
        actor=actor_ref,
        kind=kind,
        subject=subject,
        principles=numbers,
        payload=body,
        prev_hash=head.last_hash,
        hash=digest,
    )
    session.add(event)
    head.last_event_id = event_id
    head.last_hash = digest
    head.count = head.count + 1
    session.flush()
    log.info("%s", kind, extra={"event_id": event_id, "subject": subject, "actor": actor_ref})
    return event


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    head_hash: str
    first_bad_id: int | None = None
    reason: str | None = None
    #: Anchored hashes (recorded elsewhere earlier) that are no longer in the chain.
    anchors_missing: tuple[str, ...] = ()


def verify_chain(session: Session, *, anchors: Iterable[str] = ()) -> ChainReport:
    """Recompute every digest and link; name the first row that does not fit.

    Detects an edited row (its digest no longer matches), a deleted or inserted row (the next
    row's ``prev_hash`` or the id sequence breaks) and deleted newest rows (the chain head
    names an event that is gone).

    A chain rewritten from its first event on is consistent with itself; ``anchors`` —
    head hashes recorded outside the database earlier — catch that: each must still be
    the hash of some event, else it is listed in ``anchors_missing`` and ``ok`` is False.
    """
    wanted = {a.strip().lower() for a in anchors if a.strip()}
    expected_prev = GENESIS_HASH
    expected_id = 1
    checked = 0
    for event in repository.iter_event_rows(session):
        if event.id != expected_id:
            return ChainReport(
                False,
                checked,
                expected_prev,
                event.id,
                f"event(s) {expected_id}..{event.id - 1} are missing before event {event.id}",
            )
        if event.prev_hash != expected_prev:
            return ChainReport(
                False,
                checked,
                expected_prev,
                event.id,
                f"event {event.id} does not link to the event before it "
                "(that event was changed, or this one was inserted)",
            )
        digest = event_digest(
            event_id=event.id,
            occurred_at=event.occurred_at,
            actor=event.actor,
            kind=event.kind,
            subject=event.subject,
            principles=list(event.principles),
            payload=event.payload,
            prev_hash=event.prev_hash,
        )
        if digest != event.hash:
            return ChainReport(
                False,
                checked,
                expected_prev,
                event.id,
                f"event {event.id} was changed after it was written (its digest does not match)",
            )
        expected_prev = event.hash
        expected_id += 1
        checked += 1
        wanted.discard(event.hash)

    head = repository.get_head(session)
    if head is None:
        return ChainReport(False, checked, expected_prev, None, "the chain head row is missing")
    if head.last_event_id != checked or head.last_hash != expected_prev:
        first_missing = checked + 1
        return ChainReport(
            False,
            checked,
            expected_prev,
            first_missing,
            f"the chain head names event {head.last_event_id} but the log ends at event "
            f"{checked}: the newest event(s) from {first_missing} were deleted or the head "
            "was changed",
        )
    if wanted:
        return ChainReport(
            False,
            checked,
            expected_prev,
            None,
            f"{len(wanted)} anchored hash(es) are not in the chain: the log was rewritten",
            anchors_missing=tuple(sorted(wanted)),
        )
    return ChainReport(True, checked, expected_prev)
