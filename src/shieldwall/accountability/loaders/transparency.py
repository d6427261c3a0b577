"""shieldwall transparency reports (issue 6), validated against
``schemas/transparency-report.schema.json`` and turned into disclosures with the report as
their source.

Outcome metrics the tracker knows map onto its vocabulary (``reports_sent_ncmec`` becomes
CyberTipline reports); every other numeric outcome is kept as ``other`` under its label. A
suppressed (below the privacy floor) or unavailable figure is not stored, and the import
report says so: a count hidden for privacy is not zero.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from shieldwall.accountability.loaders import Problems, check_text
from shieldwall.accountability.loaders.manual import MAX_ALIAS_KEY
from shieldwall.accountability.schemas import (
    Batch,
    DisclosureRec,
    Metric,
    Period,
    Provenance,
    Unit,
    name_key,
)
from shieldwall.core.text import sanitise

SCHEMA_PATH = Path(__file__).resolve().parents[4] / "schemas" / "transparency-report.schema.json"
METRICS = {
    "reports_sent_ncmec": Metric.CYBERTIPLINE_REPORTS,
    "accounts_actioned": Metric.ACCOUNTS_ACTIONED,
    "content_actioned": Metric.CONTENT_ACTIONED,
    "appeals_received": Metric.CONTENT_APPEALED,
    "appeals_reversed": Metric.CONTENT_RESTORED,
}


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return loaded


def looks_like_report(document: Any) -> bool:
    return isinstance(document, dict) and "schema_version" in document and "sections" in document


def validate(document: Any, problems: Problems) -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(
        schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path))[:50]:
        where = "/".join(str(p) for p in error.path) or "(top level)"
        problems.add(1, f"{where}: {error.message[:300]}")


def check_values(document: Any, problems: Problems) -> None:
    """Every string of the report (keys too) storable and printable: no lone surrogates, no
    control characters but tabs and line breaks; and every number finite (JSON's NaN and
    Infinity, which Python reads, pass the schema's ``number``). Walked without recursion:
    the document may be nested as deep as the JSON reader allows."""
    stack: list[tuple[str, Any]] = [("", document)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                stack.append((where, str(key)))
                stack.append((f"{where}/{key}".lstrip("/"), value))
        elif isinstance(node, list):
            stack.extend((f"{where}/{n}".lstrip("/"), value) for n, value in enumerate(node))
        elif isinstance(node, str):
            try:
                check_text(node, "a text", multiline=True)
            except ValueError as exc:
                problems.add(1, f"{sanitise(where)[:200] or '(top level)'}: {exc}")
        elif isinstance(node, float) and not math.isfinite(node):
            problems.add(1, f"{sanitise(where)[:200] or '(top level)'}: not a finite number")


def load_report(
    document: Any, data: bytes, dataset: str, source_url: str, today: date
) -> tuple[str, Batch]:
    """(organisation name, batch of disclosures); :class:`FileRejected` when the report does
    not validate against the schema."""
    problems = Problems(dataset)
    check_values(document, problems)
    problems.raise_if_any()
    validate(document, problems)
    problems.raise_if_any()
    try:
        period = Period.span(
            date.fromisoformat(document["period"]["start"]),
            date.fromisoformat(document["period"]["end"]),
        )
    except ValueError as exc:
        problems.add(1, f"period: {exc}")
        problems.raise_if_any()
        raise
    organisation = document["organisation"]["name"].strip()
    if len(name_key(organisation)) > MAX_ALIAS_KEY:  # the schema limits it, not its key
        problems.add(1, f"organisation/name is longer than {MAX_ALIAS_KEY} once normalised")
        problems.raise_if_any()
    scope = ", ".join(document["service_scope"].get("services") or []) or "all services"
    batch = Batch(dataset=dataset, sha256=hashlib.sha256(data).hexdigest())
    url = source_url or document["organisation"].get("url") or f"urn:shieldwall:report:{dataset}"
    outcomes = document["sections"]["outcomes"]
    if outcomes.get("status") != "available":
        batch.skipped.append(f"outcomes not available: {outcomes.get('reason', '')[:200]}")
    for metric in outcomes.get("metrics") or []:
        label = metric.get("label") or metric["id"]
        if "suppressed" in metric:
            batch.skipped.append(
                f"{metric['id']}: fewer than {metric['suppressed']['below']} (suppressed)"
            )
            continue
        if metric.get("available") is False or metric.get("value") is None:
            batch.skipped.append(f"{metric['id']}: not available")
            continue
        unit = Unit.PERCENT.value if metric.get("unit") == "percent" else Unit.COUNT.value
        if metric.get("unit") not in (None, "count", "percent"):
            batch.skipped.append(f"{metric['id']}: unit {metric['unit']} not tracked")
            continue
        kind = METRICS.get(metric["id"], Metric.OTHER)
        batch.disclosures.append(
            DisclosureRec(
                company=organisation,
                service=None,
                metric=kind,
                term=f"{label}: {metric['definition']}"[:2000],
                unit=unit,
                value=float(metric["value"]),
                period=period,
                prov=Provenance(url, today),
                primary=True,
                note=f"shieldwall transparency report (schema {document['schema_version']}); "
                f"services: {scope}",
                origin="shieldwall-report",
            )
        )
    return organisation, batch
