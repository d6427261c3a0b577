"""The review queue and cases (principles 2 and 8): list, read, assign, decide, confirm,
close; reviewers' media preferences."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query

from shieldwall.api.deps import DbSession, SettingsDep, require
from shieldwall.cases import priority, service
from shieldwall.cases.schemas import (
    ACTIVE_STATUSES,
    AssignIn,
    CaseOut,
    CasePage,
    CaseSource,
    CaseStatus,
    CaseSummary,
    ConfirmIn,
    DecisionIn,
    ResolvedPreferences,
    ReviewPreferences,
    ReviewPreferencesIn,
)
from shieldwall.core.access import Principal, Scope
from shieldwall.core.errors import InvalidInput

router = APIRouter(prefix="/v1/cases", tags=["cases"])
Reader = Annotated[Principal, require(Scope.CASES_READ)]
Writer = Annotated[Principal, require(Scope.CASES_WRITE)]
Admin = Annotated[Principal, require(Scope.USERS_MANAGE)]
CaseId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _summary(db: DbSession, case_id: int) -> CaseSummary:
    found = service.get_case_summary(db, case_id)
    assert found is not None
    return found


@router.get("", summary="The review queue: priority (highest first), then age (oldest first)")
def list_cases(
    db: DbSession,
    actor: Reader,
    status: Annotated[
        list[str] | None,
        Query(
            description="Repeat for several; 'active' (default: open, in review, escalated) "
            "or 'all'."
        ),
    ] = None,
    source: CaseSource | None = None,
    assignee: Annotated[
        str | None, Query(max_length=64, description="A username, or 'me'.")
    ] = None,
    unassigned: bool = False,
    principle: Annotated[int | None, Query(ge=1, le=11)] = None,
    label: Annotated[str | None, Query(max_length=40)] = None,
    subject_ref: Annotated[str | None, Query(max_length=200)] = None,
    overdue: Annotated[bool, Query(description="Only cases past their due time.")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CasePage:
    wanted = status or ["active"]
    statuses: list[CaseStatus] | None
    if "all" in wanted:
        statuses = None
    else:
        statuses = []
        for name in wanted:
            if name == "active":
                statuses.extend(ACTIVE_STATUSES)
            else:
                try:
                    statuses.append(CaseStatus(name))
                except ValueError:
                    known = ", ".join(["active", "all", *(s.value for s in CaseStatus)])
                    raise InvalidInput(
                        f"unknown status {name[:40]!r}; known: {known}", field="status"
                    ) from None
    return service.queue(
        db,
        statuses=statuses,
        source=source,
        assignee=assignee,
        unassigned=unassigned,
        principle=principle,
        label=label,
        subject_ref=subject_ref,
        overdue=overdue,
        viewer=actor,
        limit=limit,
        offset=offset,
    )


@router.get("/priority-rules", summary="The priority rules in force (see docs/review.md)")
def priority_rules(settings: SettingsDep, _: Reader) -> list[dict[str, Any]]:
    return priority.describe(service.priority_rules(settings))


@router.get("/preferences", summary="Your media preferences, resolved, and where each came from")
def my_preferences(db: DbSession, actor: Reader) -> ResolvedPreferences:
    return service.preferences_for(db, actor.user_id)


@router.put("/preferences", summary="Set your media preferences (null: follow the organisation)")
def set_my_preferences(
    body: ReviewPreferencesIn, db: DbSession, actor: Reader
) -> ResolvedPreferences:
    if actor.user_id is None:
        raise InvalidInput("preferences belong to people; use a personal API key")
    return service.set_own_preferences(db, actor.user_id, body, actor=actor)


@router.get("/preferences/organisation", summary="The organisation's media defaults")
def organisation_preferences(db: DbSession, _: Reader) -> ReviewPreferences:
    return service.organisation_preferences(db)


@router.put("/preferences/organisation", summary="Set the organisation's media defaults")
def set_organisation_preferences(
    body: ReviewPreferences, db: DbSession, actor: Admin
) -> ReviewPreferences:
    return service.set_organisation_preferences(db, body, actor=actor)


@router.get(
    "/{case_id}",
    summary="One case: signals, decisions, SLA clocks, timeline, actions. A reviewer's first "
    "look starts the first-review clock.",
)
def get_case(case_id: CaseId, db: DbSession, settings: SettingsDep, actor: Reader) -> CaseOut:
    return service.get_case_detail(db, settings, case_id, viewer=actor)


@router.post("/{case_id}/assign", summary="Assign the case (to you by default), or unassign it")
def assign(
    case_id: CaseId, body: AssignIn, db: DbSession, settings: SettingsDep, actor: Writer
) -> CaseSummary:
    service.assign(
        db, settings, case_id, username=body.username, unassign=body.unassign, actor=actor
    )
    return _summary(db, case_id)


@router.post(
    "/{case_id}/decision",
    summary="Decide: violating (with a label), not_violating, or escalate",
)
def decide(
    case_id: CaseId, body: DecisionIn, db: DbSession, settings: SettingsDep, actor: Writer
) -> CaseOut:
    case = service.decide(
        db, settings, case_id, outcome=body.outcome, label=body.label, note=body.note, actor=actor
    )
    return service.case_detail(db, settings, case)


@router.post(
    "/{case_id}/confirm",
    summary="Two-person rule: a second reviewer confirms (or rejects) the waiting decision",
)
def confirm(
    case_id: CaseId, body: ConfirmIn, db: DbSession, settings: SettingsDep, actor: Writer
) -> CaseOut:
    case = service.confirm(db, settings, case_id, agree=body.agree, note=body.note, actor=actor)
    return service.case_detail(db, settings, case)


@router.post("/{case_id}/close", summary="Close a decided case")
def close(case_id: CaseId, db: DbSession, actor: Writer) -> CaseSummary:
    service.close(db, case_id, actor=actor)
    return _summary(db, case_id)
