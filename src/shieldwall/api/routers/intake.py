"""User reports (platforms) and survivors' takedown requests (the public), principle 8."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Request, status
from fastapi.responses import JSONResponse, Response

from shieldwall.api.deps import DbSession, SettingsDep, require
from shieldwall.api.problems import problem_response
from shieldwall.core.access import Principal, Scope
from shieldwall.intake import service, takedowns
from shieldwall.intake.schemas import (
    STATUS_TOKEN_HEADER,
    TakedownReceipt,
    TakedownRequestIn,
    TakedownReviewOut,
    TakedownStatusOut,
    UserReportIn,
    UserReportOut,
    UserReportReceipt,
)

router = APIRouter(prefix="/v1", tags=["intake"])
Submitter = Annotated[Principal, require(Scope.CASES_SUBMIT)]
Reviewer = Annotated[Principal, require(Scope.CASES_READ)]
RecordId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def _client_address(request: Request) -> str | None:
    """The peer address as the server sees it (behind a proxy, uvicorn's proxy-headers
    support puts the forwarded client here). Used only as a keyed hash for rate limits."""
    return request.client.host if request.client is not None else None


# ---- user reports --------------------------------------------------------------------------


@router.post(
    "/user-reports",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a user's report about content, an account or a conversation",
)
def submit_user_report(
    body: UserReportIn, db: DbSession, settings: SettingsDep, actor: Submitter
) -> UserReportReceipt:
    """Acknowledged with a report id; reviewers take it from there. Repeated reports of the
    same content (same content id, URL or hash) join one case. Rate-limited per reporter
    (429 with Retry-After). The free text is encrypted at rest and shown to reviewers only."""
    received = service.submit_report(db, settings, body, actor=actor)
    report = received.report
    return UserReportReceipt(id=report.id, received_at=report.received_at)


@router.get("/user-reports/{report_id}", summary="One user report, text included (reviewers)")
def get_user_report(
    report_id: RecordId, db: DbSession, settings: SettingsDep, actor: Reviewer
) -> UserReportOut:
    """Every view is written to the event log."""
    return service.report_for_review(db, settings, report_id, actor=actor)


# ---- takedown requests ---------------------------------------------------------------------


@router.post(
    "/takedown-requests",
    status_code=status.HTTP_201_CREATED,
    summary="Ask for known imagery to be blocked, by sending its hashes (no key needed)",
)
def submit_takedown_request(
    body: TakedownRequestIn, request: Request, db: DbSession, settings: SettingsDep
) -> TakedownReceipt:
    """Hashes only: the pictures never leave your device (`shieldwall survivor hash` makes
    this body). The answer holds a status token, shown this once: keep it to check progress
    with `GET /v1/takedown-requests/{id}` and the `X-Status-Token` header. Rate-limited per
    network address (429 with Retry-After)."""
    received = takedowns.submit_takedown(
        db, settings, body, client_address=_client_address(request)
    )
    row = received.request
    return TakedownReceipt(
        id=row.id,
        status_token=received.status_token,
        status=takedowns.public_status(db, row),
        status_url=f"/v1/takedown-requests/{row.id}",
        received_at=row.received_at,
        hash_count=row.hash_count,
    )


@router.get(
    "/takedown-requests/{request_id}",
    summary="A takedown request's progress, for whoever holds its status token",
    response_model=TakedownStatusOut,
    responses={404: {"description": "Unknown id, or a wrong or missing token (the same answer)"}},
)
def get_takedown_request(
    request_id: RecordId,
    request: Request,
    db: DbSession,
    settings: SettingsDep,
    token: Annotated[
        str | None,
        Header(alias=STATUS_TOKEN_HEADER, description="The status token."),
    ] = None,
) -> Response | TakedownStatusOut:
    found = takedowns.takedown_status(
        db, settings, request_id, token, client_address=_client_address(request)
    )
    if found is None:
        # Answered, not raised: the look-up still counts against the rate limit (a raised
        # error would roll that back), and the answer is the same for every reason.
        db.commit()
        return _not_found(request)
    return found


def _not_found(request: Request) -> JSONResponse:
    return problem_response(
        request, status=404, slug="not-found", title="Not found", detail=takedowns.NOT_FOUND_MESSAGE
    )


@router.get(
    "/takedown-requests/{request_id}/review",
    summary="A takedown request as reviewers see it: the hashes and what the requester shared",
)
def review_takedown_request(
    request_id: RecordId, db: DbSession, settings: SettingsDep, actor: Reviewer
) -> TakedownReviewOut:
    """Every view is written to the event log."""
    return takedowns.takedown_for_review(db, settings, request_id, actor=actor)
