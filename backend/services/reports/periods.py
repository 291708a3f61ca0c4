"""Report periods in the club's calendar: Tehran days, Iranian weeks (Saturday first) and
Jalali months and years. Pure functions of their arguments; nothing reads a clock.

A period is a range of local dates, first and last included; the database sees it as the
UTC instants of its local midnights, so daylight-saving years (before 1402) are cut at the
right hour.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import jdatetime

from backend.engine.calendar import CLUB_TIMEZONE

GRANULARITIES = ("day", "week", "month")
# SQLite allows 500 terms in a compound SELECT; the buckets CTE is one term each.
MAX_BUCKETS = 400


class _LocalDays:
    """Local dates `first` … `last` (included) as the UTC instants the database sees."""

    first: date
    last: date

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def start(self) -> datetime:
        return local_midnight_utc(self.first)

    @property
    def end(self) -> datetime:
        """The instant after: the midnight that starts the day after `last`."""
        return local_midnight_utc(self.last + timedelta(days=1))


@dataclass(frozen=True)
class Period(_LocalDays):
    first: date  # local (Tehran) date, included
    last: date   # local date, included

    def __post_init__(self):
        assert self.first <= self.last, (self.first, self.last)


@dataclass(frozen=True)
class Bucket(_LocalDays):
    index: int
    first: date
    last: date


def local_midnight_utc(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=CLUB_TIMEZONE).astimezone(UTC)


def local_date(moment: datetime) -> date:
    return moment.astimezone(CLUB_TIMEZONE).date()


def jalali(day: date) -> jdatetime.date:
    return jdatetime.date.fromgregorian(date=day)


def week_start(day: date) -> date:
    """The Saturday on or before `day`: the Iranian week starts on Saturday."""
    return day - timedelta(days=(day.weekday() + 2) % 7)


def month_start(day: date) -> date:
    j = jalali(day)
    return jdatetime.date(j.year, j.month, 1).togregorian()


def next_month_start(day: date) -> date:
    j = jalali(month_start(day))
    year, month = (j.year + 1, 1) if j.month == 12 else (j.year, j.month + 1)
    return jdatetime.date(year, month, 1).togregorian()


def year_start(day: date) -> date:
    return jdatetime.date(jalali(day).year, 1, 1).togregorian()


def month_of(day: date) -> Period:
    """The Jalali month `day` falls in."""
    return Period(month_start(day), next_month_start(day) - timedelta(days=1))


def week_of(day: date) -> Period:
    first = week_start(day)
    return Period(first, first + timedelta(days=6))


def year_of(day: date) -> Period:
    first = year_start(day)
    return Period(first, jdatetime.date(jalali(first).year + 1, 1, 1).togregorian()
                  - timedelta(days=1))


def previous(period: Period) -> Period:
    """The period to compare with: the previous Jalali month, week or year when `period` is
    exactly one; otherwise the same number of days just before it."""
    for whole in (month_of, week_of, year_of):
        if whole(period.first) == period:
            return whole(period.first - timedelta(days=1))
    before = period.first - timedelta(days=1)
    return Period(before - timedelta(days=period.days - 1), before)


def presets(today: date) -> dict[str, Period]:
    """The quick choices the report pages offer, by name."""
    this_month = month_of(today)
    twelve = this_month.first
    for _ in range(11):
        twelve = month_start(twelve - timedelta(days=1))
    return {
        "this_week": Period(week_start(today), today),
        "last_week": week_of(week_start(today) - timedelta(days=1)),
        "this_month": Period(this_month.first, today),
        "last_month": month_of(this_month.first - timedelta(days=1)),
        "last_90_days": Period(today - timedelta(days=89), today),
        "this_year": Period(year_start(today), today),
        "last_year": year_of(year_start(today) - timedelta(days=1)),
        "last_12_months": Period(twelve, today),
    }


def buckets(period: Period, granularity: str) -> list[Bucket]:
    """The period cut into days, Iranian weeks or Jalali months (the first and last are
    clipped to the period). Raises ValueError past MAX_BUCKETS."""
    if granularity not in GRANULARITIES:
        raise ValueError(f"unknown granularity {granularity!r}")
    step = {"day": lambda d: d + timedelta(days=1),
            "week": lambda d: week_start(d) + timedelta(days=7),
            "month": next_month_start}[granularity]
    result, first = [], period.first
    while first <= period.last:
        following = step(first)
        result.append(Bucket(len(result), first, min(following - timedelta(days=1), period.last)))
        if len(result) > MAX_BUCKETS:
            raise ValueError("too many rows: choose a longer step or a shorter period")
        first = following
    return result


def bucket_label(bucket: Bucket, granularity: str, language: str) -> str:
    """`1405/08` for a month, `1405/08/24` (the first day) for a week or day, in Persian
    digits for Persian; Gregorian ISO dates in English."""
    if language != "fa":
        return bucket.first.strftime("%Y-%m") if granularity == "month" \
            else bucket.first.isoformat()
    from backend.i18n import persian_digits

    j = jalali(bucket.first)
    text = f"{j.year:04d}/{j.month:02d}" if granularity == "month" \
        else f"{j.year:04d}/{j.month:02d}/{j.day:02d}"
    return persian_digits(text)
