"""Tehran local time, the Iranian week and Jalali anniversaries (backend/engine/calendar.py)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from backend.engine import calendar

# 2026-11-21 is Saturday 30 Aban 1405; Tehran is UTC+03:30 all year (no DST since 2022).
SATURDAY_NOON_UTC = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


def test_local_is_tehran_time_and_refuses_naive_datetimes():
    moment = calendar.local(SATURDAY_NOON_UTC)
    assert (moment.hour, moment.minute) == (15, 30)
    assert moment.utcoffset() == timedelta(hours=3, minutes=30)
    with pytest.raises(AssertionError):
        calendar.local(datetime(2026, 11, 21, 12, 0))


@pytest.mark.parametrize("day, expected", [
    (21, 0),  # Saturday
    (22, 1),
    (23, 2),
    (24, 3),
    (25, 4),
    (26, 5),  # Thursday
    (27, 6),  # Friday
])
def test_iranian_weekday_starts_on_saturday(day, expected):
    assert calendar.iranian_weekday(datetime(2026, 11, day, 12, 0, tzinfo=UTC)) == expected


def test_the_weekday_turns_at_tehran_midnight_not_utc_midnight():
    # 20:29:59 UTC Friday is 23:59:59 Friday in Tehran; 20:30 UTC is 00:00 Saturday.
    assert calendar.iranian_weekday(datetime(2026, 11, 20, 20, 29, 59, tzinfo=UTC)) == 6
    assert calendar.iranian_weekday(datetime(2026, 11, 20, 20, 30, tzinfo=UTC)) == 0


def test_local_day_start_is_tehran_midnight():
    start = calendar.local_day_start(datetime(2026, 11, 20, 21, 0, tzinfo=UTC))  # Sat 00:30
    assert start.astimezone(UTC) == datetime(2026, 11, 20, 20, 30, tzinfo=UTC)
    assert start.tzinfo is calendar.CLUB_TIMEZONE
    late = calendar.local_day_start(datetime(2026, 11, 21, 20, 29, tzinfo=UTC))  # Sat 23:59
    assert late == start


def test_a_tehran_day_in_utc_runs_from_its_midnight_to_its_last_microsecond():
    assert calendar.local_day_start_utc(date(2026, 11, 21)) == datetime(
        2026, 11, 20, 20, 30, tzinfo=UTC)
    end = calendar.local_day_end_utc(date(2026, 11, 21))
    assert end == datetime(2026, 11, 21, 20, 29, 59, 999_999, tzinfo=UTC)
    assert end + timedelta(microseconds=1) == calendar.local_day_start_utc(date(2026, 11, 22))


@pytest.mark.parametrize("event, today, expected", [
    (date(1990, 11, 21), date(2026, 11, 21), 0),      # 30 Aban both
    (date(1990, 11, 21), date(2026, 11, 18), 3),      # three days before
    (date(1990, 11, 21), date(2026, 11, 25), 4),      # four days after
    # The anniversary is the Jalali day: born 1 Farvardin 1403 (20 March 2024), the
    # member's day in 1405 is 1 Farvardin = 21 March 2026, not 20 March.
    (date(2024, 3, 20), date(2026, 3, 21), 0),
    (date(2024, 3, 20), date(2026, 3, 20), 1),
    # Near the year's turn the nearest anniversary may be last year's or next year's:
    # born 10 Dey 1379; on 1 Farvardin 1405 the last anniversary (31 Dec 2025) is 80 days
    # back and the next (31 Dec 2026) 285 days ahead.
    (date(2000, 12, 30), date(2026, 3, 21), 80),
])
def test_days_from_jalali_anniversary(event, today, expected):
    moment = calendar.local_day_start_utc(today) + timedelta(hours=12)
    assert calendar.days_from_jalali_anniversary(event, moment) == expected


def test_esfand_30_falls_back_to_esfand_29_in_common_years():
    born = date(2025, 3, 20)  # 30 Esfand 1403, a leap year
    # 1404 is common: the anniversary is 29 Esfand 1404 = 20 March 2026.
    at = calendar.local_day_start_utc(date(2026, 3, 20)) + timedelta(hours=1)
    assert calendar.days_from_jalali_anniversary(born, at) == 0
    assert calendar.days_from_jalali_anniversary(born, at + timedelta(days=1)) == 1


def test_the_anniversary_is_counted_on_the_tehran_date():
    event = date(1990, 11, 21)  # 30 Aban
    # 21:00 UTC on 20 Nov is 00:30 on 21 Nov in Tehran: the anniversary itself.
    assert calendar.days_from_jalali_anniversary(
        event, datetime(2026, 11, 20, 21, 0, tzinfo=UTC)) == 0
    assert calendar.days_from_jalali_anniversary(
        event, datetime(2026, 11, 20, 20, 0, tzinfo=UTC)) == 1
