"""Value objects and I/O shapes of the accountability tracker.

The parsed-record dataclasses (``*Rec``) are what every loader produces and what
:func:`shieldwall.accountability.service.apply_batch` stores; the pydantic models are what the
API answers.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from pydantic import BaseModel, Field


class Metric(StrEnum):
    """The small vocabulary disclosures are mapped onto; ``term`` keeps the company's words."""

    CYBERTIPLINE_REPORTS = "cybertipline_reports"
    CONTENT_ACTIONED = "content_actioned"
    ACCOUNTS_ACTIONED = "accounts_actioned"
    CONTENT_APPEALED = "content_appealed"
    CONTENT_RESTORED = "content_restored"
    PROACTIVE_RATE = "proactive_rate"
    OTHER = "other"


METRIC_LABELS: dict[str, str] = {
    Metric.CYBERTIPLINE_REPORTS: "CyberTipline reports sent to NCMEC",
    Metric.CONTENT_ACTIONED: "pieces of content actioned",
    Metric.ACCOUNTS_ACTIONED: "accounts actioned",
    Metric.CONTENT_APPEALED: "content appealed",
    Metric.CONTENT_RESTORED: "content restored",
    Metric.PROACTIVE_RATE: "share detected proactively",
    Metric.OTHER: "other measure",
}


class Unit(StrEnum):
    COUNT = "count"
    PERCENT = "percent"


class Granularity(StrEnum):
    YEAR = "year"
    HALF = "half"
    QUARTER = "quarter"
    MONTH = "month"
    OTHER = "other"


class EvidenceStatus(StrEnum):
    IN_PLACE = "in_place"
    PARTLY = "partly"
    NOT_IN_PLACE = "not_in_place"
    NOT_KNOWN = "not_known"


STATUS_LABELS: dict[str, str] = {
    EvidenceStatus.IN_PLACE: "in place",
    EvidenceStatus.PARTLY: "partly",
    EvidenceStatus.NOT_IN_PLACE: "not in place",
    EvidenceStatus.NOT_KNOWN: "not known",
}


class CommitmentKind(StrEnum):
    ENDORSEMENT = "endorsement"
    MEMBERSHIP = "membership"


class Precision(StrEnum):
    DAY = "day"
    YEAR = "year"


class Verdict(StrEnum):
    CONSISTENT = "consistent"
    INCONSISTENT = "inconsistent"
    NOT_COMPARABLE = "not_comparable"


# ---- names ---------------------------------------------------------------------------------


def name_key(name: str) -> str:
    """The lookup key of a printed name: Unicode-normalised, case folded, runs of spaces
    collapsed and a stray trailing comma removed. Nothing fuzzier: two names that differ in
    any other way need an alias each. NCMEC's ``*`` footnote is kept, because a starred line
    combines several brands and so needs its own alias."""
    text = unicodedata.normalize("NFKC", name).casefold()
    text = re.sub(r"\s+", " ", text).strip()
    return text.rstrip(",").rstrip()


def is_footnoted(name: str) -> bool:
    """NCMEC's ``*``: "Report totals for related platforms and companies have been combined"."""
    return name.strip().endswith("*")


def slugify(name: str) -> str:
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:80] or "company"


# ---- periods -------------------------------------------------------------------------------

_PERIOD = re.compile(
    r"^\s*(?P<year>\d{4})(?:\s*[- ]?\s*(?P<kind>[QqHh])\s*(?P<n>\d)|-(?P<month>\d{2}))?\s*$"
)


def quarter_label(year: int, n: int) -> str:
    """How a quarter is written everywhere: ``2024-Q3``."""
    return f"{year:04d}-Q{n}"


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A calendar period: a year, half-year, quarter or month (or any date range)."""

    start: date
    end: date
    granularity: str
    label: str

    @classmethod
    def parse(cls, text: str) -> Period:
        """``2023``, ``2023-H1``/``2023 H1``, ``2023-Q4``/``2023Q4``/``2023 Q4``, ``2023-07``;
        raises ``ValueError`` naming the accepted forms."""
        m = _PERIOD.match(text or "")
        if not m:
            raise ValueError(
                f"period {text[:30]!r} is not YYYY, YYYY-H1/H2, YYYY-Q1..Q4 or YYYY-MM"
            )
        year = int(m["year"])
        if m["month"]:
            return cls.month(year, int(m["month"]))
        if not m["kind"]:
            return cls.year(year)
        n = int(m["n"])
        if m["kind"] in "Hh":
            if n not in (1, 2):
                raise ValueError(f"half-year must be H1 or H2, got H{n}")
            return cls.half(year, n)
        if n not in (1, 2, 3, 4):
            raise ValueError(f"quarter must be Q1-Q4, got Q{n}")
        return cls.quarter(year, n)

    @classmethod
    def of_months(cls, year: int, first: int, last: int, granularity: str, label: str) -> Period:
        end_day = calendar.monthrange(year, last)[1]
        return cls(date(year, first, 1), date(year, last, end_day), granularity, label)

    @classmethod
    def year(cls, year: int) -> Period:
        return cls.of_months(year, 1, 12, Granularity.YEAR, f"{year:04d}")

    @classmethod
    def half(cls, year: int, n: int) -> Period:
        return cls.of_months(year, 6 * n - 5, 6 * n, Granularity.HALF, f"{year:04d}-H{n}")

    @classmethod
    def quarter(cls, year: int, n: int) -> Period:
        return cls.of_months(year, 3 * n - 2, 3 * n, Granularity.QUARTER, quarter_label(year, n))

    @classmethod
    def month(cls, year: int, n: int) -> Period:
        if not 1 <= n <= 12:
            raise ValueError(f"month must be 01-12, got {n:02d}")
        return cls.of_months(year, n, n, Granularity.MONTH, f"{year:04d}-{n:02d}")

    @classmethod
    def span(cls, start: date, end: date) -> Period:
        """Any date range; named like a calendar period when it is one."""
        if end < start:
            raise ValueError("a period cannot end before it starts")
        for candidate in cls._calendar_candidates(start.year):
            if candidate.start == start and candidate.end == end:
                return candidate
        return cls(start, end, Granularity.OTHER, f"{start.isoformat()}/{end.isoformat()}")

    @classmethod
    def _calendar_candidates(cls, year: int) -> list[Period]:
        out = [cls.year(year), cls.half(year, 1), cls.half(year, 2)]
        out += [cls.quarter(year, n) for n in range(1, 5)]
        out += [cls.month(year, n) for n in range(1, 13)]
        return out

    @property
    def months(self) -> frozenset[tuple[int, int]]:
        """(year, month) pairs fully inside the period (empty for odd ranges)."""
        if self.granularity == Granularity.OTHER:
            return frozenset()
        return frozenset((self.start.year, m) for m in range(self.start.month, self.end.month + 1))


# ---- parsed records ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Provenance:
    source_url: str
    retrieved_on: date


@dataclass(frozen=True, slots=True)
class CompanyRec:
    slug: str
    name: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class ServiceRec:
    company: str  # slug
    slug: str
    name: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class AliasRec:
    name: str
    company: str  # slug
    service: str | None = None  # slug
    combined: bool = False
    note: str = ""


@dataclass(frozen=True, slots=True)
class CommitmentRec:
    company_name: str  # as written; resolved through aliases, else a new company
    kind: str
    framework: str
    event: str
    on_date: date
    precision: str
    prov: Provenance
    note: str = ""
    line: int = 0


@dataclass(frozen=True, slots=True)
class StatementRec:
    on_date: date
    framework: str
    statement: str
    value: float
    prov: Provenance


@dataclass(frozen=True, slots=True)
class DisclosureRec:
    company: str  # slug
    service: str | None  # slug; None = the company as a whole
    metric: str
    term: str
    unit: str
    value: float
    period: Period
    prov: Provenance
    primary: bool = True
    rounded_to: int | None = None
    note: str = ""
    origin: str = "company"  # who compiled it: the company itself, or e.g. "diaphanous"


@dataclass(frozen=True, slots=True)
class NcmecCountRec:
    year: int
    line: int
    esp_name: str
    reports: int
    prov: Provenance


@dataclass(frozen=True, slots=True)
class NcmecTotalRec:
    year: int
    total_reports: int
    esp_reports: int | None
    prov: Provenance


@dataclass(frozen=True, slots=True)
class EvidenceRec:
    company: str  # slug or name
    principle: int
    status: str
    quote: str
    evidence_date: date | None
    prov: Provenance


@dataclass
class Batch:
    """Everything one file says, parsed and checked, ready to store in one go."""

    dataset: str
    sha256: str
    companies: list[CompanyRec] = field(default_factory=list)
    services: list[ServiceRec] = field(default_factory=list)
    aliases: list[AliasRec] = field(default_factory=list)
    commitments: list[CommitmentRec] = field(default_factory=list)
    statements: list[StatementRec] = field(default_factory=list)
    disclosures: list[DisclosureRec] = field(default_factory=list)
    ncmec_counts: list[NcmecCountRec] = field(default_factory=list)
    ncmec_totals: list[NcmecTotalRec] = field(default_factory=list)
    evidence: list[EvidenceRec] = field(default_factory=list)
    #: Things the loader read but did not store, with why (shown in the import report).
    skipped: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(
            len(x)
            for x in (
                self.companies,
                self.services,
                self.aliases,
                self.commitments,
                self.statements,
                self.disclosures,
                self.ncmec_counts,
                self.ncmec_totals,
                self.evidence,
            )
        )


# ---- API shapes ----------------------------------------------------------------------------


class LineError(BaseModel):
    line: int = Field(description="1-based line (CSV) or record number (JSON) in the file.")
    message: str


class FileReport(BaseModel):
    """What importing one file did. ``errors`` non-empty means nothing of it was applied."""

    dataset: str
    applied: bool
    rows: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    errors: list[LineError] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)


class ImportSummary(BaseModel):
    files: list[FileReport]
    unmapped_ncmec_names: int = 0

    @property
    def ok(self) -> bool:
        return all(f.applied for f in self.files)
