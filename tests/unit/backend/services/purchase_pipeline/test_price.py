"""The price step: the engine over kept rules, no database."""

from datetime import UTC, datetime
from types import SimpleNamespace

from backend import engine
from backend.services.purchase_pipeline.price import Pricing
from backend.services.purchase_pipeline.rules import Rules

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)
TIER = SimpleNamespace(id=1, code="silver", rank=1, credit_percent_bp=500,
                       discount_percent_bp=1_000, points_per_step=1, point_step_rials=10_000,
                       max_credit_per_invoice_rials=30_000, max_credit_per_day_rials=None)
OFFER = engine.Offer(id=7, name="Bonus", reward_kind="bonus_points", reward_value=5,
                     priority=1, exclusive=False)
RULES = Rules(version=1, club=SimpleNamespace(), tiers=(TIER,), thresholds=(),
              club_rules=engine.ClubRules(weekday_points_percent=(100,) * 7),
              offers=(OFFER,), offers_limit_uses=False)
MEMBER = engine.MemberContext(previous_visits=3)


def pricing(gift_account=False) -> Pricing:
    return Pricing.of(RULES, tier_id=1, gift_account=gift_account, member=MEMBER, items=(),
                      amount_rials=200_000, now=NOW)


def test_the_tiers_discount_and_the_offers_apply():
    outcome = pricing().price(0, 0)
    assert outcome.discount_rials == 20_000 and outcome.payable_rials == 180_000
    assert [offer.name for offer in outcome.offers] == ["Bonus"]


def test_the_credit_cap_is_the_tiers_per_invoice_cap():
    assert pricing().credit_cap_rials() == 30_000
    assert pricing().price(engine.USE_ALL_CREDIT, 50_000).credit_used_rials == 30_000


def test_a_gift_account_earns_nothing_and_meets_no_offer():
    outcome = pricing(gift_account=True).price(0, 0)
    assert outcome.offers == () and outcome.points_earned == 0
    assert outcome.credit_earned_rials == 0
