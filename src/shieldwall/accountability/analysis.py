"""What the tracker computes from its rows: adoption, volumes, the consistency audit and
disclosure coverage. Reads only; the tables are small, so whole tables are read once.

"Not known" stays "not known": a company with no endorsement row is never counted as one
that did not endorse.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from shieldwall.accountability import repository
from shieldwall.accountability.audit import CompanyAudit, Figure, NcmecLine, audit_company
from shieldwall.accountability.models import Commitment, Company, Disclosure, Statement
from shieldwall.accountability.schemas import (
    CommitmentKind,
    Metric,
    Unit,
    Verdict,
    quarter_label,
)

VOLUNTARY_PRINCIPLES = "Voluntary Principles"
TECH_COALITION = "Technology Coalition"


# ---- adoption ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    company: Company
    joined: Commitment
    endorsement: Commitment | None  # None: not known


@dataclass(frozen=True)
class SideBySide:
    statement: Statement
    tracker_value: int | None
    tracker_note: str


@dataclass
class Adoption:
    endorsements: list[tuple[Company, Commitment]]
    endorsers_over_time: list[tuple[date, int]]
    members: list[Member]
    statements: list[SideBySide]
    as_of: date | None

    @property
    def members_endorsed(self) -> list[Member]:
        return [m for m in self.members if m.endorsement is not None]

    @property
    def members_not_known(self) -> list[Member]:
        return [m for m in self.members if m.endorsement is None]


def adoption(session: Session) -> Adoption:
    companies = {c.id: c for c in repository.companies(session)}
    rows = repository.commitments(session)
    endorsements = [
        (companies[c.company_id], c)
        for c in rows
        if c.kind == CommitmentKind.ENDORSEMENT and c.framework == VOLUNTARY_PRINCIPLES
    ]
    first: dict[int, Commitment] = {}
    for _company, c in endorsements:
        first.setdefault(c.company_id, c)
    over_time: list[tuple[date, int]] = []
    for n, c in enumerate(sorted(first.values(), key=lambda c: c.on_date), start=1):
        if over_time and over_time[-1][0] == c.on_date:
            over_time[-1] = (c.on_date, n)
        else:
            over_time.append((c.on_date, n))
    joined: dict[int, Commitment] = {}
    for c in rows:
        if c.kind == CommitmentKind.MEMBERSHIP and c.framework == TECH_COALITION:
            joined.setdefault(c.company_id, c)
    members = sorted(
        (Member(companies[cid], c, first.get(cid)) for cid, c in joined.items()),
        key=lambda m: m.company.name.casefold(),
    )
    statements = [_side_by_side(s, first, joined) for s in repository.statements(session)]
    dates = [c.retrieved_on for c in rows] + [
        s.retrieved_on for s in repository.statements(session)
    ]
    return Adoption(endorsements, over_time, members, statements, max(dates, default=None))


def _side_by_side(
    s: Statement, endorsed: dict[int, Commitment], joined: dict[int, Commitment]
) -> SideBySide:
    """What the tracker's own rows support for a published aggregate figure."""
    text = s.statement.lower()
    by_then_endorsed = {cid for cid, c in endorsed.items() if c.on_date <= s.on_date}
    by_then_members = {cid for cid, c in joined.items() if c.on_date <= s.on_date}
    if s.framework == VOLUNTARY_PRINCIPLES and text == "companies that had endorsed":
        return SideBySide(s, len(by_then_endorsed), "endorsements in the tracker dated by then")
    if s.framework == VOLUNTARY_PRINCIPLES and text.startswith("technology coalition members"):
        unknown = len(by_then_members - by_then_endorsed)
        return SideBySide(
            s,
            None,
            f"the tracker names {len(by_then_members)} members by then; "
            f"{len(by_then_members & by_then_endorsed)} endorsed, {unknown} not known "
            "(no row says any did not)",
        )
    if s.framework == TECH_COALITION and text == "members":
        return SideBySide(s, len(by_then_members), "members named in the tracker by then")
    return SideBySide(s, None, "the tracker holds no company rows on this")


# ---- volumes -------------------------------------------------------------------------------


@dataclass
class CompanyVolume:
    company: Company
    by_year: dict[int, int]

    def share(self, year: int, totals: dict[int, int]) -> float | None:
        if not totals.get(year):
            return None
        return self.by_year.get(year, 0) / totals[year]

    def growth(self, year: int) -> float | None:
        before = self.by_year.get(year - 1)
        now = self.by_year.get(year)
        if not before or now is None:
            return None
        return (now - before) / before


@dataclass
class Volumes:
    years: list[int]
    esp_totals: dict[int, int]  # NCMEC's printed ESP subtotal (or the rows' sum)
    all_totals: dict[int, int]  # all CyberTipline reports
    row_sums: dict[int, int]
    companies: list[CompanyVolume]
    unmapped: dict[int, int]


def volumes(session: Session) -> Volumes:
    companies = {c.id: c for c in repository.companies(session)}
    totals = repository.ncmec_totals(session)
    row_sums: dict[int, int] = defaultdict(int)
    unmapped: dict[int, int] = defaultdict(int)
    per: dict[int, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for row in repository.ncmec_counts(session):
        row_sums[row.year] += row.reports
        if row.company_id is None:
            unmapped[row.year] += row.reports
        else:
            per[row.company_id][row.year] += row.reports
    years = sorted(row_sums)
    esp = {y: (totals[y].esp_reports or row_sums[y]) if y in totals else row_sums[y] for y in years}
    ranked = sorted(
        (CompanyVolume(companies[cid], dict(by_year)) for cid, by_year in per.items()),
        key=lambda v: -sum(v.by_year.values()),
    )
    return Volumes(
        years=years,
        esp_totals=esp,
        all_totals={y: t.total_reports for y, t in totals.items()},
        row_sums=dict(row_sums),
        companies=ranked,
        unmapped=dict(unmapped),
    )


# ---- the audit -----------------------------------------------------------------------------


def best(rows: list[Disclosure]) -> list[Disclosure]:
    """One figure per company, service, metric, term family and period: the company's own
    publication wins over a compilation of it."""
    chosen: dict[tuple[int, int | None, str, str], Disclosure] = {}
    for d in sorted(rows, key=lambda d: (not d.primary_source, d.id)):
        key = (d.company_id, d.service_id, d.metric, d.period)
        if d.metric == Metric.OTHER:
            key = (d.company_id, d.service_id, f"{d.metric}:{d.term}", d.period)
        chosen.setdefault(key, d)
    return sorted(chosen.values(), key=lambda d: (d.company_id, d.period_start, d.metric))


def figures_of(rows: list[Disclosure]) -> list[Figure]:
    out = []
    for d in rows:
        if d.metric != Metric.CYBERTIPLINE_REPORTS or d.unit != Unit.COUNT:
            continue
        same_year = d.period_start.year == d.period_end.year and d.granularity != "other"
        months = (
            frozenset(range(d.period_start.month, d.period_end.month + 1))
            if same_year
            else frozenset()
        )
        out.append(
            Figure(d.service_id, d.period, d.period_start.year, months, d.granularity,
                   d.value, d.rounded_to, d.id)
        )  # fmt: skip
    return out


@dataclass
class AuditResult:
    tolerance: float
    companies: list[tuple[Company, CompanyAudit]]

    def counts(self) -> dict[str, int]:
        out = {v.value: 0 for v in Verdict}
        for _c, a in self.companies:
            out[a.verdict] += 1
        return out


def audit(session: Session, tolerance: float, company_id: int | None = None) -> AuditResult:
    """The audit for every company that has either side (or one company)."""
    companies = {c.id: c for c in repository.companies(session)}
    services: dict[int, dict[int, str]] = defaultdict(dict)
    for s in repository.services(session):
        services[s.company_id][s.id] = s.name
    reports = best(repository.disclosures(session, company_id, Metric.CYBERTIPLINE_REPORTS))
    figures: dict[int, list[Figure]] = defaultdict(list)
    for d in reports:
        figures[d.company_id].extend(figures_of([d]))
    lines: dict[int, list[NcmecLine]] = defaultdict(list)
    for row in repository.ncmec_counts(session, company_id):
        if row.company_id is not None:
            lines[row.company_id].append(
                NcmecLine(row.year, row.esp_name, row.reports, row.service_id, row.combined)
            )
    ids = sorted(set(figures) | set(lines), key=lambda i: companies[i].name.casefold())
    results = [
        (companies[i], audit_company(figures[i], lines[i], services[i], tolerance)) for i in ids
    ]
    return AuditResult(tolerance, results)


# ---- coverage ------------------------------------------------------------------------------


@dataclass
class Coverage:
    company: Company
    metrics: dict[str, list[str]] = field(default_factory=dict)  # metric -> periods
    gaps: dict[str, list[str]] = field(default_factory=dict)


def coverage(session: Session, company_id: int | None = None) -> list[Coverage]:
    companies = {c.id: c for c in repository.companies(session)}
    per: dict[int, dict[str, set[tuple[date, str, str]]]] = defaultdict(lambda: defaultdict(set))
    for d in best(repository.disclosures(session, company_id)):
        per[d.company_id][d.metric].add((d.period_start, d.period, d.granularity))
    out = []
    for cid, metrics in per.items():
        cov = Coverage(companies[cid])
        for metric, periods in sorted(metrics.items()):
            ordered = sorted(periods)
            cov.metrics[metric] = list(dict.fromkeys(p for _s, p, _g in ordered))
            cov.gaps[metric] = _gaps(ordered)
        out.append(cov)
    return sorted(out, key=lambda c: c.company.name.casefold())


def _gaps(periods: list[tuple[date, str, str]]) -> list[str]:
    """Quarters between the first and last disclosed period that no period covers."""
    covered: set[tuple[int, int]] = set()
    for start, label, granularity in periods:
        if granularity == "year":
            covered |= {(start.year, q) for q in range(1, 5)}
        elif granularity == "half":
            first = (start.month - 1) // 3 + 1
            covered |= {(start.year, first), (start.year, first + 1)}
        elif granularity in ("quarter", "month"):
            covered.add((start.year, (start.month - 1) // 3 + 1))
        del label
    if not covered:
        return []
    lo, hi = min(covered), max(covered)
    out = []
    year, q = lo
    while (year, q) <= hi:
        if (year, q) not in covered:
            out.append(quarter_label(year, q))
        year, q = (year, q + 1) if q < 4 else (year + 1, 1)
    return out
