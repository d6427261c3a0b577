from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shieldwall.api.deps import DbSession, require
from shieldwall.audit import repository, service
from shieldwall.audit.schemas import ChainReportOut, EventOut, EventPage
from shieldwall.core.access import Principal, Scope
from shieldwall.core.timestamps import Timestamp
from shieldwall.db.base import as_utc

router = APIRouter(prefix="/v1/events", tags=["event log"])
Reader = Annotated[Principal, require(Scope.EVENTS_READ)]


@router.get("", summary="Events, newest first; page with next_before_id")
def list_events(
    db: DbSession,
    _: Reader,
    kind: Annotated[str | None, Query(max_length=80)] = None,
    kind_prefix: Annotated[str | None, Query(max_length=80)] = None,
    actor: Annotated[str | None, Query(max_length=120)] = None,
    subject: Annotated[str | None, Query(max_length=200)] = None,
    principle: Annotated[int | None, Query(ge=1, le=11)] = None,
    since: Annotated[Timestamp | None, Query()] = None,
    until: Annotated[Timestamp | None, Query()] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> EventPage:
    rows = repository.list_events(
        db,
        kind=kind,
        kind_prefix=kind_prefix,
        actor=actor,
        subject=subject,
        principle=principle,
        since=as_utc(since),
        until=as_utc(until),
        before_id=before_id,
        limit=limit,
    )
    items = [EventOut.model_validate(e) for e in rows]
    next_before = items[-1].id if len(items) == limit else None
    return EventPage(items=items, next_before_id=next_before)


@router.get("/verify", summary="Check the hash chain; names the first broken event")
def verify(db: DbSession, _: Reader) -> ChainReportOut:
    report = service.verify_chain(db)
    return ChainReportOut(
        ok=report.ok,
        checked=report.checked,
        head_hash=report.head_hash,
        first_bad_id=report.first_bad_id,
        reason=report.reason,
    )
