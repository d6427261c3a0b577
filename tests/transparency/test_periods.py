"""Reporting periods: resolved from --from/--to, kept between 1900-01-01 and 9998-12-31 so the
day after a period and the trend before it never leave ``date``'s range."""

from __future__ import annotations

from datetime import date

import pytest
from typer.testing import CliRunner

from shieldwall.cli import app as cli_app
from shieldwall.config import Settings
from shieldwall.core.errors import InvalidInput
from shieldwall.db.engine import Database
from shieldwall.transparency.periods import (
    FIRST_DAY,
    LAST_DAY,
    Period,
    resolve,
    trend_periods,
)
from tests.conftest import cli_settings

TODAY = date(2026, 3, 1)


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("0001-01-01", None, "from"),
        ("0001-01-01", "0001-12-31", "from"),
        ("0002-01-01", "0002-06-30", "from"),
        ("1899-12-31", "1900-01-10", "from"),
        (None, "9999-12-31", "to"),
        ("9999-07-01", None, "from"),
        ("9999-12-31", "9999-12-31", "from"),
        ("1900-01-01", "9999-12-31", "to"),
        (None, "1899-06-30", "to"),
    ],
)
def test_a_day_outside_the_supported_range_is_refused_naming_it(
    start: str | None, end: str | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        resolve(start, end, today=TODAY)
    assert raised.value.context["field"] == field
    assert "1900-01-01 to 9998-12-31" in raised.value.message


def test_a_period_cannot_be_built_outside_the_range() -> None:
    with pytest.raises(InvalidInput):
        Period(date(1, 1, 1), date(1, 6, 30))
    with pytest.raises(InvalidInput):
        Period(date(9999, 7, 1), date(9999, 12, 31))


def test_the_edges_themselves_resolve_and_the_day_after_exists() -> None:
    first = resolve("1900-01-01", None, today=TODAY)
    assert (first.start, first.end) == (FIRST_DAY, date(1900, 6, 30))
    last = resolve(None, "9998-12-31", today=TODAY)
    assert (last.start, last.end) == (date(9998, 7, 1), LAST_DAY)
    assert last.until.date() == date(9999, 1, 1)
    assert last.contains(last.since)


def test_the_trend_stops_at_the_first_day_instead_of_overflowing() -> None:
    assert trend_periods(resolve("1900-01-01", None, today=TODAY), 4) == []
    labels = [p.label for p in trend_periods(resolve("1901-07-01", None, today=TODAY), 6)]
    assert labels == ["1901 H1", "1900 H2", "1900 H1"]
    days = trend_periods(resolve("1900-01-21", "1900-01-30", today=TODAY), 5)
    assert [(p.start, p.end) for p in days] == [
        (date(1900, 1, 11), date(1900, 1, 20)),
        (date(1900, 1, 1), date(1900, 1, 10)),
    ]


def test_the_trend_at_the_last_day_is_whole() -> None:
    trend = trend_periods(resolve("9998-07-01", None, today=TODAY), 3)
    assert [p.label for p in trend] == ["9998 H1", "9997 H2", "9997 H1"]


@pytest.mark.db
@pytest.mark.parametrize("command", ["report", "publish", "statements"])
def test_the_cli_refuses_a_period_outside_the_range(
    db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    cli_settings(monkeypatch, settings)
    result = CliRunner().invoke(
        cli_app, ["transparency", command, "--from", "0001-01-01", "--to", "0001-06-30"]
    )
    assert result.exit_code == 2, result.output
    assert "outside the days a report may cover" in result.output
