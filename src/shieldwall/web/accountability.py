"""The public accountability tracker pages: the front page answering the survivors'
questions, one page per company, the audit with its method, the unmapped NCMEC names, and
downloads plus (for analysts and admins) file import.

Public when the ``accountability_public`` setting is on; otherwise a login is needed.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from shieldwall.accountability import analysis, charts, exports, importing, repository, views
from shieldwall.accountability import service as acc_service
from shieldwall.accountability.schemas import METRIC_LABELS
from shieldwall.api.deps import DbSession
from shieldwall.core import svg
from shieldwall.core.access import Scope
from shieldwall.core.errors import ShieldwallError
from shieldwall.db.base import utcnow
from shieldwall.web.render import render
from shieldwall.web.security import (
    CsrfChecked,
    WebUser,
    page_requires,
    public_page_reader,
    rotate_csrf,
)

router = APIRouter(include_in_schema=False)
Editor = Annotated[WebUser, page_requires(Scope.ACCOUNTABILITY_WRITE)]


#: Anyone when the tracker is public, else a login.
Reader = Annotated[WebUser | None, public_page_reader("accountability_public")]


def _tolerance(request: Request) -> float:
    return float(request.app.state.settings.accountability_audit_tolerance)


def _adoption_chart(adoption: analysis.Adoption) -> str:
    members: list[tuple[date, int]] = []
    for n, joined in enumerate(sorted(m.joined.on_date for m in adoption.members), start=1):
        if members and members[-1][0] == joined:
            members[-1] = (joined, n)
        else:
            members.append((joined, n))
    ends = [d for d, _ in adoption.endorsers_over_time + members]
    end = max([*ends, utcnow().date()]) if ends else utcnow().date()
    return charts.step_chart(
        "adoption",
        "Endorsers of the Voluntary Principles and Technology Coalition members named over time",
        [
            ("Endorsers", svg.BRAND, adoption.endorsers_over_time),
            ("Coalition members", svg.MUTED, members),
        ],
        end,
    )


def _audit_rows(result: analysis.AuditResult) -> list[dict[str, Any]]:
    rows = []
    for company, audit in result.companies:
        for c in audit.comparisons:
            rows.append({"company": company, "c": c, "diff": c.relative_difference})
    return rows


@router.get("/accountability")
def front_page(request: Request, db: DbSession, user: Reader) -> Response:
    tolerance = _tolerance(request)
    data = views.front_page(db, tolerance)
    adoption = analysis.adoption(db)
    volumes = analysis.volumes(db)
    result = analysis.audit(db, tolerance)
    latest = data["latest_ncmec_year"]
    top = [(v.company.name, float(v.by_year.get(latest, 0))) for v in volumes.companies][:10]
    top.sort(key=lambda item: -item[1])
    compared = [r for r in _audit_rows(result) if r["diff"] is not None]
    return render(
        request,
        "accountability/index.html",
        {
            "data": data,
            "volumes": volumes,
            "tolerance": tolerance,
            "adoption_chart": _adoption_chart(adoption),
            "totals_chart": charts.bar_chart(
                "totals",
                "CyberTipline reports from electronic service providers, per year (NCMEC)",
                [(str(y), float(volumes.esp_totals[y])) for y in volumes.years],
            ),
            "top_chart": charts.bar_chart(
                "top",
                f"Companies with the most CyberTipline reports in {latest} (NCMEC)",
                top,
            ),
            "audit_chart": charts.difference_chart(
                "audit",
                "Self-reported CyberTipline reports against NCMEC's count, per company and year",
                [
                    (f"{r['company'].name} {r['c'].year}", r["diff"], r["c"].verdict)
                    for r in compared
                ],
                tolerance,
            ),
            "compared": compared,
            "can_edit": bool(user and user.can(Scope.ACCOUNTABILITY_WRITE)),
        },
    )


@router.get("/accountability/companies")
def companies_page(request: Request, db: DbSession, user: Reader) -> Response:
    result = analysis.audit(db, _tolerance(request))
    verdicts = {c.id: a.verdict for c, a in result.companies}
    adoption = analysis.adoption(db)
    endorsed = {c.id: cm for c, cm in adoption.endorsements}
    members = {m.company.id: m for m in adoption.members}
    rows = [
        {"company": c, "endorsed": endorsed.get(c.id), "member": members.get(c.id),
         "verdict": verdicts.get(c.id, "not_comparable")}
        for c in repository.companies(db)
    ]  # fmt: skip
    return render(request, "accountability/companies.html", {"rows": rows})


@router.get("/accountability/companies/{slug}")
def company_page(request: Request, db: DbSession, user: Reader, slug: str) -> Response:
    try:
        data = views.company_page(db, slug, _tolerance(request))
    except ShieldwallError as exc:
        return render(request, "error.html", {"message": exc.message}, status=exc.status)
    coverage = analysis.coverage(db, acc_service.get_company(db, slug).id)
    ncmec_years: dict[int, int] = {}
    for row in data["ncmec"]:
        ncmec_years[row["year"]] = ncmec_years.get(row["year"], 0) + row["reports"]
    return render(
        request,
        "accountability/company.html",
        {
            "d": data,
            "coverage": coverage[0] if coverage else None,
            "metric_labels": METRIC_LABELS,
            "ncmec_years": sorted(ncmec_years.items()),
            "ncmec_chart": charts.bar_chart(
                "ncmec",
                f"CyberTipline reports NCMEC counted for {data['company']['name']}, per year",
                [(str(y), float(v)) for y, v in sorted(ncmec_years.items())],
            ),
        },
    )


@router.get("/accountability/audit")
def audit_page(request: Request, db: DbSession, user: Reader) -> Response:
    tolerance = _tolerance(request)
    result = analysis.audit(db, tolerance)
    return render(
        request,
        "accountability/audit.html",
        {"result": result, "counts": result.counts(), "tolerance": tolerance},
    )


@router.get("/accountability/unmapped")
def unmapped_page(request: Request, db: DbSession, user: Reader) -> Response:
    return render(
        request, "accountability/unmapped.html", {"names": acc_service.unmapped_names(db)}
    )


def _data_page(
    request: Request,
    db: DbSession,
    user: WebUser | None,
    *,
    notice: str | None = None,
    error: str | None = None,
    report: Any = None,
    status: int = 200,
) -> Response:
    return render(
        request,
        "accountability/data.html",
        {
            "tables": exports.TABLES,
            "imports": repository.imports(db, limit=20),
            "can_edit": bool(user and user.can(Scope.ACCOUNTABILITY_WRITE)),
            "notice": notice,
            "error": error,
            "report": report,
        },
        status=status,
    )


@router.get("/accountability/data")
def data_page(request: Request, db: DbSession, user: Reader) -> Response:
    return _data_page(request, db, user)


@router.get("/accountability/tables/{table}.csv")
def table_csv(request: Request, db: DbSession, user: Reader, table: str) -> Response:
    try:
        cols, rows = exports.table(db, table, _tolerance(request))
    except ShieldwallError as exc:
        return render(request, "error.html", {"message": exc.message}, status=exc.status)
    return Response(
        exports.to_csv(cols, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="accountability-{table}.csv"'},
    )


@router.post("/accountability/import", dependencies=[CsrfChecked])
def import_page(
    request: Request,
    db: DbSession,
    user: Editor,
    file: Annotated[UploadFile, File()],
    source_url: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    settings = request.app.state.settings
    data = file.file.read(settings.import_max_bytes + 1)
    try:
        if len(data) > settings.import_max_bytes:
            raise ShieldwallError(f"the file is larger than {settings.import_max_bytes:,} bytes")
        report = importing.import_file(
            db, data, file.filename or "upload", actor=user.principal, source_url=source_url
        )
    except ShieldwallError as exc:
        db.rollback()
        return _data_page(request, db, user, error=exc.message, status=422)
    rotate_csrf(request)  # a reload re-sends the form: refuse it rather than import twice
    notice = (
        f"Imported {file.filename or 'the file'}: {report.added} added, {report.changed} "
        f"changed, {report.unchanged} unchanged."
    )
    return _data_page(request, db, user, notice=notice, report=report)


@router.post("/accountability/reference", dependencies=[CsrfChecked])
def reference_page(request: Request, db: DbSession, user: Editor) -> Response:
    folder = request.app.state.settings.resolved_accountability_data_dir
    summary = importing.import_reference(db, folder, actor=user.principal)
    rotate_csrf(request)
    applied = [f for f in summary.files if f.applied]
    failed = [f for f in summary.files if f.errors]
    notice = (
        f"Reference data from {folder}: {len(applied)} file(s) applied, "
        f"{sum(f.added for f in applied)} rows added, {sum(f.changed for f in applied)} changed."
    )
    error = "; ".join(f"{f.dataset}: {f.errors[0].message}" for f in failed) or None
    return _data_page(request, db, user, notice=notice, error=error)
