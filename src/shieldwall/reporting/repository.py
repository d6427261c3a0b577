"""All SQL for reports."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from shieldwall.reporting.models import Report, ReportCase, ReportContext, ReportStep


def get(session: Session, report_id: int, *, for_update: bool = False) -> Report | None:
    stmt = select(Report).where(Report.id == report_id)
    if for_update:
        stmt = stmt.with_for_update()
    return session.scalars(stmt).first()


def for_case(session: Session, case_id: int) -> Report | None:
    stmt = (
        select(Report)
        .join(ReportCase, ReportCase.report_id == Report.id)
        .where(ReportCase.case_id == case_id)
    )
    return session.scalars(stmt).first()


def open_group(session: Session, destination: str, group_key: str, status: str) -> Report | None:
    stmt = (
        select(Report)
        .where(
            Report.destination == destination,
            Report.group_key == group_key,
            Report.status == status,
        )
        .order_by(Report.id)
        .with_for_update()
    )
    return session.scalars(stmt).first()


def case_ids(session: Session, report_id: int) -> list[int]:
    stmt = select(ReportCase.case_id).where(ReportCase.report_id == report_id)
    return sorted(session.scalars(stmt))


def steps(session: Session, report_id: int) -> list[ReportStep]:
    stmt = select(ReportStep).where(ReportStep.report_id == report_id).order_by(ReportStep.id)
    return list(session.scalars(stmt))


def list_reports(
    session: Session,
    *,
    status: str | None = None,
    destination: str | None = None,
    case_id: int | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> Sequence[Report]:
    stmt = select(Report).order_by(Report.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(Report.status == status)
    if destination:
        stmt = stmt.where(Report.destination == destination)
    if case_id is not None:
        stmt = stmt.join(ReportCase, ReportCase.report_id == Report.id).where(
            ReportCase.case_id == case_id
        )
    if before_id is not None:
        stmt = stmt.where(Report.id < before_id)
    return list(session.scalars(stmt))


def context_of(session: Session, case_id: int) -> ReportContext | None:
    stmt = select(ReportContext).where(ReportContext.case_id == case_id)
    return session.scalars(stmt).first()
