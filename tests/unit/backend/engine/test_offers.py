"""Offers (L9): conditions, rewards and the order they apply in (backend/engine/offers.py,
docs "Offers"). Hours and weekdays are at the end of this file."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from backend import engine
from backend.engine import AppliedOffer, Offer, OfferContext, choose_offers

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)  # Saturday 30 Aban 1405, 13:00 in Tehran
CONTEXT = OfferContext(now=NOW, amount_rials=1_000_000, tier_code="silver", visit_number=3,
                       last_visit_at=NOW - timedelta(days=10), birth_date=None,
                       wedding_date=None, offer_uses={})


def offer(id=1, **fields) -> Offer:
    return Offer(**{"id": id, "name": f"offer {id}", "reward_kind": "bonus_points",
                    "reward_value": 10, **fields})


def eligible(candidate: Offer, **context) -> bool:
    return candidate.is_eligible(replace(CONTEXT, **context))


def test_an_offer_without_conditions_is_eligible():
    assert eligible(offer())


@pytest.mark.parametrize("fields", [
    {"reward_kind": "cashback"},
    {"reward_value": -1},
    {"reward_kind": "percent_discount", "reward_value": 10_001},
    {"reward_kind": "gift_credit", "reward_value": 5_000},            # no expiry
    {"reward_kind": "gift_credit", "reward_value": 5_000, "reward_expiry_days": 0},
    {"weekdays": frozenset({7})},
    {"from_minute": 600},                                             # from without until
    {"from_minute": 1_440, "until_minute": 0},
])
def test_inconsistent_offers_are_refused(fields):
    with pytest.raises(AssertionError):
        offer(**fields)


def test_per_member_usage_limit():
    limited = offer(id=7, max_uses_per_member=2)
    assert eligible(limited, offer_uses={7: 1})
    assert not eligible(limited, offer_uses={7: 2})
    assert eligible(limited, offer_uses={8: 5})  # another offer's uses do not count


def test_date_range_from_inclusive_until_exclusive():
    ranged = offer(starts_at=NOW, ends_at=NOW + timedelta(days=1))
    assert eligible(ranged)
    assert not eligible(ranged, now=NOW - timedelta(microseconds=1))
    assert eligible(ranged, now=NOW + timedelta(days=1, microseconds=-1))
    assert not eligible(ranged, now=NOW + timedelta(days=1))


def test_target_tiers():
    assert eligible(offer(tier_codes=frozenset({"silver", "gold"})))
    assert not eligible(offer(tier_codes=frozenset({"gold"})))


def test_visit_number_conditions():
    assert eligible(offer(first_purchase_only=True), visit_number=1)
    assert not eligible(offer(first_purchase_only=True), visit_number=2)
    between = offer(min_visit_number=3, max_visit_number=5)
    assert [eligible(between, visit_number=n) for n in (2, 3, 5, 6)] == [
        False, True, True, False]


def test_minimum_amount_is_on_the_purchase_amount():
    assert eligible(offer(min_amount_rials=1_000_000))
    assert not eligible(offer(min_amount_rials=1_000_001))


def test_days_since_last_visit_counts_tehran_dates():
    lapsed = offer(min_days_since_last_visit=10)
    assert eligible(lapsed)
    assert not eligible(lapsed, last_visit_at=NOW - timedelta(days=9))
    assert not eligible(lapsed, last_visit_at=None)  # never visited: not "lapsed"
    # 20:29 UTC on 11 Nov is 23:59 there: 10 Tehran days before 21 Nov, though 9 days
    # and 13 hours by the clock.
    assert eligible(lapsed, last_visit_at=datetime(2026, 11, 11, 20, 29, tzinfo=UTC))
    # 20:30 UTC on 11 Nov is already 12 Nov in Tehran: 9 days.
    assert not eligible(lapsed, last_visit_at=datetime(2026, 11, 11, 20, 30, tzinfo=UTC))


def test_birthday_and_wedding_windows_are_jalali():
    birthday = offer(birthday_window_days=3)
    assert eligible(birthday, birth_date=date(1990, 11, 24))      # 3 Azar: 3 days away
    assert not eligible(birthday, birth_date=date(1990, 11, 25))  # 4 days away
    assert not eligible(birthday, birth_date=None)
    wedding = offer(anniversary_window_days=0)
    assert eligible(wedding, wedding_date=date(2015, 11, 21))     # 30 Aban
    assert not eligible(wedding, wedding_date=date(2015, 11, 22))
    assert not eligible(wedding, wedding_date=None)


@pytest.mark.parametrize("kind, value, due, expected", [
    ("percent_discount", 1_500, 333_333, AppliedOffer(1, "offer 1", discount_rials=49_999)),
    ("fixed_discount", 50_000, 333_333, AppliedOffer(1, "offer 1", discount_rials=50_000)),
    ("fixed_discount", 50_000, 20_000, AppliedOffer(1, "offer 1", discount_rials=20_000)),
    ("bonus_points", 40, 333_333, AppliedOffer(1, "offer 1", points=40)),
    ("bonus_credit", 7_000, 0, AppliedOffer(1, "offer 1", credit_rials=7_000)),
])
def test_rewards(kind, value, due, expected):
    # 15 % of 333,333 is 49,999.95: down to 49,999. A fixed discount never exceeds the due.
    assert offer(reward_kind=kind, reward_value=value).reward(due) == expected


def test_gift_credit_carries_its_expiry():
    gift = offer(reward_kind="gift_credit", reward_value=30_000, reward_expiry_days=5)
    assert gift.reward(100_000) == AppliedOffer(1, "offer 1", credit_rials=30_000,
                                                credit_expiry_days=5)


def ids(offers) -> list[int]:
    return [chosen.id for chosen in offers]


def test_offers_apply_in_priority_then_id_order():
    offers = [offer(id=5, priority=10), offer(id=2, priority=20), offer(id=9, priority=10),
              offer(id=1)]
    assert ids(choose_offers(offers, CONTEXT)) == [5, 9, 2, 1]  # default priority is 100


def test_ineligible_offers_are_skipped():
    offers = [offer(id=1, priority=1, min_amount_rials=10**9), offer(id=2, priority=2)]
    assert ids(choose_offers(offers, CONTEXT)) == [2]


def test_an_exclusive_offer_first_in_line_is_the_only_one():
    offers = [offer(id=3, priority=5, exclusive=True), offer(id=1, priority=9),
              offer(id=2, priority=9, exclusive=True)]
    assert ids(choose_offers(offers, CONTEXT)) == [3]


def test_an_exclusive_offer_after_another_is_skipped_and_the_walk_goes_on():
    offers = [offer(id=1, priority=1), offer(id=2, priority=2, exclusive=True),
              offer(id=3, priority=3)]
    assert ids(choose_offers(offers, CONTEXT)) == [1, 3]


def test_an_ineligible_exclusive_offer_does_not_end_the_walk():
    offers = [offer(id=1, priority=1, exclusive=True, tier_codes=frozenset({"gold"})),
              offer(id=2, priority=2), offer(id=3, priority=3)]
    assert ids(choose_offers(offers, CONTEXT)) == [2, 3]


def test_no_offers():
    assert choose_offers([], CONTEXT) == []


# L7: offers limited to weekdays and a happy hour, in Tehran time (UTC+03:30), at the
# boundaries (docs/loyalty-rules.md "Weekdays and happy hours").
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
