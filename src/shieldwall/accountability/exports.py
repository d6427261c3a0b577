"""Every table of the tracker as rows, for CSV and JSON downloads.

The six editable kinds (companies, services, aliases, commitments, disclosures, evidence)
come out in the by-hand import format, so an export imports back unchanged. The other
tables (NCMEC's counts and totals, statements, the audit, volumes, coverage, unmapped
names) are read-only views.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from shieldwall.accountability import analysis, repository, service
from shieldwall.accountability.loaders.manual import FORMAT, columns
from shieldwall.core.errors import NotFound

Rows = tuple[list[str], list[dict[str, Any]]]
EDITABLE = ("companies", "services", "aliases", "commitments", "disclosures", "evidence")


def _names(session: Session) -> tuple[dict[int, str], dict[int, str]]:
    companies = {c.id: c.slug for c in repository.companies(session)}
    services = {s.id: s.slug for s in repository.services(session)}
    return companies, services


def _editable(session: Session, kind: str) -> list[dict[str, Any]]:
    companies, services = _names(session)
    if kind == "companies":
        return [{"company": c.slug, "name": c.name, "note": c.note}
                for c in repository.companies(session)]  # fmt: skip
    if kind == "services":
        return [{"company": companies[s.company_id], "service": s.slug, "name": s.name,
                 "note": s.note} for s in repository.services(session)]  # fmt: skip
    if kind == "aliases":
        return [{"alias": a.name, "company": companies[a.company_id],
                 "service": services.get(a.service_id or 0, ""), "combined": a.combined,
                 "note": a.note} for a in repository.aliases(session)]  # fmt: skip
    if kind == "commitments":
        return [{"company": companies[c.company_id], "kind": c.kind, "framework": c.framework,
                 "event": c.event, "date": c.on_date.isoformat(), "source_url": c.source_url,
                 "precision": c.precision, "retrieved_on": c.retrieved_on.isoformat(),
                 "note": c.note} for c in repository.commitments(session)]  # fmt: skip
    if kind == "disclosures":
        return [{"company": companies[d.company_id], "metric": d.metric, "term": d.term,
                 "value": _number(d.value), "period": d.period, "source_url": d.source_url,
                 "service": services.get(d.service_id or 0, ""), "unit": d.unit,
                 "rounded_to": d.rounded_to or "", "retrieved_on": d.retrieved_on.isoformat(),
                 "primary": d.primary_source, "origin": d.origin, "note": d.note}
                for d in repository.disclosures(session)]  # fmt: skip
    return [{"company": companies[e.company_id], "principle": e.principle, "status": e.status,
             "source_url": e.source_url, "quote": e.quote,
             "evidence_date": e.evidence_date.isoformat() if e.evidence_date else "",
             "retrieved_on": e.retrieved_on.isoformat()}
            for e in repository.evidence(session)]  # fmt: skip


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _ncmec_counts(session: Session, tolerance: float) -> Rows:
    companies, services = _names(session)
    cols = ["year", "line", "esp_name", "reports", "company", "service", "combined", "source_url",
            "retrieved_on"]  # fmt: skip
    rows = [{"year": r.year, "line": r.line, "esp_name": r.esp_name, "reports": r.reports,
             "company": companies.get(r.company_id or 0, ""),
             "service": services.get(r.service_id or 0, ""), "combined": r.combined,
             "source_url": r.source_url, "retrieved_on": r.retrieved_on.isoformat()}
            for r in repository.ncmec_counts(session)]  # fmt: skip
    return cols, rows


def _ncmec_totals(session: Session, tolerance: float) -> Rows:
    cols = ["year", "total_reports", "esp_reports", "source_url", "retrieved_on"]
    rows = [{"year": t.year, "total_reports": t.total_reports, "esp_reports": t.esp_reports or "",
             "source_url": t.source_url, "retrieved_on": t.retrieved_on.isoformat()}
            for t in repository.ncmec_totals(session).values()]  # fmt: skip
    return cols, rows


def _statements(session: Session, tolerance: float) -> Rows:
    cols = ["date", "framework", "statement", "value", "source_url", "retrieved_on"]
    rows = [{"date": s.on_date.isoformat(), "framework": s.framework, "statement": s.statement,
             "value": _number(s.value), "source_url": s.source_url,
             "retrieved_on": s.retrieved_on.isoformat()}
            for s in repository.statements(session)]  # fmt: skip
    return cols, rows


def _audit(session: Session, tolerance: float) -> Rows:
    cols = ["company", "company_verdict", "year", "scope", "self_reported", "ncmec",
            "relative_difference", "verdict", "reason", "periods", "ncmec_names",
            "tolerance"]  # fmt: skip
    rows = []
    for company, result in analysis.audit(session, tolerance).companies:
        base = {"company": company.slug, "company_verdict": result.verdict, "tolerance": tolerance}
        if not result.comparisons:
            rows.append({**base, "reason": result.reason})
        for c in result.comparisons:
            diff = c.relative_difference
            rows.append({**base, "year": c.year, "scope": c.scope,
                         "self_reported": _number(c.self_reported) if c.self_reported is not None
                         else "", "ncmec": c.ncmec if c.ncmec is not None else "",
                         "relative_difference": round(diff, 6) if diff is not None else "",
                         "verdict": c.verdict, "reason": c.reason,
                         "periods": "; ".join(c.periods),
                         "ncmec_names": "; ".join(c.ncmec_names)})  # fmt: skip
    return cols, rows


def _volumes(session: Session, tolerance: float) -> Rows:
    result = analysis.volumes(session)
    cols = ["company", "year", "reports", "share_of_esp_reports", "growth"]
    rows = []
    for v in result.companies:
        for year in result.years:
            if year in v.by_year:
                share, growth = v.share(year, result.esp_totals), v.growth(year)
                rows.append({"company": v.company.slug, "year": year,
                             "reports": v.by_year[year],
                             "share_of_esp_reports": round(share, 6) if share is not None else "",
                             "growth": round(growth, 6) if growth is not None else ""})  # fmt: skip
    return cols, rows


def _coverage(session: Session, tolerance: float) -> Rows:
    cols = ["company", "metric", "periods", "gaps"]
    rows = [{"company": c.company.slug, "metric": metric, "periods": "; ".join(periods),
             "gaps": "; ".join(c.gaps.get(metric, []))}
            for c in analysis.coverage(session)
            for metric, periods in c.metrics.items()]  # fmt: skip
    return cols, rows


def _unmapped(session: Session, tolerance: float) -> Rows:
    cols = ["esp_name", "years", "reports"]
    rows = [{"esp_name": u.name, "years": " ".join(str(y) for y in u.years),
             "reports": u.reports} for u in service.unmapped_names(session)]  # fmt: skip
    return cols, rows


VIEWS: dict[str, Callable[[Session, float], Rows]] = {
    "ncmec_counts": _ncmec_counts,
    "ncmec_totals": _ncmec_totals,
    "statements": _statements,
    "audit": _audit,
    "volumes": _volumes,
    "coverage": _coverage,
    "unmapped_names": _unmapped,
}
TABLES = (*EDITABLE, *VIEWS)


def table(session: Session, name: str, tolerance: float) -> Rows:
    if name in EDITABLE:
        return columns(name), _editable(session, name)
    view = VIEWS.get(name)
    if view is None:
        raise NotFound(f"no table {name[:40]!r}; tables: {', '.join(TABLES)}")
    return view(session, tolerance)


def to_csv(cols: list[str], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("true" if v is True else "false" if v is False else v)
                         for k, v in row.items()})  # fmt: skip
    return buffer.getvalue()


def to_json(session: Session) -> str:
    """The editable kinds as one by-hand JSON document."""
    document: dict[str, Any] = {"format": FORMAT, "version": 1}
    for kind in EDITABLE:
        document[kind] = _editable(session, kind)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
