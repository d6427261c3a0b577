"""Reporting periods: whole UTC days, both ends included; half-years by default.

Pure: no database. A period covers the events with ``start 00:00 UTC <= occurred_at <
(end + 1 day) 00:00 UTC``. Every period lies between :data:`FIRST_DAY` and :data:`LAST_DAY`,
so the day after it and the periods before it (a report's trend) can always be computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from shieldwall.core.errors import InvalidInput

#: The longest period one report may cover (ten years).
MAX_DAYS = 3660
#: The first and last days a period may cover: any real report fits, and both stay clear of
#: ``date``'s limits (years 1 and 9999), which the day after a period or a trend would cross.
FIRST_DAY = date(1900, 1, 1)
LAST_DAY = date(9998, 12, 31)


@dataclass(frozen=True, slots=True)
class Period:
    start: date
    end: date

    def __post_init__(self) -> None:
        _check_in_range(self.start, "from")
        _check_in_range(self.end, "to")
        if self.end < self.start:
            raise InvalidInput(
                f"the period ends ({self.end}) before it starts ({self.start})", field="to"
            )
        if (self.end - self.start).days >= MAX_DAYS:
            raise InvalidInput(f"a period may cover at most {MAX_DAYS} days", field="to")

    @property
    def since(self) -> datetime:
        """First instant inside the period (UTC)."""
        return datetime.combine(self.start, time(0), tzinfo=UTC)

    @property
    def until(self) -> datetime:
        """First instant after the period (UTC)."""
        return datetime.combine(self.end + timedelta(days=1), time(0), tzinfo=UTC)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def is_half_year(self) -> bool:
        return (
            self.start.day == 1 and self.start.month in (1, 7) and self.end == half_end(self.start)
        )

    @property
    def label(self) -> str:
        if self.is_half_year:
            return f"{self.start.year} H{1 if self.start.month == 1 else 2}"
        return f"{self.start.isoformat()} to {self.end.isoformat()}"

    def contains(self, at: datetime) -> bool:
        return self.since <= _aware(at) < self.until

    def previous(self) -> Period | None:
        """The period just before this one: the previous half-year for a half-year, else
        the same number of days immediately before; None when it would start before
        :data:`FIRST_DAY`."""
        if self.is_half_year:
            if self.start.month == 1:
                start = date(self.start.year - 1, 7, 1)
            else:
                start = date(self.start.year, 1, 1)
            end = half_end(start)
        else:
            end = self.start - timedelta(days=1)
            start = end - timedelta(days=self.days - 1)
        return Period(start, end) if start >= FIRST_DAY else None

    def as_json(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat(), "label": self.label}


def _check_in_range(day: date, field: str) -> None:
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidInput(
            f"{field}: {day.isoformat()} is outside the days a report may cover "
            f"({FIRST_DAY.isoformat()} to {LAST_DAY.isoformat()})",
            field=field,
        )


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def half_end(start: date) -> date:
    return date(start.year, 6, 30) if start.month <= 6 else date(start.year, 12, 31)


def half_year_of(day: date) -> Period:
    start = date(day.year, 1 if day.month <= 6 else 7, 1)
    return Period(start, half_end(start))


def parse_day(value: str, field: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(f"{field}: {value!r} is not a date (YYYY-MM-DD)", field=field) from None


def resolve(start: str | date | None, end: str | date | None, *, today: date) -> Period:
    """The period from optional ``--from``/``--to``: both missing gives the half-year that
    contains ``today``; one missing is filled from the half-year of the other."""
    first = parse_day(start, "from") if isinstance(start, str) else start
    last = parse_day(end, "to") if isinstance(end, str) else end
    # each given day is checked before the other is filled in from its half-year, so the
    # error names the day the caller sent
    if first is not None:
        _check_in_range(first, "from")
    if last is not None:
        _check_in_range(last, "to")
    if first is None and last is None:
        return half_year_of(today)
    if first is None:
        assert last is not None
        first = half_year_of(last).start
    if last is None:
        last = half_year_of(first).end
    return Period(first, last)


def trend_periods(period: Period, count: int) -> list[Period]:
    """``count`` periods before ``period``, newest first; fewer when the earlier ones would
    start before :data:`FIRST_DAY`."""
    out: list[Period] = []
    current = period.previous()
    while current is not None and len(out) < count:
        out.append(current)
        current = current.previous()
    return out
