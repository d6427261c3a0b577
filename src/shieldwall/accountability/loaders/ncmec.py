"""``ncmec/``: CyberTipline reports per electronic service provider and per year.

Names are kept exactly as NCMEC printed them; mapping them to companies is the alias
table's job. ``reports-by-esp.csv`` is checked against ``reports-per-year.csv`` when both are
in the folder: each year's rows must add up to the ESP total NCMEC printed.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from shieldwall.accountability.loaders import (
    DIAPHANOUS_SNAPSHOT,
    Problems,
    parse_count,
    sha256_of,
)
from shieldwall.accountability.loaders.commitments import rows
from shieldwall.accountability.schemas import Batch, NcmecCountRec, NcmecTotalRec, Provenance

BY_ESP_URL = "https://www.missingkids.org/content/dam/missingkids/pdfs/{year}-reports-by-esp.pdf"
OJJDP_URL = (
    "https://www.missingkids.org/content/dam/missingkids/pdfs/"
    "OJJDP-NCMEC-Transparency-CY-2023-Report.pdf"
)
TOTALS_FILE = "reports-per-year.csv"


def _year(text: str) -> int:
    if not (text.isdigit() and len(text) == 4):
        raise ValueError(f"year {text[:10]!r} is not four digits")
    return int(text)


def load_totals(path: Path, dataset: str) -> Batch:
    problems = Problems(dataset)
    batch = Batch(dataset=dataset, sha256=sha256_of(path))
    prov = Provenance(OJJDP_URL, DIAPHANOUS_SNAPSHOT)
    for line, row in rows(path, problems, {"year", "total_reports", "esp_reports"}):
        try:
            year = _year(row["year"])
            total = parse_count(row["total_reports"])
            esp = parse_count(row["esp_reports"]) if row["esp_reports"] else None
        except ValueError as exc:
            problems.add(line, str(exc))
            continue
        if esp is not None and esp > total:
            problems.add(line, f"ESP reports ({esp:,}) exceed all reports ({total:,})")
            continue
        batch.ncmec_totals.append(NcmecTotalRec(year, total, esp, prov))
    problems.raise_if_any()
    return batch


def load_counts(path: Path, dataset: str) -> Batch:
    problems = Problems(dataset)
    batch = Batch(dataset=dataset, sha256=sha256_of(path))
    seen: set[tuple[int, str]] = set()
    position: dict[int, int] = defaultdict(int)
    sums: dict[int, int] = defaultdict(int)
    for line, row in rows(path, problems, {"year", "esp", "reports"}):
        try:
            year = _year(row["year"])
            reports = parse_count(row["reports"])
        except ValueError as exc:
            problems.add(line, str(exc))
            continue
        # The name exactly as printed (inner spaces included); only the CSV cell's own
        # padding is not part of it.
        name = row["esp"]
        if not name:
            problems.add(line, "esp name is empty")
            continue
        if (year, name) in seen:
            problems.add(line, f"{name!r} appears twice in {year}")
            continue
        seen.add((year, name))
        position[year] += 1
        sums[year] += reports
        prov = Provenance(BY_ESP_URL.format(year=year), DIAPHANOUS_SNAPSHOT)
        batch.ncmec_counts.append(NcmecCountRec(year, position[year], name, reports, prov))
    _check_against_totals(path.with_name(TOTALS_FILE), sums, problems)
    problems.raise_if_any()
    return batch


def _check_against_totals(totals_path: Path, sums: dict[int, int], problems: Problems) -> None:
    """Each year's rows must add up to NCMEC's printed ESP total (when that file is there)."""
    if not totals_path.is_file():
        return
    printed: dict[int, int] = {}
    check = Problems(totals_path.name)
    for _line, row in rows(totals_path, check, {"year", "esp_reports"}):
        if row["esp_reports"] and row["year"].isdigit():
            try:
                printed[int(row["year"])] = parse_count(row["esp_reports"])
            except ValueError:
                continue  # that file's own loader reports it
    for year, total in sorted(sums.items()):
        if year in printed and printed[year] != total:
            problems.add(
                0,
                f"{year}: rows add up to {total:,} but NCMEC printed an ESP total of "
                f"{printed[year]:,}",
            )
