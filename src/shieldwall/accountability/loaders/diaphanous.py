"""``disclosures/ocse-reports-per-platform.json``: Robert Grimm's compilation (diaphanous) of
platforms' self-reported CSEA figures. See the folder's ``codebook.md``.

Rules from the codebook applied here:

* ``reports``, ``pieces`` and ``accounts`` mean the same everywhere (CyberTipline reports,
  pieces of content actioned, accounts terminated); other columns keep their label as the
  term and are stored as ``other``.
* ``sums`` combine columns into one of those three (Discord's two kinds of NCMEC report); a
  derived value is stored with the formula as its term.
* Several non-redundant rows for the same period and column add up (Microsoft's hosted and
  Bing content); a row marked ``redundant`` is used only where no other row gives the value.
* Only integer cells are stored: floats are shares or rates of another base, and strings are
  "P / 100 * N" expressions on redundant rows.
* The ``NCMEC`` entry is not used: NCMEC's counts come from ``ncmec/``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from shieldwall.accountability.loaders import DIAPHANOUS_SNAPSHOT, Problems, sha256_of
from shieldwall.accountability.schemas import Batch, DisclosureRec, Metric, Period, Provenance, Unit

ORIGIN = "diaphanous"
CANONICAL = {
    "reports": Metric.CYBERTIPLINE_REPORTS,
    "pieces": Metric.CONTENT_ACTIONED,
    "accounts": Metric.ACCOUNTS_ACTIONED,
}
#: diaphanous platform name -> (company slug, service slug or None)
PLATFORMS: dict[str, tuple[str, str | None]] = {
    "Alphabet": ("google", None),
    "Google": ("google", "google-services"),
    "YouTube": ("google", "youtube"),
    "Amazon": ("amazon", None),
    "Twitch": ("amazon", "twitch"),
    "Apple": ("apple", None),
    "Automattic": ("automattic", None),
    "Tumblr": ("automattic", "tumblr"),
    "Wordpress": ("automattic", "wordpress-com"),
    "Aylo": ("aylo", None),
    "Pornhub": ("aylo", "pornhub"),
    "Discord": ("discord", None),
    "Meta": ("meta", None),
    "Facebook": ("meta", "facebook"),
    "Instagram": ("meta", "instagram"),
    "WhatsApp": ("meta", "whatsapp"),
    "Microsoft": ("microsoft", "microsoft-consumer"),
    "GitHub": ("microsoft", "github"),
    "LinkedIn": ("microsoft", "linkedin"),
    "Omegle": ("omegle", None),
    "Pinterest": ("pinterest", None),
    "Quora": ("quora", None),
    "Reddit": ("reddit", None),
    "Snap": ("snap", None),
    "Telegram": ("telegram", None),
    "TikTok": ("tiktok", None),
    "Twitter": ("x", None),
    "X": ("x", None),
    "Wikimedia": ("wikimedia", None),
}
NOT_PLATFORMS = {"@", "NCMEC"}


def _source(sources: list[str], period: Period) -> str:
    year = str(period.start.year)
    for url in sources:
        if year in url:
            return url
    return sources[0] if sources else "https://github.com/apparebit/diaphanous"


def load(path: Path, dataset: str) -> Batch:
    problems = Problems(dataset)
    batch = Batch(dataset=dataset, sha256=sha256_of(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.add(getattr(exc, "lineno", 1), f"not valid JSON: {exc}")
        problems.raise_if_any()
    if not isinstance(data, dict):
        problems.add(1, "the top level must be an object of platforms")
        problems.raise_if_any()
    for number, (name, record) in enumerate(data.items(), start=1):
        if name in NOT_PLATFORMS:
            continue
        if name not in PLATFORMS:
            batch.skipped.append(
                f"{name}: platform not in the tracker's mapping (listed, not stored)"
            )
            continue
        if record is None:
            batch.skipped.append(f"{name}: surveyed, no transparency disclosures")
            continue
        if not isinstance(record, dict):
            problems.add(number, f"{name}: record must be an object or null")
            continue
        _platform(name, record, number, batch, problems)
    problems.raise_if_any()
    return batch


def _platform(
    name: str, record: dict[str, Any], number: int, batch: Batch, problems: Problems
) -> None:
    columns = record.get("columns") or []
    if not columns:
        return
    company, service = PLATFORMS[name]
    schema = record.get("schema") or {}
    sources = [s for s in record.get("sources") or [] if isinstance(s, str)]
    # (period label, column) -> [value, redundant?]
    cells: dict[tuple[str, str], list[int]] = defaultdict(list)
    redundant: dict[tuple[str, str], list[int]] = defaultdict(list)
    periods: dict[str, Period] = {}
    skipped_floats = 0
    for row in record.get("rows") or []:
        is_redundant = bool(row.get("redundant"))
        labels = [k for k in row if k != "redundant"]
        if len(labels) != 1 or not isinstance(row[labels[0]], list):
            problems.add(number, f"{name}: a row must have one period and a list of cells")
            continue
        label, values = labels[0], row[labels[0]]
        try:
            periods[label] = Period.parse(label)
        except ValueError as exc:
            problems.add(number, f"{name}: {exc}")
            continue
        if len(values) != len(columns):
            problems.add(number, f"{name} {label}: {len(values)} cells for {len(columns)} columns")
            continue
        for column, value in zip(columns, values, strict=True):
            if value is None:
                continue
            if schema.get(column, "int") != "int" or not isinstance(value, int):
                skipped_floats += 1
                continue
            (redundant if is_redundant else cells)[(label, column)].append(value)
    if skipped_floats:
        batch.skipped.append(
            f"{name}: {skipped_floats} rate, share or expression cell(s) not stored"
        )
    merged: dict[tuple[str, str], tuple[int, bool]] = {
        key: (sum(v), False) for key, v in cells.items()
    }
    for key, v in redundant.items():
        if key not in merged:
            merged[key] = (sum(v), True)
    derived = record.get("sums") or {}
    for (label, column), (value, was_redundant) in sorted(merged.items()):
        metric = CANONICAL.get(column, Metric.OTHER)
        batch.disclosures.append(
            _rec(company, service, metric, column, value, periods[label], sources, was_redundant)
        )
    for target, parts in derived.items():
        if target not in CANONICAL or target in columns:
            continue
        for label, period in periods.items():
            found = [merged[(label, p)] for p in parts if (label, p) in merged]
            if not found:
                continue
            total = sum(v for v, _ in found)
            term = " + ".join(p for p in parts if (label, p) in merged)
            batch.disclosures.append(
                _rec(
                    company,
                    service,
                    CANONICAL[target],
                    term,
                    total,
                    period,
                    sources,
                    all(r for _, r in found),
                    derived_from=term,
                )
            )


def _rec(
    company: str,
    service: str | None,
    metric: str,
    term: str,
    value: int,
    period: Period,
    sources: list[str],
    was_redundant: bool,
    derived_from: str = "",
) -> DisclosureRec:
    notes = ["compiled by diaphanous (Grimm, 2024)"]
    if derived_from:
        notes.append(f"sum of {derived_from}")
    if was_redundant:
        notes.append("marked redundant in the compilation (also counted in another row)")
    return DisclosureRec(
        company=company,
        service=service,
        metric=metric,
        term=term,
        unit=Unit.COUNT.value,
        value=float(value),
        period=period,
        prov=Provenance(_source(sources, period), DIAPHANOUS_SNAPSHOT),
        primary=False,
        note="; ".join(notes),
        origin=ORIGIN,
    )
