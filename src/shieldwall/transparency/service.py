"""Transparency reports computed from the event log (principle 11).

:func:`build_report` is a function of the event log, the live configuration and the settings
for a period; it returns the report as a plain JSON document that validates against
``schemas/transparency-report.schema.json``. :func:`explain` lists the events behind a
metric. Nothing here writes to the database.

Privacy: counts from 1 to one below ``transparency_suppression_floor`` are published as
``{"suppressed": {"below": floor}}`` ("fewer than 10"), times resting on so few items are
withheld the same way, and a breakdown never lets a hidden cell be worked out from the total
and the other cells (a second cell is hidden with it). No content, user ids or reviewer
names are ever read: events are read without their actor.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

import shieldwall
from shieldwall.audit import service as audit
from shieldwall.audit.chain import canonical_json
from shieldwall.audit.models import Event
from shieldwall.config import Settings
from shieldwall.core.access import Principal
from shieldwall.core.errors import NotFound
from shieldwall.core.principles import PRINCIPLES
from shieldwall.db.base import utcnow
from shieldwall.transparency import capabilities, repository
from shieldwall.transparency.metrics import (
    BY_ID,
    METRICS,
    EventLog,
    EventRow,
    Key,
    MetricDef,
    Tally,
)
from shieldwall.transparency.models import PublishedReport
from shieldwall.transparency.periods import Period, trend_periods

SCHEMA_VERSION = "1.0"


# ---- loading -------------------------------------------------------------------------------


def load_log(session: Session, until: datetime, kinds: Sequence[str]) -> EventLog:
    return EventLog(
        EventRow(r.id, r.occurred_at, r.kind, r.subject, r.payload or {})
        for r in repository.event_rows(session, sorted(set(kinds)), until=until)
    )


@dataclass(frozen=True, slots=True)
class Availability:
    available: bool
    reason: str = ""


def availability(metric: MetricDef, kinds_seen: set[str]) -> Availability:
    """A metric is available when its capability is installed or the log ever held one of
    its event kinds; otherwise it is 'not in place', never a zero."""
    if capabilities.installed(metric.capability) or kinds_seen.intersection(metric.kinds):
        return Availability(True)
    return Availability(
        False, f"not in place: this deployment has no {metric.capability} capability"
    )


# ---- privacy -------------------------------------------------------------------------------


def figure(value: float | None, samples: int, floor: int, *, unit: str) -> dict[str, Any]:
    """A value, or the suppression marker for 1..floor-1 items."""
    if 0 < samples < floor:
        return {"suppressed": {"below": floor}}
    if value is None:
        return {"value": None}
    return {"value": int(value) if unit == "count" and float(value).is_integer() else value}


def _dimension(key: Key) -> tuple[str, ...]:
    return tuple(name for name, _ in key)


def breakdown(
    cells: dict[Key, float], floor: int, *, total_published: bool
) -> list[dict[str, Any]]:
    """Cells, small ones suppressed; when exactly one cell of a dimension is hidden and the
    total is published, the next smallest cell is hidden too (else subtraction reveals it)."""
    hidden = {k for k, v in cells.items() if 0 < v < floor}
    if total_published:
        for dim in {_dimension(k) for k in cells}:
            mine = [k for k in cells if _dimension(k) == dim]
            if sum(1 for k in mine if k in hidden) == 1:
                rest = sorted((cells[k], k) for k in mine if k not in hidden and cells[k] > 0)
                if rest:
                    hidden.add(rest[0][1])
    out = []
    for key in sorted(cells, key=lambda k: (_dimension(k), -cells[k], k)):
        row: dict[str, Any] = {"key": dict(key)}
        if key in hidden:
            row["suppressed"] = {"below": floor}
        else:
            row["value"] = int(cells[key])
        out.append(row)
    return out


# ---- the report ----------------------------------------------------------------------------


def organisation_name(settings: Settings) -> str:
    return (
        settings.transparency_organisation.strip()
        or settings.reporter_company.strip()
        or "shieldwall deployment"
    )


def trace_command(metric_id: str, period: Period) -> str:
    return (
        f"shieldwall transparency explain {metric_id} "
        f"--from {period.start.isoformat()} --to {period.end.isoformat()}"
    )


def metric_json(
    metric: MetricDef,
    tally: Tally,
    floor: int,
    period: Period,
    trend: list[tuple[Period, Tally]],
    avail: Availability,
) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": metric.id,
        "label": metric.label,
        "definition": metric.definition,
        "principles": list(metric.principles),
        "unit": metric.unit,
    }
    if not avail.available:
        item.update({"available": False, "reason": avail.reason})
        return item
    item.update(figure(tally.value, tally.samples, floor, unit=metric.unit))
    if tally.breakdown:
        item["breakdown"] = breakdown(tally.breakdown, floor, total_published="value" in item)
    item["trend"] = [
        {
            "period": {"start": p.start.isoformat(), "end": p.end.isoformat()},
            **figure(t.value, t.samples, floor, unit=metric.unit),
        }
        for p, t in trend
    ]
    item["trace"] = trace_command(metric.id, period)
    return item


def _policies(settings: Settings) -> dict[str, Any]:
    items = []
    for raw in settings.transparency_policies:
        title = str(raw.get("title", "")).strip()
        if not title:
            continue
        item = {"title": title}
        for field in ("text", "url"):
            if str(raw.get(field, "")).strip():
                item[field] = str(raw[field]).strip()
        items.append(item)
    practices = [
        {
            "title": "Privacy floor",
            "text": f"Counts from 1 to {settings.transparency_suppression_floor - 1} are "
            f"published as 'fewer than {settings.transparency_suppression_floor}'.",
            "source": "configuration",
        },
        {
            "title": "Media kept for review",
            "text": f"Media held for review is deleted after {settings.media_retention_days} days.",
            "source": "configuration",
        },
    ]
    if settings.case_two_person_labels:
        practices.append(
            {
                "title": "Two-person rule",
                "text": "Violating decisions labelled "
                + ", ".join(settings.case_two_person_labels)
                + " take effect only when a second reviewer confirms them.",
                "source": "configuration",
            }
        )
    if settings.case_suspend_labels:
        practices.append(
            {
                "title": "Account suspension",
                "text": "Violating decisions labelled "
                + ", ".join(settings.case_suspend_labels)
                + " also suspend the posting account.",
                "source": "configuration",
            }
        )
    section: dict[str, Any] = {"status": "available", "items": items + practices}
    if not items:
        section["note"] = (
            "No policy text is configured (transparency_policies); the practices below are "
            "read from the configuration."
        )
    return section


def _principles_view(
    metrics: list[dict[str, Any]], processes: list[capabilities.Process]
) -> list[dict[str, Any]]:
    out = []
    for principle in PRINCIPLES:
        n = principle.number
        active = [p.name for p in processes if n in p.principles and p.active]
        inactive = [p.name for p in processes if n in p.principles and not p.active]
        shown = [
            m["id"]
            for m in metrics
            if n in m["principles"] and m.get("available", True) is not False
        ]
        if n == 11:
            status, summary = "in_place", "This report: every number computed from the event log."
        elif active and not inactive:
            status, summary = "in_place", "In place: " + "; ".join(active) + "."
        elif active:
            status = "partly"
            summary = (
                "In place: " + "; ".join(active) + ". Not active: " + "; ".join(inactive) + "."
            )
        else:
            status = "not_in_place"
            summary = "Not in place" + (": " + "; ".join(inactive) if inactive else "") + "."
        out.append(
            {
                "number": n,
                "name": principle.short_name,
                "status": status,
                "summary": summary,
                "metrics": shown,
            }
        )
    return out


def build_report(
    session: Session,
    settings: Settings,
    period: Period,
    *,
    now: datetime | None = None,
    trend_count: int | None = None,
) -> dict[str, Any]:
    """The report for ``period`` as a JSON document (schema version 1)."""
    now = now or utcnow()
    floor = settings.transparency_suppression_floor
    count = settings.transparency_trend_periods if trend_count is None else trend_count
    earlier = trend_periods(period, count)
    kinds = {k for m in METRICS for k in m.kinds}
    log = load_log(session, period.until, sorted(kinds))
    seen = repository.kinds_ever(session)
    metrics = []
    for metric in METRICS:
        tally = metric.compute(log, period)
        trend = [(p, metric.compute(log, p)) for p in earlier]
        metrics.append(metric_json(metric, tally, floor, period, trend, availability(metric, seen)))
    processes = capabilities.processes(session, settings)
    anchor = repository.last_event_before(session, period.until)
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "report_id": f"shieldwall:{period.start.isoformat()}:{period.end.isoformat()}",
        "generated_at": now.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "generator": {"name": "shieldwall", "version": shieldwall.__version__},
        "organisation": {"name": organisation_name(settings)},
        "period": period.as_json(),
        "service_scope": {
            "services": list(settings.transparency_services)
            or ["all services using this deployment"],
        },
        "privacy": {
            "suppression_floor": floor,
            "note": f"Counts from 1 to {floor - 1} are shown as 'fewer than {floor}'; times "
            f"resting on fewer than {floor} items are withheld. No content, user ids or "
            "reviewer names appear.",
        },
        "sections": {
            "policies_and_practices": _policies(settings),
            "processes_and_systems": {
                "status": "available",
                "items": [capabilities.as_json(p) for p in processes],
            },
            "outcomes": {"status": "available", "metrics": metrics},
        },
        "principles": _principles_view(metrics, processes),
        "event_log": {
            "events_in_period": repository.count_in(session, period.since, period.until),
            "last_event_id": anchor[0] if anchor else None,
            "last_event_hash": anchor[1] if anchor else None,
            "note": "The newest event at the end of the period; `shieldwall audit verify` "
            "checks the chain up to it.",
        },
    }
    if settings.transparency_organisation_url.strip():
        report["organisation"]["url"] = settings.transparency_organisation_url.strip()
    if settings.transparency_scope_description.strip():
        report["service_scope"]["description"] = settings.transparency_scope_description.strip()
    if report["event_log"]["events_in_period"] == 0:
        report["empty"] = True
        report["sections"]["outcomes"]["note"] = (
            "No events were recorded in this period: every count is zero and no time could "
            "be measured."
        )
    return report


# ---- publishing ----------------------------------------------------------------------------


def publish(
    session: Session, settings: Settings, period: Period, *, actor: Principal | str
) -> PublishedReport:
    """Compute the report and keep it exactly as published (event
    ``transparency.published``). Publishing the same period again keeps another snapshot."""
    document = build_report(session, settings, period)
    digest = hashlib.sha256(canonical_json(document).encode("utf-8")).hexdigest()
    row = repository.add_published(
        session,
        PublishedReport(
            period_start=period.start,
            period_end=period.end,
            schema_version=SCHEMA_VERSION,
            sha256=digest,
            document=document,
            published_by=actor.actor if isinstance(actor, Principal) else actor,
        ),
    )
    audit.record(
        session,
        "transparency.published",
        actor=actor,
        subject=f"transparency_report:{row.id}",
        principles=[11],
        payload={
            "published_report_id": row.id,
            "period_start": period.start.isoformat(),
            "period_end": period.end.isoformat(),
            "sha256": digest,
        },
    )
    return row


def get_published(session: Session, report_id: int) -> PublishedReport:
    row = repository.get_published(session, report_id)
    if row is None:
        raise NotFound(f"no published report {report_id}", published_report_id=report_id)
    return row


# ---- traceability --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Explanation:
    metric: MetricDef
    period: Period
    value: float | None
    samples: int
    #: The first ``limit`` (by id) of the events the number was computed from.
    events: list[Event]
    #: How many events there are in all.
    event_count: int


def get_metric(metric_id: str) -> MetricDef:
    metric = BY_ID.get(metric_id)
    if metric is None:
        known = ", ".join(sorted(BY_ID))
        raise NotFound(f"no metric {metric_id!r}; known metrics: {known}", metric=metric_id)
    return metric


def explain(session: Session, metric_id: str, period: Period, *, limit: int) -> Explanation:
    """The raw (unsuppressed) number and the events it was computed from (the first
    ``limit`` of them are read). For staff only: events carry subjects such as ``case:12``."""
    metric = get_metric(metric_id)
    log = load_log(session, period.until, metric.kinds)
    tally = metric.compute(log, period)
    ids = sorted(set(tally.events))
    shown = repository.events_by_id(session, ids[:limit])
    return Explanation(metric, period, tally.value, tally.samples, shown, len(ids))


def today(now: datetime | None = None) -> date:
    return (now or utcnow()).astimezone(UTC).date()
