"""The dashboard's figures (backend/services/dashboard.py): today against the same
weekday last week up to the same time of day, and the 30-day trend, in Tehran days."""

from datetime import UTC, date, datetime, timedelta

from backend.services import counter, dashboard
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW  # Saturday 30 Aban 1405, 13:00 in Tehran


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def buy(db, member, branch, amount, when, use_credit=0):
    counter.record_purchase(db, actor=SYSTEM,
                            member_id=member.id, branch_id=branch.id, amount_rials=amount,
                            use_credit_rials=use_credit,
                            request_key=f"dashboard-{when:%Y%m%d%H%M%S}", now=when)


def club_with_a_fortnight(db):
    factories.club(db, welcome_credit_rials=0)
    branch = factories.branch(db)
    plain = factories.tier(db, credit_percent_bp=0, discount_percent_bp=0)

    def member(joined, credit=0):
        return factories.member(db, tier_id=plain.id, home_branch_id=branch.id,
                                joined_at=joined, credit_rials=credit)

    regular = member(at(2026, 11, 1, 8, 0), credit=100_000)
    member(at(2026, 11, 20, 21, 0), credit=30_000)  # 00:30 Saturday in Tehran: today
    member(at(2026, 11, 20, 20, 20))  # 23:50 Friday in Tehran (Saturday in UTC): not today
    member(at(2026, 11, 14, 6, 0), credit=40_000)  # last Saturday, before 13:00
    # Today: 00:30 and 11:30 in Tehran.
    buy(db, regular, branch, 50_000, at(2026, 11, 20, 21, 0))
    buy(db, regular, branch, 200_000, at(2026, 11, 21, 8, 0), use_credit=20_000)
    # Last Saturday: 08:30 (compared), 13:30 (after today's time: in the trend only).
    buy(db, regular, branch, 150_000, at(2026, 11, 14, 5, 0))
    buy(db, regular, branch, 999_000, at(2026, 11, 14, 10, 0))
    # Last Friday 23:30 in Tehran, Saturday in UTC.
    buy(db, regular, branch, 70_000, at(2026, 11, 13, 20, 0))
    return branch


def test_today_against_the_same_time_last_saturday_to_the_rial(db):
    branch = club_with_a_fortnight(db)
    overview = dashboard.overview(db, NOW)
    today, before = overview.today, overview.last_week
    assert (today.purchases, today.sales_rials, today.new_members) == (2, 250_000, 1)
    assert (today.credit_issued_rials, today.credit_spent_rials) == (30_000, 20_000)
    assert (before.purchases, before.sales_rials, before.new_members) == (1, 150_000, 1)
    assert (before.credit_issued_rials, before.credit_spent_rials) == (40_000, 0)
    changes = {change.key: change for change in overview.changes}
    assert list(changes) == list(dashboard.COMPARED)
    assert (changes["purchases"].percent, changes["purchases"].direction) == (100, "up")
    assert changes["sales_rials"].difference == 100_000
    assert changes["sales_rials"].percent == 67  # 100,000 / 150,000, rounded
    assert (changes["new_members"].percent, changes["new_members"].direction) == (0, "same")
    assert (changes["credit_issued_rials"].percent,
            changes["credit_issued_rials"].direction) == (-25, "down")
    assert changes["credit_spent_rials"].percent is None  # nothing last week to compare
    assert dashboard.overview(db, NOW, branch_id=factories.branch(db).id).today.purchases == 0
    assert dashboard.overview(db, NOW, branch_id=branch.id).today.sales_rials == 250_000


def test_the_trend_has_thirty_tehran_days_ending_today(db):
    club_with_a_fortnight(db)
    trend = dashboard.overview(db, NOW).trend
    assert len(trend) == 30
    assert (trend[0].day, trend[-1].day) == (date(2026, 10, 23), date(2026, 11, 21))
    by_day = {row.day: (row.purchases, row.sales_rials) for row in trend}
    assert by_day[date(2026, 11, 21)] == (2, 250_000)
    assert by_day[date(2026, 11, 14)] == (2, 1_149_000)
    assert by_day[date(2026, 11, 13)] == (1, 70_000)  # Friday night in Tehran
    assert sum(sales for _, sales in by_day.values()) == 250_000 + 1_149_000 + 70_000
    assert all(by_day[date(2026, 10, 23) + timedelta(days=n)] == (0, 0) for n in range(21))
