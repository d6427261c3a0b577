"""The evidence vault: metadata, preserved files (every read logged), legal holds."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from shieldwall.api.deps import DbSession, SettingsDep, require
from shieldwall.core.access import Principal, Scope
from shieldwall.evidence import service
from shieldwall.evidence.schemas import EvidenceOut, EvidencePage, HoldBody

router = APIRouter(prefix="/v1/evidence", tags=["evidence"])
Reader = Annotated[Principal, require(Scope.EVIDENCE_READ)]
Holder = Annotated[Principal, require(Scope.EVIDENCE_HOLD)]
EvidenceId = Annotated[int, Path(ge=1, le=2**63 - 1)]


@router.get("", summary="List evidence items (metadata only), optionally for one case")
def list_evidence(
    db: DbSession,
    _: Reader,
    case_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    after_id: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> EvidencePage:
    rows = service.list_items(db, case_id=case_id, after_id=after_id, limit=limit)
    return EvidencePage(
        items=service.describe(db, rows),
        next_after_id=rows[-1].id if len(rows) == limit else None,
    )


@router.get("/{evidence_id}", summary="One evidence item's metadata (never its content)")
def get_evidence(evidence_id: EvidenceId, db: DbSession, _: Reader) -> EvidenceOut:
    return service.describe(db, [service.get(db, evidence_id)])[0]


@router.get(
    "/{evidence_id}/content",
    summary="The preserved file's bytes (checked against its SHA-256; the read is logged)",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def get_content(
    evidence_id: EvidenceId, db: DbSession, settings: SettingsDep, actor: Reader
) -> Response:
    data = service.read_bytes(db, settings, evidence_id, actor=actor)
    item = service.get(db, evidence_id)
    return Response(
        data,
        media_type=item.media_type or "application/octet-stream",
        headers={
            "Content-Disposition": f'attachment; filename="evidence-{item.id}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "X-Content-SHA256": item.content_sha256 or "",
        },
    )


@router.get(
    "/{evidence_id}/data",
    summary="The preserved report-data document (what the case and its reports knew; logged)",
)
def get_data(
    evidence_id: EvidenceId, db: DbSession, settings: SettingsDep, actor: Reader
) -> dict[str, Any]:
    return service.read_data(db, settings, evidence_id, actor=actor)


@router.post("/{evidence_id}/hold", summary="Place a legal hold (blocks deletion)")
def hold(evidence_id: EvidenceId, body: HoldBody, db: DbSession, actor: Holder) -> EvidenceOut:
    item = service.place_hold(db, evidence_id, reason=body.reason, actor=actor)
    return service.describe(db, [item])[0]


@router.post("/{evidence_id}/release", summary="Release a legal hold (retention applies again)")
def release(evidence_id: EvidenceId, body: HoldBody, db: DbSession, actor: Holder) -> EvidenceOut:
    item = service.release_hold(db, evidence_id, reason=body.reason, actor=actor)
    return service.describe(db, [item])[0]
