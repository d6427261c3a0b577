"""``POST /v1/appeals``: a platform contests an action taken because of a case decision."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response, status

from shieldwall.api.deps import DbSession, SettingsDep, require
from shieldwall.cases import appeals
from shieldwall.cases.schemas import AppealIn, AppealOut, CaseStatus
from shieldwall.core.access import Principal, Scope

router = APIRouter(prefix="/v1/appeals", tags=["cases"])
Submitter = Annotated[Principal, require(Scope.CASES_SUBMIT)]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Appeal an action (by id or key) or a case; opens an appeal case for a different "
    "reviewer (201), or joins the open one (200)",
    response_model=AppealOut,
)
def post_appeal(
    body: AppealIn, response: Response, db: DbSession, settings: SettingsDep, actor: Submitter
) -> AppealOut:
    case, created = appeals.open_appeal(
        db,
        settings,
        action_id=body.action_id,
        action_key=body.action_key,
        case_id=body.case_id,
        appeal_ref=body.appeal_ref,
        reason=body.reason,
        actor=actor,
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    assert case.appeal_of_case_id is not None
    return AppealOut(
        case_id=case.id,
        appeal_of_case_id=case.appeal_of_case_id,
        status=CaseStatus(case.status),
        created=created,
    )
