"""L7: offers limited to weekdays and a happy hour, in Tehran time (UTC+03:30), at the
boundaries (docs/loyalty-rules.md "Weekdays and happy hours")."""

from datetime import UTC, datetime, timedelta

import pytest

from backend import engine
from backend.engine.offers import Offer

TIER = engine.TierRules(credit_percent_bp=0, discount_percent_bp=0, points_per_step=1,
                        point_step_rials=10_000)
SATURDAY, THURSDAY, FRIDAY = 0, 5, 6


def tehran(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """`day` of November 2026 at a Tehran wall-clock time, as the UTC instant."""
    minutes = hour * 60 + minute - 210
    return datetime(2026, 11, day, tzinfo=UTC) + timedelta(minutes=minutes, seconds=second)


def discount(offer: Offer, at: datetime) -> int:
    outcome = engine.price_purchase(
        engine.PurchaseRequest(amount_rials=1_000_000, use_credit_rials=0,
                               credit_balance_rials=0), TIER, offers=[offer], now=at)
    return outcome.discount_rials


HAPPY_HOUR = Offer(id=1, name="Thursday 17-19", reward_kind="percent_discount",
                   reward_value=2_000, weekdays=frozenset({THURSDAY}), from_minute=17 * 60,
                   until_minute=19 * 60)


@pytest.mark.parametrize("at, expected", [
    (tehran(26, 16, 59, 59), 0),        # Thursday 26 Nov, a second early
    (tehran(26, 17, 0), 200_000),       # from is inclusive
    (tehran(26, 18, 59, 59), 200_000),
    (tehran(26, 19, 0), 0),             # until is exclusive
    (tehran(25, 17, 30), 0),            # Wednesday
    (tehran(27, 17, 30), 0),            # Friday
])
def test_a_thursday_happy_hour(at, expected):
    assert discount(HAPPY_HOUR, at) == expected


def test_tehran_time_not_utc_decides():
    # 13:45 UTC on Thursday is 17:15 in Tehran: inside. 17:15 UTC is 20:45: outside.
    assert discount(HAPPY_HOUR, datetime(2026, 11, 26, 13, 45, tzinfo=UTC)) == 200_000
    assert discount(HAPPY_HOUR, datetime(2026, 11, 26, 17, 15, tzinfo=UTC)) == 0


LATE = Offer(id=2, name="Thursday night", reward_kind="fixed_discount", reward_value=50_000,
             weekdays=frozenset({THURSDAY}), from_minute=22 * 60, until_minute=2 * 60)


@pytest.mark.parametrize("at, expected", [
    (tehran(26, 21, 59), 0),
    (tehran(26, 22, 0), 50_000),
    (tehran(27, 1, 59), 50_000),        # Friday small hours belong to Thursday night
    (tehran(27, 2, 0), 0),
    (tehran(27, 23, 0), 0),             # Friday night is not Thursday's
    (tehran(28, 1, 0), 0),
])
def test_a_window_past_midnight_belongs_to_the_day_it_starts(at, expected):
    assert discount(LATE, at) == expected


def test_weekdays_without_hours_and_every_day_offers():
    saturdays = Offer(id=3, name="Saturdays", reward_kind="bonus_points", reward_value=10,
                      weekdays=frozenset({SATURDAY}))
    assert saturdays.runs_at(tehran(21, 0, 0)) and saturdays.runs_at(tehran(21, 23, 59))
    assert not saturdays.runs_at(tehran(20, 23, 59, 59))  # Friday, a second before
    always = Offer(id=4, name="Always", reward_kind="bonus_points", reward_value=10)
    assert all(always.runs_at(tehran(day, hour)) for day in range(21, 28) for hour in (0, 12))


def test_weekday_multiplier_switches_at_tehran_midnight():
    club = engine.ClubRules(weekday_points_percent=(200, 100, 100, 100, 100, 100, 150))
    request = engine.PurchaseRequest(amount_rials=1_000_000, use_credit_rials=0,
                                     credit_balance_rials=0)
    friday_late = engine.price_purchase(request, TIER, club=club, now=tehran(20, 23, 59, 59))
    saturday = engine.price_purchase(request, TIER, club=club, now=tehran(21, 0, 0))
    assert (friday_late.points_earned, saturday.points_earned) == (150, 200)
