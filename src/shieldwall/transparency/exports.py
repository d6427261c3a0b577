"""The report as CSV: one row per figure (each metric, each breakdown cell, each trend
period), suppressed figures marked, never a hidden number."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

CSV_COLUMNS = (
    "section",
    "metric_id",
    "label",
    "row",
    "key",
    "period_start",
    "period_end",
    "value",
    "suppressed_below",
    "available",
    "unit",
    "principles",
    "definition",
)


def _figure(item: dict[str, Any]) -> dict[str, Any]:
    if item.get("available") is False:
        return {"value": "", "suppressed_below": "", "available": "no: " + item.get("reason", "")}
    if "suppressed" in item:
        return {"value": "", "suppressed_below": item["suppressed"]["below"], "available": "yes"}
    value = item.get("value")
    return {"value": "" if value is None else value, "suppressed_below": "", "available": "yes"}


def _rows(report: dict[str, Any]) -> Iterator[dict[str, Any]]:
    start, end = report["period"]["start"], report["period"]["end"]
    sections = report["sections"]
    groups: list[tuple[str, list[dict[str, Any]]]] = [
        ("outcomes", sections["outcomes"].get("metrics") or [])
    ]
    for process in sections["processes_and_systems"].get("items") or []:
        groups.append(("processes_and_systems", process.get("metrics") or []))
    for section, metrics in groups:
        for m in metrics:
            base = {
                "section": section,
                "metric_id": m["id"],
                "label": m.get("label", ""),
                "unit": m.get("unit", ""),
                "principles": " ".join(str(p) for p in m["principles"]),
                "definition": m["definition"],
            }
            yield {**base, "row": "total", "key": "", "period_start": start,
                   "period_end": end, **_figure(m)}  # fmt: skip
            for cell in m.get("breakdown") or []:
                key = ";".join(f"{k}={v}" for k, v in sorted(cell["key"].items()))
                yield {**base, "row": "breakdown", "key": key, "period_start": start,
                       "period_end": end, **_figure(cell)}  # fmt: skip
            for past in m.get("trend") or []:
                yield {**base, "row": "trend", "key": "", "period_start": past["period"]["start"],
                       "period_end": past["period"]["end"], **_figure(past)}  # fmt: skip


def to_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in _rows(report):
        writer.writerow(row)
    return buffer.getvalue()
