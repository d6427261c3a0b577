"""Reports to the authorities (CyberTipline, hotlines): list, one, retract, retry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from shieldwall.api.deps import DbSession, SettingsDep, require
from shieldwall.core.access import Principal, Scope
from shieldwall.reporting import service
from shieldwall.reporting.schemas import (
    ContextSaved,
    ReportContext,
    ReportOut,
    ReportPage,
    ReportStatus,
)

router = APIRouter(prefix="/v1/reports", tags=["reports"])
Reader = Annotated[Principal, require(Scope.REPORTS_READ)]
Writer = Annotated[Principal, require(Scope.REPORTS_WRITE)]
#: The platform's servers (the key that sends signals in) supply a case's report context.
Submitter = Annotated[Principal, require(Scope.CASES_SUBMIT)]
ReportId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("", summary="Reports, newest first; page with before_id")
def list_reports(
    db: DbSession,
    settings: SettingsDep,
    _: Reader,
    status: ReportStatus | None = None,
    destination: Annotated[str | None, Query(max_length=40)] = None,
    case_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> ReportPage:
    reports, next_before = service.list_reports(
        db,
        settings,
        status=status.value if status else None,
        destination=destination,
        case_id=case_id,
        before_id=before_id,
        limit=limit,
    )
    return ReportPage(reports=reports, next_before_id=next_before)


@router.get("/{report_id}", summary="One report: status, steps, NCMEC id, errors")
def get_report(report_id: ReportId, db: DbSession, settings: SettingsDep, _: Reader) -> ReportOut:
    return service.to_out(db, settings, service.get_report(db, report_id))


@router.post(
    "/{report_id}/retract",
    summary="Withdraw a report (not yet sent, or submitted to NCMEC but not finished)",
)
def retract_report(
    report_id: ReportId, db: DbSession, settings: SettingsDep, actor: Writer
) -> ReportOut:
    report = service.retract(db, settings, report_id, actor=actor)
    return service.to_out(db, settings, report)


@router.post(
    "/{report_id}/retry",
    summary="Send a refused or given-up report again, from its last completed step",
)
def retry_report(
    report_id: ReportId, db: DbSession, settings: SettingsDep, actor: Writer
) -> ReportOut:
    report = service.retry(db, settings, report_id, actor=actor)
    return service.to_out(db, settings, report)


@router.put(
    "/contexts/{case_id}",
    summary="What the platform knows about a case for its report (the reported user's "
    "details, IP capture events, device ids, recipients, victims, countries)",
)
def set_context(
    case_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
    body: ReportContext,
    db: DbSession,
    settings: SettingsDep,
    actor: Submitter,
) -> ContextSaved:
    report = service.set_context(db, settings, case_id, body, actor=actor)
    return ContextSaved(case_id=case_id, report_id=report.id if report else None)
