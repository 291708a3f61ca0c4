"""Local time for the club's rules: Tehran time, the Iranian week, Jalali anniversaries.

Pure functions: the caller passes `now`; nothing here reads a clock.
"""

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import jdatetime

CLUB_TIMEZONE = ZoneInfo("Asia/Tehran")


def local(moment: datetime) -> datetime:
    assert moment.tzinfo is not None, "rules work on aware datetimes"
    return moment.astimezone(CLUB_TIMEZONE)


def iranian_weekday(moment: datetime) -> int:
    """0 for Saturday … 6 for Friday, in the club's time zone."""
    return (local(moment).weekday() + 2) % 7


def local_day_start(moment: datetime) -> datetime:
    """Midnight in Tehran of `moment`'s local day (for daily caps)."""
    day = local(moment).date()
    return datetime(day.year, day.month, day.day, tzinfo=CLUB_TIMEZONE)


def local_day_start_utc(day: date) -> datetime:
    """The first instant of a Tehran calendar day, in UTC."""
    return datetime.combine(day, time(0), tzinfo=CLUB_TIMEZONE).astimezone(UTC)


def local_day_end_utc(day: date) -> datetime:
    """The last instant of a Tehran calendar day, in UTC. A date a person types is a whole
    day, inclusive: an offer or gift credit ending on it runs through 23:59:59 there
    (rules compare `now < end`, so the last microsecond is the bound)."""
    return datetime.combine(day, time.max, tzinfo=CLUB_TIMEZONE).astimezone(UTC)


def days_from_jalali_anniversary(event: date, moment: datetime) -> int:
    """Days between `moment`'s local date and the nearest Jalali anniversary of `event`.

    Iranians keep birthdays and wedding anniversaries by the Jalali calendar, so the
    anniversary is the same Jalali month and day; Esfand 30 falls back to Esfand 29 in
    common years.
    """
    today = local(moment).date()
    jalali_event = jdatetime.date.fromgregorian(date=event)
    jalali_today = jdatetime.date.fromgregorian(date=today)
    best = None
    for year in (jalali_today.year - 1, jalali_today.year, jalali_today.year + 1):
        day = jalali_event.day
        if jalali_event.month == 12 and day == 30 and not _is_leap(year):
            day = 29
        anniversary = jdatetime.date(year, jalali_event.month, day).togregorian()
        distance = abs((anniversary - today).days)
        best = distance if best is None else min(best, distance)
    return best


def _is_leap(jalali_year: int) -> bool:
    return jdatetime.date(jalali_year, 1, 1).isleap()
