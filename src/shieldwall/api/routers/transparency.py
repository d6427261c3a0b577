"""Transparency reports computed from the event log (principle 11)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from shieldwall.api.deps import DbSession, SettingsDep, require
from shieldwall.audit.schemas import EventOut
from shieldwall.core.access import Principal, Scope
from shieldwall.transparency import exports, service
from shieldwall.transparency.metrics import METRICS
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
        name = f"transparency-{period.start}-{period.end}.csv"
        return Response(
            exports.to_csv(document),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
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
    found = service.explain(db, metric_id, period)
    return {
        "metric": metric_id,
        "period": period.as_json(),
        "value": found.value,
        "samples": found.samples,
        "event_count": len(found.events),
        "events": [
            EventOut.model_validate(e).model_dump(mode="json") for e in found.events[:limit]
        ],
    }
