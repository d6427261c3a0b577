"""The evidence page of a case: what the vault holds for it (a file or "no file held"),
retention, legal hold; admins place and release holds with a reason. Content is never shown
here (it is read through the API or the CLI, and every read is logged)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import Response

from shieldwall.api.deps import DbSession
from shieldwall.cases import service as cases
from shieldwall.core.access import Scope
from shieldwall.core.errors import ShieldwallError
from shieldwall.evidence import service
from shieldwall.evidence.schemas import MAX_REASON
from shieldwall.web.render import form_error, render, see_other
from shieldwall.web.security import CsrfChecked, WebUser, page_requires

router = APIRouter(include_in_schema=False)
Reader = Annotated[WebUser, page_requires(Scope.EVIDENCE_READ)]
Holder = Annotated[WebUser, page_requires(Scope.EVIDENCE_HOLD)]
CaseId = Annotated[int, Path(ge=1, le=2**31 - 1)]
EvidenceId = Annotated[int, Path(ge=1, le=2**63 - 1)]
ReasonField = Annotated[str, Form(max_length=MAX_REASON + 100)]


def _page(
    request: Request,
    db: DbSession,
    user: WebUser,
    case_id: int,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    cases.get_case(db, case_id)
    return render(
        request,
        "evidence/case.html",
        {
            "case_id": case_id,
            "items": service.describe(db, service.for_case(db, case_id)),
            "can_hold": user.can(Scope.EVIDENCE_HOLD),
            "error": error,
            "notice": notice,
        },
        status=status,
    )


@router.get("/cases/{case_id}/evidence")
def case_evidence(request: Request, case_id: CaseId, db: DbSession, user: Reader) -> Response:
    return _page(request, db, user, case_id)


def _change(
    request: Request,
    db: DbSession,
    user: WebUser,
    evidence_id: int,
    reason: str,
    *,
    place: bool,
) -> Response:
    item = service.get(db, evidence_id)
    case_id = item.case_id
    try:
        if place:
            service.place_hold(db, evidence_id, reason=reason, actor=user.principal)
        else:
            service.release_hold(db, evidence_id, reason=reason, actor=user.principal)
    except ShieldwallError as exc:
        db.rollback()
        return _page(request, db, user, case_id, error=form_error(exc), status=exc.status)
    return see_other(request, f"/cases/{case_id}/evidence")


@router.post("/evidence/{evidence_id}/hold", dependencies=[CsrfChecked])
def hold(
    request: Request, evidence_id: EvidenceId, db: DbSession, user: Holder, reason: ReasonField = ""
) -> Response:
    return _change(request, db, user, evidence_id, reason, place=True)


@router.post("/evidence/{evidence_id}/release", dependencies=[CsrfChecked])
def release(
    request: Request, evidence_id: EvidenceId, db: DbSession, user: Holder, reason: ReasonField = ""
) -> Response:
    return _change(request, db, user, evidence_id, reason, place=False)
