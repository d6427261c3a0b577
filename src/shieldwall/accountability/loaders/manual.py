"""The by-hand format: CSV (one kind of record per file, recognised by its header) or one
JSON document holding any of the kinds. Documented in ``docs/accountability.md``; the export
writes the same format, so an export imports back unchanged.

Every row is checked before anything is stored; one bad row rejects the file, and the
errors name the CSV line (header = line 1) or the JSON record (``<kind>[n]``, counted from 1,
reported as line n).
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Callable, Iterator
from datetime import date
from typing import Any

from shieldwall.accountability.loaders import (
    Problems,
    check_text,
    parse_date,
    parse_number,
    parse_whole,
)
from shieldwall.accountability.schemas import (
    AliasRec,
    Batch,
    CommitmentKind,
    CommitmentRec,
    CompanyRec,
    DisclosureRec,
    EvidenceRec,
    EvidenceStatus,
    Metric,
    Period,
    Precision,
    Provenance,
    ServiceRec,
    Unit,
    name_key,
)
from shieldwall.core import jsondoc
from shieldwall.core.text import sanitise

FORMAT = "shieldwall-accountability"
#: kind -> (required columns, optional columns), in export order
KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "companies": (("company", "name"), ("note",)),
    "services": (("company", "service", "name"), ("note",)),
    "aliases": (("alias", "company"), ("service", "combined", "note")),
    "commitments": (
        ("company", "kind", "framework", "event", "date", "source_url"),
        ("precision", "retrieved_on", "note"),
    ),
    "disclosures": (
        ("company", "metric", "term", "value", "period", "source_url"),
        ("service", "unit", "rounded_to", "retrieved_on", "primary", "origin", "note"),
    ),
    "evidence": (
        ("company", "principle", "status", "source_url"),
        ("quote", "evidence_date", "retrieved_on"),
    ),
}
#: Detection order: the most specific header first.
DETECT = ("disclosures", "evidence", "commitments", "aliases", "services", "companies")
#: Columns of free text, which may hold tabs and line breaks (no other column may).
MULTILINE = frozenset({"note", "quote", "term"})
#: The longest value of each column the database keeps in a sized column (the others are
#: unlimited text): a company is stored by slug in a companies row, else by the name it is
#: written as (a commitment's new company); a name is also stored as its alias key.
MAX_LENGTHS = {
    "company": 200, "name": 200, "service": 80, "alias": 300, "kind": 20, "framework": 120,
    "event": 60, "precision": 10, "metric": 40, "unit": 20, "period": 30, "origin": 40,
    "status": 20,
}  # fmt: skip
MAX_SLUG = 80
MAX_ALIAS_KEY = 300

Known = Callable[[str], bool]


def columns(kind: str) -> list[str]:
    required, optional = KINDS[kind]
    return [*required, *optional]


def detect_kind(header: list[str]) -> str | None:
    present = set(header)
    for kind in DETECT:
        if set(KINDS[kind][0]) <= present:
            return kind
    return None


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("", "false", "no", "0"):
        return False
    if value in ("true", "yes", "1"):
        return True
    raise ValueError(f"{text[:10]!r} is not true/false")


def _url(text: str) -> str:
    if not text.startswith(("https://", "http://")):
        raise ValueError("source_url must be an http(s) URL")
    return text


def _prov(row: dict[str, str], today: date) -> Provenance:
    retrieved = parse_date(row["retrieved_on"]) if row.get("retrieved_on") else today
    return Provenance(_url(row["source_url"]), retrieved)


def parse_rows(
    kind: str,
    rows: Iterator[tuple[int, dict[str, str]]],
    batch: Batch,
    problems: Problems,
    known_company: Known,
    today: date,
) -> None:
    """Check each row of ``kind`` and add it to ``batch``; errors go to ``problems``."""
    defined: set[str] = set()
    for line, raw in rows:
        row = {k: ("" if v is None else str(v)).strip() for k, v in raw.items()}
        try:
            missing = [c for c in KINDS[kind][0] if not row.get(c)]
            if missing:
                raise ValueError(f"empty required column(s): {', '.join(missing)}")
            _check_columns(kind, row)
            company = row["company"]
            if kind != "companies" and company not in defined and not known_company(company):
                raise ValueError(
                    f"unknown company {company[:80]!r}: add a companies row (or an alias) first"
                )
            _one(kind, row, batch, today)
            if kind == "companies":
                defined.add(company)
        except ValueError as exc:
            problems.add(line, str(exc))


def _check_columns(kind: str, row: dict[str, str]) -> None:
    """Every column storable as it is: no surrogates or control characters, no longer than
    its database column; ``ValueError`` naming the column otherwise."""
    for column in columns(kind):
        value = check_text(row.get(column, ""), column, multiline=column in MULTILINE)
        limit = MAX_SLUG if (kind, column) == ("companies", "company") else MAX_LENGTHS.get(column)
        if limit is not None and len(value) > limit:
            raise ValueError(f"{column} is longer than {limit} characters ({len(value)})")
        if column in ("company", "alias") and len(name_key(value)) > MAX_ALIAS_KEY:
            raise ValueError(f"{column} is longer than {MAX_ALIAS_KEY} characters once normalised")


def _one(kind: str, row: dict[str, str], batch: Batch, today: date) -> None:
    company = row["company"]
    if kind == "companies":
        batch.companies.append(CompanyRec(company, row["name"], row.get("note", "")))
    elif kind == "services":
        batch.services.append(ServiceRec(company, row["service"], row["name"], row.get("note", "")))
    elif kind == "aliases":
        batch.aliases.append(
            AliasRec(row["alias"], company, row.get("service") or None,
                     _bool(row.get("combined", "")), row.get("note", ""))
        )  # fmt: skip
    elif kind == "commitments":
        kinds = [k.value for k in CommitmentKind]
        if row["kind"] not in kinds:
            raise ValueError(f"kind must be one of {', '.join(kinds)}")
        precision = row.get("precision") or Precision.DAY.value
        if precision not in [p.value for p in Precision]:
            raise ValueError("precision must be day or year")
        batch.commitments.append(
            CommitmentRec(company, row["kind"], row["framework"], row["event"],
                          parse_date(row["date"]), precision, _prov(row, today),
                          row.get("note", ""))
        )  # fmt: skip
    elif kind == "disclosures":
        metrics = [m.value for m in Metric]
        if row["metric"] not in metrics:
            raise ValueError(f"metric must be one of {', '.join(metrics)}")
        unit = row.get("unit") or Unit.COUNT.value
        if unit not in [u.value for u in Unit]:
            raise ValueError("unit must be count or percent")
        value = parse_number(row["value"], "value")
        if value < 0:
            raise ValueError("value must not be negative")
        rounded = (
            parse_whole(row["rounded_to"], "rounded_to", least=1) if row.get("rounded_to") else None
        )
        batch.disclosures.append(
            DisclosureRec(company, row.get("service") or None, row["metric"], row["term"], unit,
                          value, Period.parse(row["period"]), _prov(row, today),
                          primary=_bool(row.get("primary") or "true"), rounded_to=rounded,
                          note=row.get("note", ""), origin=row.get("origin") or "company")
        )  # fmt: skip
    elif kind == "evidence":
        statuses = [s.value for s in EvidenceStatus]
        status = row["status"].replace(" ", "_")
        if status not in statuses:
            raise ValueError(f"status must be one of {', '.join(statuses)}")
        if not row["principle"].isdigit() or not 1 <= int(row["principle"]) <= 11:
            raise ValueError("principle must be a number from 1 to 11")
        when = parse_date(row["evidence_date"]) if row.get("evidence_date") else None
        batch.evidence.append(
            EvidenceRec(company, int(row["principle"]), status, row.get("quote", ""), when,
                        _prov(row, today))
        )  # fmt: skip


def load_csv(data: bytes, dataset: str, known_company: Known, today: date) -> Batch:
    problems = Problems(dataset)
    batch = Batch(dataset=dataset, sha256=hashlib.sha256(data).hexdigest())
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        problems.add(1, "the file is not UTF-8 text")
        problems.raise_if_any()
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in reader.fieldnames or []]
    except csv.Error as exc:
        problems.add(1, f"unreadable CSV header ({exc})")
        problems.raise_if_any()
        raise AssertionError("unreachable") from None
    kind = detect_kind(header)
    if kind is None:
        problems.add(1, "header matches no record kind; see docs/accountability.md for the columns")
        problems.raise_if_any()
        raise AssertionError("unreachable")
    reader.fieldnames = header

    def rows() -> Iterator[tuple[int, dict[str, str]]]:
        try:
            for row in reader:
                if None in row:
                    problems.add(reader.line_num, "more cells than columns")
                    continue
                if not any((v or "").strip() for v in row.values()):
                    continue
                yield reader.line_num, row
        except csv.Error as exc:  # e.g. a cell over the csv module's 128 KiB field limit
            problems.add(reader.line_num, f"unreadable CSV ({exc}); the rest was not read")

    parse_rows(kind, rows(), batch, problems, known_company, today)
    problems.raise_if_any()
    return batch


def load_json(document: dict[str, Any], data: bytes, dataset: str, known_company: Known,
              today: date) -> Batch:  # fmt: skip
    problems = Problems(dataset)
    batch = Batch(dataset=dataset, sha256=hashlib.sha256(data).hexdigest())
    unknown = set(document) - set(KINDS) - {"format", "version"}
    if unknown:
        # a key may hold a lone surrogate: the message must still encode as UTF-8
        problems.add(1, f"unknown section(s): {sanitise(', '.join(sorted(unknown)))[:300]}")
    for kind in ("companies", "services", "aliases", "commitments", "disclosures", "evidence"):
        records = document.get(kind) or []
        if not isinstance(records, list):
            problems.add(1, f"{kind} must be a list")
            continue
        items: list[tuple[int, dict[str, str]]] = []
        for n, record in enumerate(records, start=1):
            if not isinstance(record, dict):
                problems.add(n, f"{kind}[{n}] must be an object")
                continue
            items.append((n, {k: "" if v is None else str(v) for k, v in record.items()}))
        parse_rows(kind, iter(items), batch, problems,
                   lambda ref: known_company(ref) or any(c.slug == ref for c in batch.companies),
                   today)  # fmt: skip
    problems.raise_if_any()
    return batch


def decode_json(data: bytes) -> Any:
    return jsondoc.loads(data.decode("utf-8-sig"))
