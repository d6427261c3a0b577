"""The consistency audit: a company's self-reported CyberTipline report counts against NCMEC's
count for the same company and year. Pure: works on plain records, no database.

Method (also printed on the audit page and in docs/accountability.md):

1. **Same year.** The company's figures for one calendar year are added up from a yearly
   figure, else from half-years, quarters and months that together cover all twelve months
   without overlap. If any month is not covered, the year is *not comparable* and the
   missing quarters are named.
2. **Same scope.** A figure for the whole company is compared with every NCMEC line mapped to
   the company. Figures given per service are added up and compared with the company's NCMEC
   lines when they cover every service NCMEC counted separately (a line NCMEC printed for the
   company as a whole, or with its "combined" footnote, needs figures for all the company's
   services). Otherwise each service is compared with NCMEC's line for that service alone;
   when NCMEC combined the service with other brands that year, it is *not comparable*.
3. **Verdict.** The relative difference is (self-reported - NCMEC) / NCMEC. Within the
   tolerance (default 1 %), or within the rounding of a published figure that was rounded,
   the year is *consistent*; beyond it, *inconsistent*. A company is inconsistent if any
   compared year is, consistent if every compared year is, and not comparable if no year
   could be compared (the reasons are listed).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from shieldwall.accountability.schemas import Granularity, Verdict, quarter_label

#: Preferred order for tiling a year: the coarsest periods first.
_TILE_ORDER = (Granularity.HALF, Granularity.QUARTER, Granularity.MONTH)


@dataclass(frozen=True)
class Figure:
    """One self-reported count of CyberTipline reports for one period and scope."""

    service_id: int | None  # None: the whole company
    period: str
    year: int
    months: frozenset[int]  # months of ``year`` covered
    granularity: str
    value: float
    rounded_to: int | None = None
    disclosure_id: int | None = None


@dataclass(frozen=True)
class NcmecLine:
    year: int
    esp_name: str
    reports: int
    service_id: int | None
    combined: bool


@dataclass
class YearTotal:
    value: float = 0.0
    slack: float = 0.0  # allowance for rounded figures
    periods: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    disclosure_ids: list[int] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class Comparison:
    year: int
    scope: str  # "whole company" or a service name
    self_reported: float | None
    ncmec: int | None
    verdict: str
    reason: str
    periods: tuple[str, ...] = ()
    ncmec_names: tuple[str, ...] = ()

    @property
    def relative_difference(self) -> float | None:
        if self.self_reported is None or not self.ncmec:
            return None
        return (self.self_reported - self.ncmec) / self.ncmec


@dataclass(frozen=True)
class CompanyAudit:
    verdict: str
    reason: str
    comparisons: tuple[Comparison, ...]


def year_total(figures: Iterable[Figure], year: int) -> YearTotal:
    """Add up one scope's figures for ``year`` (see the module docstring, step 1)."""
    inside = [f for f in figures if f.year == year and f.months]
    total = YearTotal()
    whole = [f for f in inside if f.granularity == Granularity.YEAR]
    if whole:
        chosen = [whole[0]]
    else:
        chosen, covered = [], set[int]()
        for granularity in _TILE_ORDER:
            for f in sorted(
                (f for f in inside if f.granularity == granularity), key=lambda f: min(f.months)
            ):
                if not (f.months & covered):
                    chosen.append(f)
                    covered |= f.months
        total.missing = [
            quarter_label(year, q)
            for q in range(1, 5)
            if not set(range(3 * q - 2, 3 * q + 1)) <= covered
        ]
    for f in chosen:
        total.value += f.value
        total.slack += (f.rounded_to or 0) / 2
        total.periods.append(f.period)
        if f.disclosure_id is not None:
            total.disclosure_ids.append(f.disclosure_id)
    return total


def judge(
    year: int,
    scope: str,
    mine: YearTotal,
    lines: Sequence[NcmecLine],
    tolerance: float,
) -> Comparison:
    ncmec = sum(line.reports for line in lines)
    names = tuple(line.esp_name for line in lines)
    periods = tuple(mine.periods)
    diff = mine.value - ncmec
    allowed = max(tolerance * ncmec, mine.slack)
    if diff == 0:
        verdict, reason = Verdict.CONSISTENT, "exact match"
    elif abs(diff) <= tolerance * ncmec:
        verdict, reason = Verdict.CONSISTENT, f"within the {tolerance:.0%} tolerance"
    elif abs(diff) <= allowed:
        verdict, reason = Verdict.CONSISTENT, "within the rounding of the published figure"
    else:
        share = f"{diff / ncmec:+.1%}" if ncmec else "NCMEC counted none"
        verdict, reason = Verdict.INCONSISTENT, f"differs by {diff:+,.0f} ({share})"
    return Comparison(year, scope, mine.value, ncmec, verdict, reason, periods, names)


def not_comparable(year: int, scope: str, reason: str) -> Comparison:
    return Comparison(year, scope, None, None, Verdict.NOT_COMPARABLE, reason)


def audit_company(
    figures: Sequence[Figure],
    lines: Sequence[NcmecLine],
    services: dict[int, str],
    tolerance: float,
) -> CompanyAudit:
    """Compare one company's figures with its NCMEC lines, year by year.

    ``services`` maps every service id of the company to its name."""
    if not figures:
        return CompanyAudit(
            Verdict.NOT_COMPARABLE, "the company discloses no count of CyberTipline reports", ()
        )
    if not lines:
        return CompanyAudit(Verdict.NOT_COMPARABLE, "no NCMEC line is mapped to this company", ())
    by_scope: dict[int | None, list[Figure]] = defaultdict(list)
    for f in figures:
        by_scope[f.service_id].append(f)
    ncmec_years: dict[int, list[NcmecLine]] = defaultdict(list)
    for line in lines:
        ncmec_years[line.year].append(line)
    years = sorted({f.year for f in figures} & set(ncmec_years))
    if not years:
        mine = sorted({f.year for f in figures})
        theirs = sorted(ncmec_years)
        return CompanyAudit(
            Verdict.NOT_COMPARABLE,
            f"no year in common: the company's figures cover {_years(mine)}, "
            f"NCMEC's lines {_years(theirs)}",
            (),
        )
    out: list[Comparison] = []
    for year in years:
        out.extend(_year(year, by_scope, ncmec_years[year], services, tolerance))
    return _overall(out)


def _year(
    year: int,
    by_scope: dict[int | None, list[Figure]],
    lines: list[NcmecLine],
    services: dict[int, str],
    tolerance: float,
) -> list[Comparison]:
    out: list[Comparison] = []
    separate = {line.service_id for line in lines if line.service_id is not None}
    if None in by_scope and any(f.year == year for f in by_scope[None]):
        whole = year_total(by_scope[None], year)
        if whole.complete:
            out.append(judge(year, "whole company", whole, lines, tolerance))
        else:
            out.append(not_comparable(year, "whole company", _missing(whole)))
        # services NCMEC lists separately can be checked on their own as well
        for service_id in sorted(separate & set(by_scope) - {None}):
            out.extend(_service(year, service_id, by_scope, lines, services, tolerance))
        return out
    own = {s for s in by_scope if s is not None and any(f.year == year for f in by_scope[s])}
    has_company_line = any(line.service_id is None for line in lines)
    covers = separate <= own and (not has_company_line or own >= set(services))
    totals = {s: year_total(by_scope[s], year) for s in own}
    if covers and all(t.complete for t in totals.values()):
        merged = YearTotal()
        for s in sorted(totals):
            t = totals[s]
            merged.value += t.value
            merged.slack += t.slack
            merged.periods.extend(f"{services.get(s, s)} {p}" for p in t.periods)
        out.append(judge(year, "whole company", merged, lines, tolerance))
        return out
    for service_id in sorted(own):
        out.extend(_service(year, service_id, by_scope, lines, services, tolerance))
    return out


def _service(
    year: int,
    service_id: int,
    by_scope: dict[int | None, list[Figure]],
    lines: list[NcmecLine],
    services: dict[int, str],
    tolerance: float,
) -> list[Comparison]:
    name = services.get(service_id, f"service {service_id}")
    mine = year_total(by_scope[service_id], year)
    if not mine.periods:
        return []
    if not mine.complete:
        return [not_comparable(year, name, _missing(mine))]
    theirs = [line for line in lines if line.service_id == service_id]
    if theirs:
        return [judge(year, name, mine, theirs, tolerance)]
    combined = [line.esp_name for line in lines if line.service_id is None]
    if combined:
        return [
            not_comparable(
                year,
                name,
                f"NCMEC did not list {name} separately in {year}: its reports are inside "
                + ", ".join(repr(n) for n in combined),
            )
        ]
    return [not_comparable(year, name, f"NCMEC lists no line for {name} in {year}")]


def _missing(total: YearTotal) -> str:
    return f"the year is incomplete: {', '.join(total.missing)} not disclosed"


def _years(years: list[int]) -> str:
    return ", ".join(str(y) for y in years) or "no year"


def _overall(comparisons: list[Comparison]) -> CompanyAudit:
    bad = [c for c in comparisons if c.verdict == Verdict.INCONSISTENT]
    good = [c for c in comparisons if c.verdict == Verdict.CONSISTENT]
    if bad:
        where = "; ".join(f"{c.year} ({c.scope}): {c.reason}" for c in bad)
        return CompanyAudit(Verdict.INCONSISTENT, where, tuple(comparisons))
    if good:
        return CompanyAudit(
            Verdict.CONSISTENT,
            f"{len(good)} year(s) compared, all within the tolerance",
            tuple(comparisons),
        )
    reasons = "; ".join(dict.fromkeys(f"{c.year}: {c.reason}" for c in comparisons))
    return CompanyAudit(Verdict.NOT_COMPARABLE, reasons, tuple(comparisons))
