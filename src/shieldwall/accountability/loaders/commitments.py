"""``commitments/``: the principles, endorsements, memberships and aggregate statements.

Dates given as 1 January with an event of "joined" stand for "during that year" (the
folder's README): they are stored with year precision. The files give no retrieval date, so
the day the file was written into the data folder is used.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from shieldwall.accountability.loaders import (
    Problems,
    modified_on,
    parse_date,
    sha256_of,
)
from shieldwall.accountability.schemas import (
    Batch,
    CommitmentKind,
    CommitmentRec,
    Precision,
    Provenance,
    StatementRec,
)
from shieldwall.core.principles import PRINCIPLES


def rows(
    path: Path, problems: Problems, required: set[str]
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) for each data row; a missing column is one error for line 1."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        missing = required - set(reader.fieldnames or ())
        if missing:
            problems.add(1, f"missing column(s): {', '.join(sorted(missing))}")
            return
        for row in reader:
            if None in row:
                problems.add(reader.line_num, "more cells than columns")
                continue
            yield reader.line_num, {k: (v or "").strip() for k, v in row.items()}


def _precision(event: str, text: str) -> str:
    # "joined ... 2021-01-01" means "during 2021" (README); "member by" dates are exact.
    if event.lower() == "joined" and text.endswith("-01-01"):
        return Precision.YEAR.value
    return Precision.DAY.value


def _load_commitments(path: Path, dataset: str, kind: CommitmentKind, org_column: str) -> Batch:
    problems = Problems(dataset)
    batch = Batch(dataset=dataset, sha256=sha256_of(path))
    retrieved = modified_on(path)
    required = {"company", org_column, "event", "date", "source"}
    for line, row in rows(path, problems, required):
        try:
            on_date = parse_date(row["date"])
        except ValueError as exc:
            problems.add(line, str(exc))
            continue
        if not row["company"] or not row[org_column] or not row["event"]:
            problems.add(line, f"company, {org_column} and event must not be empty")
            continue
        if not row["source"].startswith(("http://", "https://")):
            problems.add(line, "source must be an http(s) URL")
            continue
        batch.commitments.append(
            CommitmentRec(
                company_name=row["company"],
                kind=kind.value,
                framework=row[org_column],
                event=row["event"],
                on_date=on_date,
                precision=_precision(row["event"], row["date"]),
                prov=Provenance(row["source"], retrieved),
                note=row.get("note", ""),
                line=line,
            )
        )
    problems.raise_if_any()
    return batch


def load_endorsements(path: Path, dataset: str) -> Batch:
    return _load_commitments(path, dataset, CommitmentKind.ENDORSEMENT, "framework")


def load_memberships(path: Path, dataset: str) -> Batch:
    return _load_commitments(path, dataset, CommitmentKind.MEMBERSHIP, "organisation")


def load_statements(path: Path, dataset: str) -> Batch:
    problems = Problems(dataset)
    batch = Batch(dataset=dataset, sha256=sha256_of(path))
    retrieved = modified_on(path)
    for line, row in rows(path, problems, {"date", "framework", "statement", "value", "source"}):
        try:
            on_date = parse_date(row["date"])
            value = float(row["value"])
        except ValueError as exc:
            problems.add(
                line, str(exc) if "date" in str(exc) else f"value {row['value']!r} is not a number"
            )
            continue
        batch.statements.append(
            StatementRec(
                on_date=on_date,
                framework=row["framework"],
                statement=row["statement"],
                value=value,
                prov=Provenance(row["source"], retrieved),
            )
        )
    problems.raise_if_any()
    return batch


def check_principles(path: Path, dataset: str) -> Batch:
    """principles.csv is not stored (the principles are part of shieldwall itself); it is
    compared with them, and a difference is reported."""
    problems = Problems(dataset)
    batch = Batch(dataset=dataset, sha256=sha256_of(path))
    known = {p.number: p for p in PRINCIPLES}
    seen = 0
    for line, row in rows(path, problems, {"number", "short_name", "wording"}):
        seen += 1
        number = int(row["number"]) if row["number"].isdigit() else 0
        if number not in known:
            problems.add(line, f"no principle {row['number']!r}")
        elif known[number].wording != row["wording"]:
            batch.skipped.append(f"principle {number}: wording differs from shieldwall's copy")
    problems.raise_if_any()
    batch.skipped.append(f"{seen} principles compared with shieldwall.core.principles (not stored)")
    return batch
