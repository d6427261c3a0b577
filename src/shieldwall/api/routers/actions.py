"""Actions asked of the platform and the delivery state of their webhooks."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from shieldwall.actions import service
from shieldwall.actions.schemas import ActionPage, ActionType, SubjectKind
from shieldwall.api.deps import DbSession, require
from shieldwall.core.access import Principal, Scope

router = APIRouter(prefix="/v1/actions", tags=["actions"])
Reader = Annotated[Principal, require(Scope.CASES_READ)]


@router.get("", summary="Actions, newest first, with webhook delivery state; page with before_id")
def list_actions(
    db: DbSession,
    _: Reader,
    case_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    subject_kind: SubjectKind | None = None,
    subject_ref: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    type: Annotated[ActionType | None, Query(description="e.g. content.remove")] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> ActionPage:
    rows = service.list_actions(
        db,
        case_id=case_id,
        subject_kind=subject_kind.value if subject_kind is not None else None,
        subject_ref=subject_ref,
        action_type=type,
        before_id=before_id,
        limit=limit,
    )
    items = service.describe(db, rows)
    next_before = items[-1].id if len(items) == limit else None
    return ActionPage(items=items, next_before_id=next_before)
