"""Jalali periods, Iranian weeks and the period a report is compared with."""

from datetime import date

import pytest

from backend.services.reports import periods


def test_jalali_month_and_its_predecessor():
    aban = periods.month_of(date(2026, 11, 1))
    assert (aban.first, aban.last) == (date(2026, 10, 23), date(2026, 11, 21))  # 1405/08
    assert periods.previous(aban) == periods.Period(date(2026, 9, 23), date(2026, 10, 22))
    # Esfand 1404 has 29 days, Farvardin 31: the month before is a month, not 31 days.
    farvardin = periods.month_of(date(2026, 4, 1))
    assert periods.previous(farvardin).days == 29


def test_weeks_start_on_saturday():
    week = periods.week_of(date(2026, 11, 25))  # a Wednesday
    assert week.first == date(2026, 11, 21) and week.first.weekday() == 5  # Saturday
    assert periods.previous(week) == periods.Period(date(2026, 11, 14), date(2026, 11, 20))


def test_any_other_period_is_compared_with_as_many_days_before():
    chosen = periods.Period(date(2026, 11, 1), date(2026, 11, 10))
    assert periods.previous(chosen) == periods.Period(date(2026, 10, 22), date(2026, 10, 31))


def test_buckets_cut_at_tehran_midnight():
    aban = periods.month_of(date(2026, 11, 1))
    weeks = periods.buckets(aban, "week")
    # 1 Aban 1405 is a Friday: a one-day first week, then Saturdays, the last clipped.
    assert [(b.first.isoformat(), b.last.isoformat()) for b in weeks[:2]] == [
        ("2026-10-23", "2026-10-23"), ("2026-10-24", "2026-10-30")]
    assert weeks[-1].last == aban.last
    assert weeks[0].start.isoformat() == "2026-10-22T20:30:00+00:00"  # 00:00 Tehran
    # Before 1402 Iran kept summer time: midnight was 19:30 UTC then.
    summer = periods.buckets(periods.Period(date(2021, 7, 1), date(2021, 7, 1)), "day")
    assert summer[0].start.isoformat() == "2021-06-30T19:30:00+00:00"
    assert periods.bucket_label(weeks[1], "week", "fa") == "۱۴۰۵/۰۸/۰۲"
    assert periods.bucket_label(periods.buckets(aban, "month")[0], "month", "fa") == "۱۴۰۵/۰۸"


def test_too_many_buckets_are_refused():
    with pytest.raises(ValueError):
        periods.buckets(periods.Period(date(2024, 1, 1), date(2026, 1, 1)), "day")
