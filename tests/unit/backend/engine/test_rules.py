import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.engine import (
    USE_ALL_CREDIT,
    PurchaseRequest,
    TierRules,
    points_to_credit,
    price_purchase,
)
from backend.errors import BadRequest, InsufficientCredit

SILVER = TierRules(credit_percent_bp=500, discount_percent_bp=500, points_per_step=1,
                   point_step_rials=10_000)


def price(amount, use_credit=0, balance=0, tier=SILVER):
    return price_purchase(PurchaseRequest(amount, use_credit, balance), tier)


def test_protocol_example_purchase():
    # PROTOCOL.md "Response": 250,000 rials at silver.
    outcome = price(250_000)
    assert (outcome.discount_rials, outcome.credit_used_rials, outcome.payable_rials,
            outcome.credit_earned_rials, outcome.points_earned) == (12_500, 0, 237_500, 11_875, 25)


def test_spending_part_of_the_credit():
    outcome = price(250_000, use_credit=100_000, balance=123_000)
    assert outcome.credit_used_rials == 100_000
    assert outcome.payable_rials == 137_500
    # Credit is earned on what was paid, not on credit spent.
    assert outcome.credit_earned_rials == 6_875


def test_use_all_credit_takes_the_balance():
    outcome = price(250_000, use_credit=USE_ALL_CREDIT, balance=123_000)
    assert outcome.credit_used_rials == 123_000
    assert outcome.payable_rials == 114_500


def test_use_all_credit_never_exceeds_what_is_due():
    outcome = price(100_000, use_credit=USE_ALL_CREDIT, balance=1_000_000)
    assert outcome.credit_used_rials == 95_000
    assert outcome.payable_rials == 0
    assert outcome.credit_earned_rials == 0


def test_asking_for_more_credit_than_the_balance_is_refused():
    with pytest.raises(InsufficientCredit) as raised:
        price(250_000, use_credit=123_001, balance=123_000)
    assert raised.value.code == "INSUFFICIENT_CREDIT"


@pytest.mark.parametrize(("amount", "use_credit", "field"), [
    (0, 0, "amount"), (-5, 0, "amount"), (10.5, 0, "amount"), (True, 0, "amount"),
    (1000, -2, "use_credit"), (1000, 1.5, "use_credit"),
])
def test_bad_amounts_are_refused(amount, use_credit, field):
    with pytest.raises(BadRequest) as raised:
        price(amount, use_credit, 0)
    assert raised.value.field == field


def test_rounding_is_down_in_the_clubs_favour():
    outcome = price(19_999)
    assert outcome.discount_rials == 999  # 999.95
    assert outcome.credit_earned_rials == 950  # 5 % of 19,000
    assert outcome.points_earned == 1


def test_points_to_credit_uses_the_point_value():
    assert points_to_credit(450, 100) == 45_000
    with pytest.raises(BadRequest):
        points_to_credit(-1, 100)


tiers = st.builds(
    TierRules,
    credit_percent_bp=st.integers(0, 10_000),
    discount_percent_bp=st.integers(0, 10_000),
    points_per_step=st.integers(0, 10),
    point_step_rials=st.integers(1, 1_000_000),
)


@given(st.integers(1, 10**12), st.integers(0, 10**12), st.integers(-1, 10**12), tiers)
def test_invariants(amount, balance, use_credit, tier):
    try:
        outcome = price(amount, use_credit, balance, tier)
    except InsufficientCredit:
        assert use_credit > balance
        return
    assert outcome.payable_rials + outcome.discount_rials + outcome.credit_used_rials == amount
    assert 0 <= outcome.credit_used_rials <= balance
    assert outcome.payable_rials >= 0
    assert 0 <= outcome.credit_earned_rials <= outcome.payable_rials
