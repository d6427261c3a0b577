"""Transparency reports computed from the event log (principle 11)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, status
from fastapi.responses import Response

from shieldwall.api.deps import DbSession, SettingsDep, require
from shieldwall.api.downloads import attachment
from shieldwall.audit.schemas import EventOut
from shieldwall.core.access import Principal, Scope
from shieldwall.transparency import exports, repository, service
from shieldwall.transparency.metrics import METRICS
from shieldwall.transparency.models import PublishedReport
from shieldwall.transparency.periods import resolve

router = APIRouter(prefix="/v1/transparency", tags=["transparency"])
Reader = Annotated[Principal, require(Scope.REPORTS_READ)]
EventReader = Annotated[Principal, require(Scope.EVENTS_READ)]
FromDay = Annotated[
    date | None,
    Query(alias="from", description="First day (UTC), default: this half-year's first."),
]
ToDay = Annotated[date | None, Query(alias="to", description="Last day, included.")]


@router.get(
    "/reports",
    summary="The transparency report for a period (schemas/transparency-report.schema.json)",
    response_model=None,
)
def get_report(
    db: DbSession,
    settings: SettingsDep,
    _: Reader,
    start: FromDay = None,
    end: ToDay = None,
    format: Annotated[Literal["json", "csv"], Query(description="json or csv")] = "json",
) -> dict[str, Any] | Response:
    period = resolve(start, end, today=service.today())
    document = service.build_report(db, settings, period)
    if format == "csv":
        return attachment(
            exports.to_csv(document),
            media_type="text/csv; charset=utf-8",
            filename=f"transparency-{period.start}-{period.end}.csv",
        )
    return document


@router.get("/metrics", summary="Every metric: id, label, definition, principles, unit")
def list_metrics(_: Reader) -> list[dict[str, Any]]:
    return [
        {
            "id": m.id,
            "label": m.label,
            "definition": m.definition,
            "principles": list(m.principles),
            "unit": m.unit,
            "event_kinds": list(m.kinds),
        }
        for m in METRICS
    ]


@router.get(
    "/metrics/{metric_id}/events",
    summary="The events a metric's number was computed from (before suppression)",
)
def explain_metric(
    db: DbSession,
    _: EventReader,
    metric_id: Annotated[str, Path(max_length=120)],
    start: FromDay = None,
    end: ToDay = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 500,
) -> dict[str, Any]:
    period = resolve(start, end, today=service.today())
    found = service.explain(db, metric_id, period, limit=limit)
    return {
        "metric": metric_id,
        "period": period.as_json(),
        "value": found.value,
        "samples": found.samples,
        "event_count": found.event_count,
        "events": [EventOut.model_validate(e).model_dump(mode="json") for e in found.events],
    }


Writer = Annotated[Principal, require(Scope.REPORTS_WRITE)]


def _summary(row: PublishedReport) -> dict[str, Any]:
    return {
        "id": row.id,
        "period": {"start": row.period_start.isoformat(), "end": row.period_end.isoformat()},
        "schema_version": row.schema_version,
        "sha256": row.sha256,
        "published_at": row.published_at.isoformat(),
    }


@router.post(
    "/reports/published",
    status_code=status.HTTP_201_CREATED,
    summary="Publish the report for a period: keep it exactly as computed now",
)
def publish_report(
    db: DbSession, settings: SettingsDep, actor: Writer, start: FromDay = None, end: ToDay = None
) -> dict[str, Any]:
    period = resolve(start, end, today=service.today())
    return _summary(service.publish(db, settings, period, actor=actor))


@router.get("/reports/published", summary="Published reports, newest first")
def list_published(db: DbSession, _: Reader) -> list[dict[str, Any]]:
    return [_summary(row) for row in repository.list_published(db)]


@router.get("/reports/published/{report_id}", summary="A published report, as published")
def get_published(
    db: DbSession, _: Reader, report_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> dict[str, Any]:
    return service.get_published(db, report_id).document
