"""The consistency audit on constructed cases, then on the real data."""

from __future__ import annotations

import pytest

from shieldwall.accountability import analysis
from shieldwall.accountability.audit import Figure, NcmecLine, audit_company, year_total
from shieldwall.accountability.schemas import ImportSummary, Period, Verdict
from shieldwall.db.engine import Database

FB, IG = 1, 2
SERVICES = {FB: "Facebook", IG: "Instagram"}


def fig(
    period: str, value: float, service: int | None = None, rounded: int | None = None
) -> Figure:
    p = Period.parse(period)
    months = frozenset(range(p.start.month, p.end.month + 1))
    return Figure(service, p.label, p.start.year, months, p.granularity, value, rounded)


def line(year: int, reports: int, service: int | None = None, combined: bool = False,
         name: str = "Example") -> NcmecLine:  # fmt: skip
    return NcmecLine(year, name, reports, service, combined)


def test_exact_match_from_quarters() -> None:
    figures = [fig(f"2022-Q{q}", 250) for q in range(1, 5)]
    result = audit_company(figures, [line(2022, 1000)], SERVICES, 0.01)
    assert result.verdict == Verdict.CONSISTENT
    (c,) = result.comparisons
    assert (c.self_reported, c.ncmec, c.reason) == (1000, 1000, "exact match")
    assert c.relative_difference == 0


def test_halves_and_quarters_tile_a_year_without_double_counting() -> None:
    figures = [fig("2022-H1", 500), fig("2022-Q3", 200), fig("2022-Q4", 300), fig("2022-Q1", 999)]
    total = year_total(figures, 2022)
    assert total.complete
    assert total.value == 1000
    assert total.periods == ["2022-H1", "2022-Q3", "2022-Q4"]
    # a whole-year figure wins over its parts
    assert year_total([*figures, fig("2022", 1234)], 2022).value == 1234


def test_small_difference_is_within_tolerance_and_a_large_one_is_not() -> None:
    ok = audit_company([fig("2021", 1005)], [line(2021, 1000)], {}, 0.01)
    assert ok.verdict == Verdict.CONSISTENT
    assert "1% tolerance" in ok.comparisons[0].reason
    bad = audit_company([fig("2021", 1100)], [line(2021, 1000)], {}, 0.01)
    assert bad.verdict == Verdict.INCONSISTENT
    assert bad.comparisons[0].relative_difference == pytest.approx(0.1)
    assert "+10.0%" in bad.reason


def test_rounding_of_a_published_figure_is_allowed() -> None:
    # "1.2 million" (rounded to 100,000) against NCMEC's 1,234,567: 2.8 % apart, but the
    # published figure can stand for anything from 1,150,000 to 1,250,000.
    result = audit_company([fig("2023", 1_200_000, rounded=100_000)], [line(2023, 1_234_567)],
                           {}, 0.01)  # fmt: skip
    assert result.verdict == Verdict.CONSISTENT
    assert result.comparisons[0].reason == "within the rounding of the published figure"
    unrounded = audit_company([fig("2023", 1_200_000)], [line(2023, 1_234_567)], {}, 0.01)
    assert unrounded.verdict == Verdict.INCONSISTENT


def test_a_missing_quarter_makes_the_year_not_comparable() -> None:
    figures = [fig("2022-Q1", 250), fig("2022-Q2", 250), fig("2022-Q4", 250)]
    result = audit_company(figures, [line(2022, 750)], {}, 0.01)
    assert result.verdict == Verdict.NOT_COMPARABLE
    assert "2022-Q3 not disclosed" in result.reason
    assert result.comparisons[0].self_reported is None


def test_a_brand_ncmec_combined_is_not_comparable_on_its_own() -> None:
    # Instagram discloses alone; NCMEC printed one starred line for the whole company
    figures = [fig("2020", 500, service=IG)]
    lines = [line(2020, 5000, service=None, combined=True, name="Facebook*")]
    result = audit_company(figures, lines, SERVICES, 0.01)
    assert result.verdict == Verdict.NOT_COMPARABLE
    assert "did not list Instagram separately" in result.reason
    assert "Facebook*" in result.reason


def test_brands_combined_by_ncmec_compare_when_every_brand_discloses() -> None:
    figures = [fig("2020", 4500, service=FB), fig("2020", 500, service=IG)]
    lines = [line(2020, 5000, service=None, combined=True, name="Facebook*")]
    result = audit_company(figures, lines, SERVICES, 0.01)
    assert result.verdict == Verdict.CONSISTENT
    assert result.comparisons[0].scope == "whole company"


def test_a_brand_listed_separately_is_compared_alone() -> None:
    figures = [fig("2021", 400, service=IG)]
    lines = [line(2021, 9000, service=FB), line(2021, 400, service=IG)]
    result = audit_company(figures, lines, SERVICES, 0.01)
    assert result.verdict == Verdict.CONSISTENT
    assert [c.scope for c in result.comparisons] == ["Instagram"]


def test_nothing_to_compare_is_said_so() -> None:
    assert audit_company([], [line(2021, 1)], {}, 0.01).reason == (
        "the company discloses no count of CyberTipline reports"
    )
    assert "no NCMEC line" in audit_company([fig("2021", 1)], [], {}, 0.01).reason
    other_years = audit_company([fig("2024-H1", 5)], [line(2023, 5)], {}, 0.01)
    assert other_years.verdict == Verdict.NOT_COMPARABLE
    assert "no year in common" in other_years.reason


@pytest.mark.db
def test_audit_of_the_shared_data(db: Database, loaded: ImportSummary) -> None:
    with db.session() as session:
        result = analysis.audit(session, 0.01)
        verdicts = {c.slug: a for c, a in result.companies}
        assert result.counts() == {"consistent": 3, "inconsistent": 5, "not_comparable": 25}
    assert verdicts["reddit"].verdict == Verdict.CONSISTENT
    assert verdicts["google"].verdict == Verdict.CONSISTENT  # Google + YouTube vs "Google"
    assert verdicts["discord"].verdict == Verdict.INCONSISTENT
    discord_2023 = next(c for c in verdicts["discord"].comparisons if c.year == 2023)
    assert (discord_2023.self_reported, discord_2023.ncmec) == (164_478, 339_412)
    assert "2020-Q1, 2020-Q2 not disclosed" in verdicts["discord"].comparisons[0].reason
    assert verdicts["meta"].verdict == Verdict.NOT_COMPARABLE
    assert verdicts["x"].reason.startswith("no year in common")
    pornhub_2020 = verdicts["aylo"].comparisons[0]
    assert "MindGeek*" in pornhub_2020.reason
    microsoft = {(c.year, c.scope): c for c in verdicts["microsoft"].comparisons}
    consumer = next(k for k in microsoft if k[0] == 2023 and k[1].startswith("Microsoft"))
    assert microsoft[consumer].self_reported == 79_971 + 60_749
    assert microsoft[consumer].ncmec == 141_027


@pytest.mark.parametrize("text", ["0001", "0987-H2", "0042-Q3", "0001-01", "2024-07"])
def test_a_period_label_reads_back_as_the_same_period(text: str) -> None:
    # labels are what exports write: a year below 1000 keeps its four digits ("1-01" was
    # written for 0001-01, which does not read back)
    period = Period.parse(text)
    assert period.label == text
    assert Period.parse(period.label) == period
