"""The industry accountability tracker's JSON API (principle 11, across the industry).

Reading is public when the ``accountability_public`` setting is on (the default); otherwise
any valid API key may read. Every change needs ``accountability:write`` (analysts and
admins) and writes an event.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import PlainTextResponse, Response

from shieldwall.accountability import analysis, exports, importing, repository, service, views
from shieldwall.accountability.schemas import FileReport, ImportSummary
from shieldwall.api.deps import DbSession, SettingsDep, current_principal, require
from shieldwall.core.access import Principal, Scope
from shieldwall.core.errors import PayloadTooLarge

router = APIRouter(prefix="/v1/accountability", tags=["accountability"])
Writer = Annotated[Principal, require(Scope.ACCOUNTABILITY_WRITE)]
Slug = Annotated[str, Path(max_length=80, description="The company's slug, e.g. meta.")]


def public_reader(request: Request, db: DbSession, settings: SettingsDep) -> Principal | None:
    """Anyone, when the tracker is public; otherwise any valid API key."""
    if settings.accountability_public:
        return None
    return current_principal(request, db, settings)


Reader = Annotated[Principal | None, Depends(public_reader)]


@router.get("", summary="The survivors' questions, answered with numbers, sources and dates")
def summary(db: DbSession, settings: SettingsDep, _: Reader) -> dict[str, Any]:
    return views.front_page(db, settings.accountability_audit_tolerance)


@router.get("/companies", summary="Every company with its commitments and audit verdict")
def companies(db: DbSession, settings: SettingsDep, _: Reader) -> list[dict[str, Any]]:
    verdicts = {
        c.id: a.verdict
        for c, a in analysis.audit(db, settings.accountability_audit_tolerance).companies
    }
    adoption = analysis.adoption(db)
    endorsed = {c.id for c, _ in adoption.endorsements}
    members = {m.company.id for m in adoption.members}
    return [
        {
            "slug": c.slug,
            "name": c.name,
            "endorsed_voluntary_principles": True if c.id in endorsed else "not known",
            "technology_coalition_member": True if c.id in members else "not known",
            "audit_verdict": verdicts.get(c.id, "not_comparable"),
        }
        for c in repository.companies(db)
    ]


@router.get("/companies/{slug}", summary="One company: commitments, evidence, figures, audit")
def company(slug: Slug, db: DbSession, settings: SettingsDep, _: Reader) -> dict[str, Any]:
    return views.company_page(db, slug, settings.accountability_audit_tolerance)


@router.get("/audit", summary="The consistency audit: self-reported vs NCMEC, per company")
def audit(db: DbSession, settings: SettingsDep, _: Reader) -> dict[str, Any]:
    _cols, rows = exports.table(db, "audit", settings.accountability_audit_tolerance)
    result = analysis.audit(db, settings.accountability_audit_tolerance)
    return {"tolerance": result.tolerance, "counts": result.counts(), "rows": rows}


@router.get("/unmapped-names", summary="NCMEC names no alias maps yet, for a person to resolve")
def unmapped(db: DbSession, _: Reader) -> list[dict[str, Any]]:
    return [
        {"esp_name": u.name, "years": u.years, "reports": u.reports}
        for u in service.unmapped_names(db)
    ]


@router.get(
    "/tables/{table}",
    summary="Download one table as CSV (or JSON rows)",
    response_class=PlainTextResponse,
)
def table(
    db: DbSession,
    settings: SettingsDep,
    _: Reader,
    table: Annotated[str, Path(max_length=40, description=", ".join(exports.TABLES))],
    format: Annotated[str, Query(pattern="^(csv|json)$")] = "csv",
) -> Response:
    cols, rows = exports.table(db, table, settings.accountability_audit_tolerance)
    if format == "json":
        return Response(json.dumps(rows, ensure_ascii=False), media_type="application/json")
    return Response(
        exports.to_csv(cols, rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="accountability-{table}.csv"'},
    )


@router.get("/export", summary="Everything editable as one by-hand JSON document")
def export_all(db: DbSession, _: Reader) -> Response:
    return Response(
        exports.to_json(db),
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="accountability.json"'},
    )


# ---- changes -------------------------------------------------------------------------------


@router.post("/records", summary="Add or correct records (the by-hand JSON format); all or none")
async def add_records(request: Request, db: DbSession, actor: Writer) -> FileReport:
    """Body: ``{"companies": [...], "aliases": [...], "commitments": [...],
    "disclosures": [...], "evidence": [...]}`` as documented in docs/accountability.md, or a
    shieldwall transparency report. One bad record fails the call with 422 naming it."""
    body = await request.body()
    return importing.import_file(db, body or b"{}", "records.json", actor=actor)


@router.post("/import", summary="Import a file: by-hand CSV/JSON or a transparency report")
def import_upload(
    db: DbSession,
    actor: Writer,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="UTF-8 CSV, or JSON.")],
    source_url: Annotated[
        str, Form(max_length=2000, description="Where a transparency report is published.")
    ] = "",
) -> FileReport:
    data = file.file.read(settings.import_max_bytes + 1)
    if len(data) > settings.import_max_bytes:
        raise PayloadTooLarge(f"the file is larger than {settings.import_max_bytes:,} bytes")
    return importing.import_file(
        db, data, file.filename or "upload", actor=actor, source_url=source_url
    )


@router.post("/reference/import", summary="Load the shared reference data folder again")
def import_reference(db: DbSession, actor: Writer, settings: SettingsDep) -> ImportSummary:
    return importing.import_reference(db, settings.resolved_accountability_data_dir, actor=actor)


@router.delete(
    "/{table}/{row_id}", summary="Delete a commitment, disclosure, evidence row or alias"
)
def delete(
    db: DbSession,
    actor: Writer,
    table: Annotated[str, Path(max_length=40)],
    row_id: Annotated[int, Path(ge=1, le=2**63 - 1)],
) -> dict[str, Any]:
    service.delete_fact(db, table, row_id, actor=actor)
    return {"deleted": {"table": table, "id": row_id}}
