"""Loaders: each reads one file and returns a checked :class:`~..schemas.Batch`, or raises
:class:`FileRejected` listing every malformed line, so nothing of a bad file is stored.

``reference_files(folder)`` lists the shared reference data in the order it must be applied
(the registry of companies first, then commitments, NCMEC, disclosures).
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from shieldwall.accountability.schemas import Batch, LineError

#: apparebit/diaphanous commit 72087306 (2024-10-22): the snapshot the shared NCMEC and
#: disclosure files were copied from (see their README and PROVENANCE). Used as the
#: retrieval date of facts from those files.
DIAPHANOUS_SNAPSHOT = date(2024, 10, 22)


class FileRejected(Exception):
    """A file with malformed lines; ``errors`` names each one. Nothing of it is applied."""

    def __init__(self, dataset: str, errors: list[LineError]) -> None:
        self.dataset = dataset
        self.errors = errors
        first = "; ".join(f"line {e.line}: {e.message}" for e in errors[:3])
        more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
        super().__init__(f"{dataset}: {first}{more}")


class Problems:
    """Collects line errors while a loader reads a whole file."""

    def __init__(self, dataset: str) -> None:
        self.dataset = dataset
        self.errors: list[LineError] = []

    def add(self, line: int, message: str) -> None:
        self.errors.append(LineError(line=line, message=message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise FileRejected(self.dataset, self.errors)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def modified_on(path: Path) -> date:
    """The day a file was last written (used as the retrieval date when a source gives none)."""
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC).date()


#: The largest whole number a BIGINT column holds.
MAX_BIGINT = 2**63 - 1
#: Control characters a free text (a note, a quote) may hold.
_LINE_BREAKS = frozenset("\t\n\r")


def parse_number(text: str, what: str) -> float:
    """A finite number (``12,345``, ``1.5``, ``2e6``); ``ValueError`` for anything else,
    NaN and infinities included (no column stores them in every database, nor can JSON
    carry them)."""
    try:
        value = float(text.replace(",", ""))
    except ValueError:
        raise ValueError(f"{what} {text[:20]!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} {text[:20]!r} is not a finite number")
    return value


def parse_whole(text: str, what: str, *, least: int = 0) -> int:
    """A whole number from ``least`` to :data:`MAX_BIGINT`; ``ValueError`` otherwise."""
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{what} {text[:20]!r} is not a whole number") from None
    if not least <= value <= MAX_BIGINT:
        raise ValueError(f"{what} must be a whole number from {least} to {MAX_BIGINT}")
    return value


def check_text(text: str, what: str, *, multiline: bool = False) -> str:
    """``text`` unchanged; ``ValueError`` when it holds a lone surrogate (which cannot be
    stored as UTF-8) or a control character (NUL above all, which PostgreSQL refuses).
    Tabs and line breaks are allowed when ``multiline``."""
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cs":
            raise ValueError(f"{what} holds a lone surrogate (not a character)")
        if category == "Cc" and not (multiline and ch in _LINE_BREAKS):
            raise ValueError(f"{what} must not contain control characters")
    return text


_NUMBER = re.compile(r"^-?\d{1,3}(,\d{3})+$|^-?\d+$")


def parse_count(text: str) -> int:
    """A count as publishers print it: ``12,345``, ``12345`` or ``12345.0``; raises
    ``ValueError`` for anything else (``--``, ``N/A``, words)."""
    value = text.strip().replace("\u00a0", "")
    if value.endswith(".0") and value[:-2].replace(",", "").isdigit():
        value = value[:-2]
    if not _NUMBER.fullmatch(value):
        raise ValueError(f"{text.strip()[:30]!r} is not a count")
    return int(value.replace(",", ""))


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text.strip()[:30]!r} is not a date (YYYY-MM-DD)") from None


@dataclass(frozen=True)
class ReferenceFile:
    """One file (or folder) of the shared reference data and the loader for it."""

    dataset: str  # path relative to the data folder, e.g. "ncmec/reports-by-esp.csv"
    path: Path
    load: Callable[[Path, str], Batch]


def reference_files(folder: Path) -> list[ReferenceFile]:
    """The reference files found under ``folder`` (the shared ``data`` folder), in order.
    Files that are not there are simply not listed."""
    from shieldwall.accountability.loaders import commitments, diaphanous, ncmec, platforms

    candidates: list[tuple[str, Callable[[Path, str], Batch]]] = [
        ("commitments/principles.csv", commitments.check_principles),
        ("commitments/endorsements.csv", commitments.load_endorsements),
        ("commitments/memberships.csv", commitments.load_memberships),
        ("commitments/aggregate-statements.csv", commitments.load_statements),
        ("ncmec/reports-per-year.csv", ncmec.load_totals),
        ("ncmec/reports-by-esp.csv", ncmec.load_counts),
        ("disclosures/ocse-reports-per-platform.json", diaphanous.load),
    ]
    out = [
        ReferenceFile(dataset, folder / dataset, loader)
        for dataset, loader in candidates
        if (folder / dataset).is_file()
    ]
    out.extend(platforms.platform_files(folder))
    return out
