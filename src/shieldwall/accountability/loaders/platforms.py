"""Platforms' own machine-readable transparency files under ``disclosures/``.

Each publisher has its own layout (see the folder's README):

* **Discord** (``discord/discord-YYYY-pN.csv``): before 2022 Q4 one small monthly table of
  NCMEC reports; from 2022 Q4 multi-section sheets. Thousands separators are inside quoted
  cells, ``--`` means "not given". The period is the file's: the 2022 Q4 sheet labels its
  months January-March, and the 2023 Q3 sheet's "Accounts Disabled" section is shifted by
  one row (its Child Safety figure is then read from the Appeals section, which repeats it).
* **Microsoft** (``microsoft/microsoft-YYYY-hN.xlsx``): one sheet; CSEAI figures for hosted
  consumer services and for Bing; shares as fractions (stored as percent); the period's
  total of NCMEC CyberTip reports is only in the note's text; a ``*`` marks a restated value.
  Covers consumer services except LinkedIn and GitHub (the note says so).
* **Meta** (``meta/meta-YYYY-qN.csv``): long format ``app,policy_area,metric,period,value``,
  every file a cumulative snapshot. The newest snapshot's value wins; a differing older
  value is noted as a restatement. ``N/A`` means not disclosed; Meta rounds its figures.

Not loaded, and said so in the import report: TikTok's workbooks and CSVs (shares of
removals, not counts, and no CyberTipline figures; TikTok's counts come through the
compilation), X's PDF (not machine-readable) and Meta's user-count file (not a CSEA figure).
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from shieldwall.accountability.loaders import (
    DIAPHANOUS_SNAPSHOT,
    Problems,
    ReferenceFile,
    parse_count,
    sha256_of,
)
from shieldwall.accountability.schemas import Batch, DisclosureRec, Metric, Period, Provenance, Unit

DISCORD_SOURCES = {
    "2020-H2": "https://discord.com/blog/discord-transparency-report-july-dec-2020",
    "2021-H1": "https://discord.com/blog/discord-transparency-report-h1-2021",
    "2021-H2": "https://discord.com/blog/discord-transparency-report-h2-2021",
    "2022-Q1": "https://discord.com/blog/discord-transparency-report-q1-2022",
    "2022-Q2": "https://discord.com/blog/discord-transparency-report-q2-2022",
    "2022-Q3": "https://discord.com/blog/discord-transparency-report-q3-2022",
}
MICROSOFT_SOURCE = (
    "https://www.microsoft.com/en-us/corporate-responsibility/digital-safety-content-report"
)
META_SOURCE = "https://transparency.fb.com/sr/community-standards/"
MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_FILE_PERIOD = re.compile(r"-(\d{4}-[qh]\d)\.(csv|xlsx)$", re.IGNORECASE)

NOT_LOADED = {
    "tiktok": "TikTok publishes shares of removals, not counts, and no CyberTipline figures; "
    "its counts come through the compilation (ocse-reports-per-platform.json)",
    "x": "a PDF report, not machine-readable; X's figures come through the compilation",
    "meta/family-active-people.csv": "user counts, not a CSEA figure",
}


def file_period(path: Path) -> Period:
    m = _FILE_PERIOD.search(path.name)
    if not m:
        raise ValueError(f"{path.name}: the file name does not end in -YYYY-qN or -YYYY-hN")
    return Period.parse(m.group(1))


def platform_files(folder: Path) -> list[ReferenceFile]:
    out: list[ReferenceFile] = []
    base = folder / "disclosures"
    for path in sorted((base / "discord").glob("discord-*.csv")):
        out.append(ReferenceFile(f"disclosures/discord/{path.name}", path, load_discord))
    for path in sorted((base / "microsoft").glob("microsoft-*.xlsx")):
        out.append(ReferenceFile(f"disclosures/microsoft/{path.name}", path, load_microsoft))
    if any((base / "meta").glob("meta-*.csv")):
        out.append(ReferenceFile("disclosures/meta", base / "meta", load_meta))
    return out


def not_loaded(folder: Path) -> list[tuple[str, str]]:
    """(dataset, why) for the files of the disclosures folder that no loader reads."""
    base = folder / "disclosures"
    out: list[tuple[str, str]] = []
    for name, why in NOT_LOADED.items():
        target = base / name
        if target.is_dir():
            out.extend((f"disclosures/{name}/{p.name}", why) for p in sorted(target.iterdir()))
        elif target.is_file():
            out.append((f"disclosures/{name}", why))
    return out


def _rec(
    company: str,
    service: str | None,
    metric: str,
    term: str,
    value: float,
    period: Period,
    url: str,
    *,
    unit: str = Unit.COUNT.value,
    note: str = "",
) -> DisclosureRec:
    return DisclosureRec(
        company=company,
        service=service,
        metric=metric,
        term=term,
        unit=unit,
        value=value,
        period=period,
        prov=Provenance(url, DIAPHANOUS_SNAPSHOT),
        primary=True,
        note=note,
    )


# ---- Discord -------------------------------------------------------------------------------


def _cells(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        return [[c.strip() for c in row] for row in csv.reader(fh)]


def load_discord(path: Path, dataset: str) -> Batch:
    problems = Problems(dataset)
    batch = Batch(dataset=dataset, sha256=sha256_of(path))
    try:
        period = file_period(path)
    except ValueError as exc:
        problems.add(0, str(exc))
        problems.raise_if_any()
        raise
    url = DISCORD_SOURCES.get(
        period.label,
        f"https://discord.com/safety-transparency-reports/{period.label.lower()}",
    )
    rows = _cells(path)
    media = escalations = 0
    months = 0
    for number, row in enumerate(rows, start=1):
        if not row or row[0].lower() not in MONTHS:
            continue
        try:
            media += parse_count(row[1])
            escalations += parse_count(row[2])
        except (ValueError, IndexError):
            problems.add(number, f"{row[0]}: the NCMEC report counts are not numbers")
            continue
        months += 1
    expected = 6 if period.granularity == "half" else 3
    if months != expected:
        problems.add(
            0, f"found {months} monthly NCMEC rows, expected {expected} for {period.label}"
        )
    problems.raise_if_any()
    stated = _months_named(rows)
    if stated and not set(stated) <= {
        MONTHS[m - 1] for m in range(period.start.month, period.end.month + 1)
    }:
        batch.skipped.append(
            f"month labels ({', '.join(stated)}) do not match {period.label}; the figures are "
            "taken as the file's period"
        )
    add = batch.disclosures.append
    add(_rec("discord", None, Metric.OTHER, "NCMEC reports: Media Reports", media, period, url))
    add(
        _rec(
            "discord",
            None,
            Metric.OTHER,
            "NCMEC reports: Grooming or Endangerment Escalations",
            escalations,
            period,
            url,
        )
    )
    add(
        _rec(
            "discord",
            None,
            Metric.CYBERTIPLINE_REPORTS,
            "NCMEC reports: Media Reports + Grooming or Endangerment Escalations",
            media + escalations,
            period,
            url,
            note="sum of the monthly rows",
        )
    )
    _discord_sections(rows, period, url, batch)
    return batch


def _months_named(rows: list[list[str]]) -> list[str]:
    return [r[0].lower() for r in rows if r and r[0].lower() in MONTHS]


def _section_value(rows: list[list[str]], header: str, column: int) -> int | None:
    """The Child Safety figure in column ``column`` of the section whose header row starts
    with ``header``; None when the section is missing or the cell is not a count."""
    inside = False
    for row in rows:
        if row and row[0] == header:
            inside = True
            continue
        if inside and row and row[0] == "Child Safety":
            try:
                return parse_count(row[column])
            except (ValueError, IndexError):
                return None
    return None


def _discord_sections(rows: list[list[str]], period: Period, url: str, batch: Batch) -> None:
    if not any(row and row[0] == "Accounts Disabled Category" for row in rows):
        return
    disabled = _section_value(rows, "Accounts Disabled Category", 1)
    note = ""
    if disabled is None:
        disabled = _section_value(rows, "Appeal Category", 1)
        note = "the Accounts Disabled section is shifted in this file; figure from Appeals"
        batch.skipped.append(note)
    if disabled is not None:
        batch.disclosures.append(
            _rec(
                "discord",
                None,
                Metric.ACCOUNTS_ACTIONED,
                "Accounts Disabled: Child Safety",
                disabled,
                period,
                url,
                note=note,
            )
        )
    servers = _section_value(rows, "Servers Removed Category", 3)
    if servers is not None:
        batch.disclosures.append(
            _rec(
                "discord",
                None,
                Metric.OTHER,
                "Total Servers Removed: Child Safety",
                servers,
                period,
                url,
            )
        )


# ---- Microsoft -----------------------------------------------------------------------------

_NCMEC_NOTE = re.compile(r"NCMEC CyberTip Reports for this period is ([\d,]+)", re.IGNORECASE)
_HOSTED = "Child Sexual Exploitation & Abuse Imagery (CSEAI) - Hosted Consumer Services"


def load_microsoft(path: Path, dataset: str) -> Batch:
    import openpyxl

    problems = Problems(dataset)
    batch = Batch(dataset=dataset, sha256=sha256_of(path))
    try:
        period = file_period(path)
        book = openpyxl.load_workbook(io.BytesIO(path.read_bytes()), data_only=True, read_only=True)
    except Exception as exc:  # a broken workbook is a rejected file, whatever the reason
        problems.add(0, f"cannot read the workbook: {exc}")
        problems.raise_if_any()
        raise
    rows = [list(r) for r in book.worksheets[0].iter_rows(values_only=True)]
    book.close()
    title_row = next((i for i, r in enumerate(rows) if _HOSTED in [str(c) for c in r]), None)
    if title_row is None or title_row + 2 >= len(rows):
        problems.add(0, "no CSEAI table (hosted consumer services) found")
        problems.raise_if_any()
        raise AssertionError("unreachable")
    headers = [str(c).strip() if c is not None else "" for c in rows[title_row + 1]]
    values = rows[title_row + 2]
    line = title_row + 3
    actioned = [i for i, h in enumerate(headers) if h == "Content Actioned"]
    bing_from = actioned[1] if len(actioned) > 1 else len(headers)
    add = batch.disclosures.append
    for index, header in enumerate(headers):
        if not header or index >= len(values) or values[index] is None:
            continue
        scope = "Bing search engine" if index >= bing_from else "hosted consumer services"
        raw = values[index]
        restated = isinstance(raw, str) and raw.strip().endswith("*")
        try:
            number = (
                float(parse_count(raw.strip().rstrip("*"))) if isinstance(raw, str) else float(raw)
            )
        except (TypeError, ValueError):
            problems.add(line, f"{header}: {str(raw)[:20]!r} is not a number")
            continue
        term = f"CSEAI {header} ({scope})"
        note = "restated from the originally published report (marked *)" if restated else ""
        if header == "Content Actioned":
            add(
                _rec(
                    "microsoft",
                    "microsoft-consumer",
                    Metric.CONTENT_ACTIONED,
                    term,
                    number,
                    period,
                    MICROSOFT_SOURCE,
                    note=note,
                )
            )
        elif header == "Accounts Actioned":
            add(
                _rec(
                    "microsoft",
                    "microsoft-consumer",
                    Metric.ACCOUNTS_ACTIONED,
                    term,
                    number,
                    period,
                    MICROSOFT_SOURCE,
                    note=note,
                )
            )
        elif header == "Content Detected Proactively":
            add(
                _rec(
                    "microsoft",
                    "microsoft-consumer",
                    Metric.PROACTIVE_RATE,
                    term,
                    round(number * 100, 4),
                    period,
                    MICROSOFT_SOURCE,
                    unit=Unit.PERCENT.value,
                )
            )
        else:
            add(
                _rec(
                    "microsoft",
                    "microsoft-consumer",
                    Metric.OTHER,
                    term,
                    round(number * 100, 4),
                    period,
                    MICROSOFT_SOURCE,
                    unit=Unit.PERCENT.value,
                )
            )
    # The note is the first text after the values, before the next table's title row.
    note_text = ""
    for r in rows[title_row + 3 :]:
        texts = [str(c) for c in r if c is not None]
        if texts and texts[0].startswith("Note"):
            note_text = " ".join(texts)
            break
    found = _NCMEC_NOTE.search(note_text)
    if found is None:
        problems.add(line + 1, "the note gives no NCMEC CyberTip report total")
    else:
        add(
            _rec(
                "microsoft",
                "microsoft-consumer",
                Metric.CYBERTIPLINE_REPORTS,
                "total NCMEC CyberTip Reports for this period",
                float(parse_count(found.group(1))),
                period,
                MICROSOFT_SOURCE,
                note="from the table's note; excludes LinkedIn and GitHub",
            )
        )
    problems.raise_if_any()
    return batch


# ---- Meta ----------------------------------------------------------------------------------

META_POLICIES = (
    "Child Endangerment: Sexual Exploitation",
    "Child Endangerment: Nudity and Physical Abuse",
    "Child Nudity & Sexual Exploitation",
)
META_METRICS = {
    "Content Actioned": Metric.CONTENT_ACTIONED,
    "Content Appealed": Metric.CONTENT_APPEALED,
    "Content Restored with appeal": Metric.CONTENT_RESTORED,
    "Content Restored without appeal": Metric.CONTENT_RESTORED,
    "Proactive rate": Metric.PROACTIVE_RATE,
}
META_APPS = {"Facebook": "facebook", "Instagram": "instagram"}


def load_meta(folder: Path, dataset: str) -> Batch:
    """Every snapshot in ``folder``, oldest first; the newest value of each figure wins."""
    import hashlib

    problems = Problems(dataset)
    files = sorted(folder.glob("meta-*.csv"), key=lambda p: file_period(p).start)
    digest = hashlib.sha256()
    latest: dict[tuple[str, str, str, str], tuple[str, float, str]] = {}
    restated: dict[tuple[str, str, str, str], str] = {}
    not_given = 0
    for path in files:
        digest.update(sha256_of(path).encode())
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if set(reader.fieldnames or ()) != {"app", "policy_area", "metric", "period", "value"}:
                problems.add(1, f"{path.name}: columns must be app,policy_area,metric,period,value")
                continue
            for row in reader:
                if row["policy_area"] not in META_POLICIES or row["metric"] not in META_METRICS:
                    continue
                if row["app"] not in META_APPS:
                    continue
                value_text = (row["value"] or "").strip()
                if value_text in ("N/A", ""):
                    not_given += 1
                    continue
                try:
                    Period.parse(row["period"])
                    if value_text.endswith("%"):
                        value = float(value_text[:-1].replace(",", ""))
                    else:
                        value = float(parse_count(value_text))
                except ValueError as exc:
                    problems.add(reader.line_num, f"{path.name}: {exc}")
                    continue
                key = (row["app"], row["policy_area"], row["metric"], row["period"])
                if key in latest and latest[key][1] != value:
                    restated[key] = f"{latest[key][0]} said {latest[key][1]:,.0f}"
                latest[key] = (path.name, value, value_text)
    problems.raise_if_any()
    batch = Batch(dataset=dataset, sha256=digest.hexdigest())
    for key, (name, value, text) in sorted(latest.items()):
        app, policy, metric_name, period_text = key
        percent = text.endswith("%")
        notes = [f"from {name}", "figures rounded by Meta" if not percent else ""]
        if key in restated:
            notes.append(f"restated: {restated[key]}")
        batch.disclosures.append(
            _rec(
                "meta",
                META_APPS[app],
                META_METRICS[metric_name],
                f"{metric_name}: {policy}",
                value,
                Period.parse(period_text),
                META_SOURCE,
                unit=Unit.PERCENT.value if percent else Unit.COUNT.value,
                note="; ".join(n for n in notes if n),
            )
        )
    batch.skipped.append(f"{not_given} figure(s) marked N/A (not disclosed) were not stored")
    if restated:
        batch.skipped.append(f"{len(restated)} figure(s) restated between snapshots; newest kept")
    return batch
