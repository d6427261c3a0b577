"""The transparency report as a page: ``/transparency`` (the current half-year, or any
``?from=&to=``), with server-rendered SVG charts, tables with every definition, a printable
layout and an exports section (JSON, CSV, DSA statements of reasons).

Public when ``transparency_public`` is on; otherwise a login with ``reports:read``. The same
page renders offline (``shieldwall transparency report --format html``) as one file with its
style sheet inlined.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from shieldwall import __version__
from shieldwall.api.deps import DbSession
from shieldwall.api.downloads import attachment, json_attachment
from shieldwall.core.access import Scope
from shieldwall.transparency import charts, dsa, exports, service
from shieldwall.transparency.periods import Period, resolve
from shieldwall.web.render import render, templates
from shieldwall.web.security import WebUser, public_page_reader

router = APIRouter(include_in_schema=False)
CSS = Path(__file__).parent / "static" / "transparency.css"

#: Outcome metrics in the overview chart, in this order.
OVERVIEW = (
    "content_matched",
    "cases_opened",
    "decisions",
    "content_actioned",
    "accounts_actioned",
    "reports_sent_ncmec",
    "reports_sent_other_hotlines",
    "user_reports_received",
    "takedown_requests_received",
    "appeals_received",
    "appeals_reversed",
    "search_deterrence_shown",
)
TRENDS = ("content_scanned", "cases_opened", "decisions", "reports_sent_ncmec")
TIMES = (
    ("Detection to action", "time_detection_to_action"),
    ("User report to decision", "time_user_report_to_decision"),
    ("Takedown request to block in place", "takedown_time_to_in_place"),
)


#: Anyone when the report is public, else a login that may read reports.
Reader = Annotated[WebUser | None, public_page_reader("transparency_public", Scope.REPORTS_READ)]
FromDay = Annotated[date | None, Query(alias="from")]
ToDay = Annotated[date | None, Query(alias="to")]


# ---- the view ------------------------------------------------------------------------------


def _by_id(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["id"]: m for m in report["sections"]["outcomes"]["metrics"]}


def _breakdown_bars(metric: dict[str, Any], dimension: str) -> list[charts.Bar]:
    bars = []
    for cell in metric.get("breakdown") or []:
        if dimension not in cell["key"]:
            continue
        label = " / ".join(str(v) for v in cell["key"].values()).replace("_", " ")
        bars.append(charts.bar_of(label, cell))
    return bars


def chart_set(report: dict[str, Any]) -> dict[str, str]:
    """Every chart of the page, by id (the browser test checks each is drawn)."""
    metrics = _by_id(report)
    out = {
        "principles": charts.status_chart(
            "principles",
            "Voluntary Principles: what is in place",
            [(p["number"], p.get("name", ""), p["status"]) for p in report["principles"]],
        ),
        "overview": charts.bar_chart(
            "overview",
            f"Outcomes, {report['period']['label']}",
            [charts.bar_of(metrics[i]["label"], metrics[i]) for i in OVERVIEW if i in metrics],
        ),
        "sources": charts.bar_chart(
            "sources",
            "Cases opened, by source",
            _breakdown_bars(metrics["cases_opened"], "source"),
        ),
        "decisions": charts.bar_chart(
            "decisions",
            "Decisions, by outcome and label",
            _breakdown_bars(metrics["decisions"], "outcome"),
        ),
        "times": charts.paired_chart(
            "times",
            "Times, in hours (median and 90th percentile)",
            [
                (
                    label,
                    charts.bar_of(label, metrics[f"{prefix}_median"], scale=1 / 3600),
                    charts.bar_of(label, metrics[f"{prefix}_p90"], scale=1 / 3600),
                )
                for label, prefix in TIMES
            ],
        ),
    }
    for metric_id in TRENDS:
        m = metrics[metric_id]
        past = list(reversed(m.get("trend") or []))
        bars = [charts.bar_of(f"{p['period']['start']} to {p['period']['end']}", p) for p in past]
        bars.append(charts.bar_of(report["period"]["label"], m))
        out[f"trend-{metric_id}"] = charts.bar_chart(
            f"trend-{metric_id}", f"{m['label']}: this period against earlier ones", bars
        )
    return out


def shown(figure: dict[str, Any], unit: str = "count") -> str:
    """A figure as the page prints it."""
    note = charts.note_of(figure)
    if note is not None:
        return note
    value = figure["value"]
    if unit == "seconds":
        hours = float(value) / 3600
        return f"{hours:,.1f} h" if hours >= 1 else f"{float(value) / 60:,.0f} min"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


def context(report: dict[str, Any], *, exports_base: str | None) -> dict[str, Any]:
    period = report["period"]
    query = urlencode({"from": period["start"], "to": period["end"]})
    links = []
    if exports_base is not None:
        links = [
            ("Report (JSON, schema version 1)", f"{exports_base}/report.json?{query}"),
            ("All metrics (CSV)", f"{exports_base}/report.csv?{query}"),
            ("DSA statements of reasons (JSON)", f"{exports_base}/statements.json?{query}"),
            ("JSON Schema", f"{exports_base}/schema.json"),
        ]
    return {
        "report": report,
        "charts": chart_set(report),
        "shown": shown,
        "exports": links,
        "query": query,
        "metrics": _by_id(report),
    }


def render_offline(report: dict[str, Any]) -> str:
    """The page as one self-contained HTML file (style sheet inlined, no links out)."""
    template = templates.get_template("transparency/offline.html")
    return template.render(
        css=CSS.read_text(encoding="utf-8"),
        version=__version__,
        **context(report, exports_base=None),
    )


# ---- routes --------------------------------------------------------------------------------


def _filename(stem: str, period: Period, ext: str) -> str:
    return f"{stem}-{period.start}-{period.end}.{ext}"


def _period(start: date | None, end: date | None) -> Period:
    return resolve(start, end, today=service.today())


@router.get("/transparency")
def transparency_page(
    request: Request, db: DbSession, user: Reader, start: FromDay = None, end: ToDay = None
) -> Response:
    report = service.build_report(db, request.app.state.settings, _period(start, end))
    return render(request, "transparency/page.html", context(report, exports_base="/transparency"))


@router.get("/transparency/report.json")
def report_json(
    request: Request, db: DbSession, user: Reader, start: FromDay = None, end: ToDay = None
) -> Response:
    period = _period(start, end)
    report = service.build_report(db, request.app.state.settings, period)
    return json_attachment(report, filename=_filename("transparency", period, "json"))


@router.get("/transparency/report.csv")
def report_csv(
    request: Request, db: DbSession, user: Reader, start: FromDay = None, end: ToDay = None
) -> Response:
    period = _period(start, end)
    report = service.build_report(db, request.app.state.settings, period)
    return attachment(
        exports.to_csv(report),
        media_type="text/csv; charset=utf-8",
        filename=_filename("transparency", period, "csv"),
    )


@router.get("/transparency/statements.json")
def statements_json(
    request: Request, db: DbSession, user: Reader, start: FromDay = None, end: ToDay = None
) -> Response:
    period = _period(start, end)
    return json_attachment(
        dsa.export(db, period), filename=_filename("dsa-statements", period, "json")
    )


@router.get("/transparency/schema.json")
def schema_json(user: Reader) -> Response:
    from shieldwall.transparency.validation import schema

    return Response(json.dumps(schema(), indent=2), media_type="application/schema+json")
