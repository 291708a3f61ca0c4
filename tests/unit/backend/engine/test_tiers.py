"""Tier thresholds and the move up or down (backend/engine/tiers.py, docs "Tiers")."""

import pytest

from backend.engine import TierDecision, TierThreshold, decide_tier

BRONZE = TierThreshold("bronze", rank=1)
SILVER = TierThreshold("silver", rank=2, min_spend_rials=10_000_000, min_purchases=5)
GOLD = TierThreshold("gold", rank=3, min_spend_rials=50_000_000, min_purchases=20, mode="any")
TIERS = [GOLD, BRONZE, SILVER]  # the order given does not matter; rank does


@pytest.mark.parametrize("threshold, spend, purchases, met", [
    (BRONZE, 0, 0, True),                  # no threshold: always met
    (SILVER, 10_000_000, 5, True),         # "all": both at exactly the bound
    (SILVER, 9_999_999, 5, False),
    (SILVER, 10_000_000, 4, False),
    (GOLD, 50_000_000, 0, True),           # "any": one is enough
    (GOLD, 0, 20, True),
    (GOLD, 49_999_999, 19, False),
    (TierThreshold("spend", 2, min_spend_rials=1_000), 999, 10**6, False),  # zero ignored
    (TierThreshold("count", 2, min_purchases=3, mode="any"), 0, 3, True),
])
def test_is_met(threshold, spend, purchases, met):
    assert threshold.is_met(spend, purchases) is met


def test_bad_thresholds_are_refused():
    with pytest.raises(AssertionError):
        TierThreshold("x", 1, mode="most")
    with pytest.raises(AssertionError):
        TierThreshold("x", 1, min_spend_rials=-1)


def test_an_upgrade_goes_to_the_highest_tier_met_with_its_reason():
    decision = decide_tier(TIERS, "bronze", 60_000_000, 3, 365, allow_downgrade=False)
    assert decision == TierDecision(
        "gold", "upgrade: 60,000,000 rials in 3 purchases over 365 days")
    assert decide_tier(TIERS, "bronze", 12_000_000, 7, 90, allow_downgrade=False) == (
        TierDecision("silver", "upgrade: 12,000,000 rials in 7 purchases over 90 days"))


def test_staying_in_the_tier_is_no_decision():
    assert decide_tier(TIERS, "silver", 12_000_000, 7, 365, allow_downgrade=True) is None
    assert decide_tier(TIERS, "bronze", 0, 0, 365, allow_downgrade=True) is None


def test_at_the_till_nobody_moves_down():
    assert decide_tier(TIERS, "gold", 0, 0, 365, allow_downgrade=False) is None
    assert decide_tier(TIERS, "gold", 12_000_000, 7, 365, allow_downgrade=False) is None


def test_the_nightly_run_moves_down_to_the_highest_tier_still_met():
    assert decide_tier(TIERS, "gold", 12_000_000, 7, 365, allow_downgrade=True) == (
        TierDecision("silver", "downgrade: 12,000,000 rials in 7 purchases over 365 days"))
    assert decide_tier(TIERS, "gold", 0, 0, 30, allow_downgrade=True) == (
        TierDecision("bronze", "downgrade: 0 rials in 0 purchases over 30 days"))


def test_the_lowest_tier_is_where_a_member_meets_none():
    # Even a lowest tier with a threshold of its own is where nobody-qualifying belongs.
    entry = TierThreshold("entry", rank=1, min_purchases=1)
    vip = TierThreshold("vip", rank=5, min_spend_rials=1_000)
    assert decide_tier([entry, vip], "vip", 0, 0, 365, allow_downgrade=True) == (
        TierDecision("entry", "downgrade: 0 rials in 0 purchases over 365 days"))


def test_an_unknown_current_tier_or_no_tiers_is_a_bug():
    with pytest.raises(KeyError):
        decide_tier(TIERS, "platinum", 0, 0, 365, allow_downgrade=True)
    with pytest.raises(AssertionError):
        decide_tier([], "bronze", 0, 0, 365, allow_downgrade=True)
