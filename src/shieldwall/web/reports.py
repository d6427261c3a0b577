"""Report pages: every report with its lifecycle and failures in plain words, one report's
steps, retract and retry; and the panel the case page includes (:func:`case_panel`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from shieldwall.api.deps import DbSession, SettingsDep
from shieldwall.cases import service as cases
from shieldwall.config import Settings
from shieldwall.core.access import Scope
from shieldwall.core.errors import ShieldwallError
from shieldwall.reporting import destinations, service
from shieldwall.reporting.schemas import ReportStatus
from shieldwall.web.render import render, see_other
from shieldwall.web.security import CsrfChecked, WebUser, page_requires

router = APIRouter(include_in_schema=False)
Reader = Annotated[WebUser, page_requires(Scope.REPORTS_READ)]
Writer = Annotated[WebUser, page_requires(Scope.REPORTS_WRITE)]
ReportId = Annotated[int, Path(ge=1, le=2**63 - 1)]


def case_panel(
    db: Session, settings: Settings, case_id: int, user: WebUser
) -> dict[str, Any] | None:
    """What the case page shows about reporting: the case's report (state, NCMEC id) or,
    before one exists, whether a decision would queue one and which required fields are
    missing — before anything is sent. None (no panel) for a case that was decided
    without a report and never will have one."""
    case = cases.get_case(db, case_id)
    report = service.report_for_case(db, case_id)
    decided = case.status in ("decided", "closed")
    if report is None and decided and not service.calls_for_report(settings, case):
        return None
    view = service.to_out(db, settings, report, with_steps=False) if report else None
    return {
        "report": view,
        "missing": view.missing if view else service.missing_for_case(db, settings, case),
        "labels": sorted(settings.reporting_labels),
        "can_read": user.can(Scope.REPORTS_READ),
    }


@router.get("/reports")
def reports_page(
    request: Request,
    db: DbSession,
    settings: SettingsDep,
    user: Reader,
    status: str | None = None,
) -> Response:
    wanted = status if status in ReportStatus._value2member_map_ else None
    reports, next_before = service.list_reports(db, settings, status=wanted, limit=100)
    return render(
        request,
        "reports/list.html",
        {
            "reports": reports,
            "status": wanted,
            "statuses": [s.value for s in ReportStatus],
            "destinations": destinations.describe(settings),
            "reporter_missing": service.missing_fields(
                settings, settings.reporting_default_destination
            ),
            "more": next_before is not None,
        },
    )


def _detail(
    request: Request,
    db: Session,
    settings: Settings,
    user: WebUser,
    report_id: int,
    *,
    error: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    report = service.to_out(db, settings, service.get_report(db, report_id))
    return render(
        request,
        "reports/detail.html",
        {
            "report": report,
            "can_write": user.can(Scope.REPORTS_WRITE),
            "error": error,
            "notice": notice,
        },
        status=status,
    )


@router.get("/reports/{report_id}")
def report_page(
    request: Request, db: DbSession, settings: SettingsDep, user: Reader, report_id: ReportId
) -> Response:
    return _detail(request, db, settings, user, report_id)


def _act(
    request: Request, db: Session, settings: Settings, user: WebUser, report_id: int, what: str
) -> Response:
    try:
        if what == "retract":
            service.retract(db, settings, report_id, actor=user.principal)
        else:
            service.retry(db, settings, report_id, actor=user.principal)
    except ShieldwallError as exc:
        db.rollback()
        return _detail(request, db, settings, user, report_id, error=exc.message, status=exc.status)
    return see_other(request, f"/reports/{report_id}")


@router.post("/reports/{report_id}/retract", dependencies=[CsrfChecked])
def retract(
    request: Request, db: DbSession, settings: SettingsDep, user: Writer, report_id: ReportId
) -> Response:
    return _act(request, db, settings, user, report_id, "retract")


@router.post("/reports/{report_id}/retry", dependencies=[CsrfChecked])
def retry(
    request: Request, db: DbSession, settings: SettingsDep, user: Writer, report_id: ReportId
) -> Response:
    return _act(request, db, settings, user, report_id, "retry")
