"""The loyalty rules with worked numbers a shop owner would recognise (docs/loyalty-rules.md)."""

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from backend import ledger
from backend.errors import (
    BadRequest,
    InsufficientBalance,
    InsufficientCredit,
    LimitReached,
    RefUnknown,
)
from backend.models import (
    Card,
    Club,
    CreditLot,
    LedgerEntry,
    Member,
    Offer,
    Product,
    Purchase,
    Tier,
    TierChange,
)
from backend.services import (
    card_lifecycle,
    members,
    purchase_pipeline,
    refunds,
    tiers,
    wallet,
)
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW  # Saturday 30 Aban 1405, 13:00 Tehran


@dataclass
class Shop:
    db: object
    club: Club
    branch_id: int
    other_branch_id: int
    bronze: Tier
    silver: Tier
    gold: Tier

    def member(self, tier=None, **fields) -> Member:
        member = factories.member(self.db, tier_id=(tier or self.silver).id, **fields)
        self.db.commit()
        return member

    def buy(self, member, amount, use_credit=0, at=NOW, key=None, branch_id=None, items=()):
        # Like the terminal service: the caller owns the transaction and rolls back.
        try:
            locked = ledger.lock_member(self.db, member.id)
            result = purchase_pipeline.run(
                self.db, member=locked, card=locked.cards[0],
                branch_id=branch_id or self.branch_id, device_id=None,
                idempotency_key=key or f"test:{member.id}:{amount}:{use_credit}:{at.isoformat()}",
                amount_rials=amount, use_credit_rials=use_credit, offline=False, now=at,
                items=items,
            )
        except Exception:
            self.db.rollback()
            raise
        self.db.commit()
        return result

    def refund(self, purchase, amount=None, key=None, at=NOW):
        try:
            ledger.lock_member(self.db, purchase.member_id)
            result = refunds.refund_purchase_locked(
                self.db, purchase=purchase, amount_rials=amount,
                idempotency_key=key or f"refund:{purchase.id}:{amount}", now=at)
        except Exception:
            self.db.rollback()
            raise
        self.db.commit()
        return result.refund

    def balances(self, member):
        self.db.refresh(member)
        credit = ledger.balance_from_entries(self.db, member.id, "credit")
        points = ledger.balance_from_entries(self.db, member.id, "points")
        assert credit == member.credit_balance_rials == ledger.credit_in_lots(self.db, member.id)
        assert points == member.points_balance
        return credit, points


@pytest.fixture
def shop(db):
    club = factories.club(db, weekday_points_percent=[200, 100, 100, 100, 100, 100, 100],
                          point_value_rials=100)
    branch, other = factories.branch(db), factories.branch(db)
    bronze = factories.tier(db, code="bronze", name="bronze", rank=1, credit_percent_bp=200,
                            discount_percent_bp=0)
    silver = factories.tier(db, code="silver", name="silver", rank=2, credit_percent_bp=500,
                            discount_percent_bp=500, min_spend_rials=10_000_000,
                            min_purchases=5, qualify_mode="any")
    gold = factories.tier(db, code="gold", name="gold", rank=3, credit_percent_bp=800,
                          discount_percent_bp=1000, points_per_step=2,
                          min_spend_rials=50_000_000, min_purchases=10, qualify_mode="all")
    db.commit()
    return Shop(db, club, branch.id, other.id, bronze, silver, gold)


def count(db, model, *where):
    return db.scalar(select(func.count()).select_from(model).where(*where))


# L2, L7 ---------------------------------------------------------------------------------

def test_silver_saturday_double_points(shop):
    """Silver member, 5 % discount and 5 % credit, Saturday double points,
    2,500,000 rials → 125,000 discount, pays 2,375,000, earns 118,750 credit and 500
    points (250 points doubled)."""
    sara = shop.member()
    purchase = shop.buy(sara, 2_500_000).purchase
    assert (purchase.discount_rials, purchase.payable_rials, purchase.credit_earned_rials,
            purchase.points_earned) == (125_000, 2_375_000, 118_750, 500)
    assert shop.balances(sara) == (118_750, 500)


def test_same_purchase_on_sunday_earns_single_points(shop):
    sara = shop.member()
    assert shop.buy(sara, 2_500_000, at=NOW + timedelta(days=1)).purchase.points_earned == 250


# L6 -------------------------------------------------------------------------------------

def test_per_invoice_cap_limits_credit_spent(shop):
    shop.silver.max_credit_per_invoice_rials = 200_000
    sara = shop.member(credit_rials=1_000_000)
    with pytest.raises(LimitReached):
        shop.buy(sara, 2_500_000, use_credit=300_000)
    assert shop.balances(sara) == (1_000_000, 0)
    purchase = shop.buy(sara, 2_500_000, use_credit=-1).purchase
    assert purchase.credit_used_rials == 200_000
    assert purchase.payable_rials == 2_175_000


def test_daily_cap_counts_earlier_purchases_of_the_local_day(shop):
    shop.silver.max_credit_per_day_rials = 300_000
    sara = shop.member(credit_rials=1_000_000)
    assert shop.buy(sara, 1_000_000, use_credit=250_000).purchase.credit_used_rials == 250_000
    later = NOW + timedelta(hours=2)
    assert shop.buy(sara, 1_000_000, use_credit=-1, at=later).purchase.credit_used_rials == 50_000
    with pytest.raises(LimitReached):
        shop.buy(sara, 1_000_000, use_credit=10_000, at=later + timedelta(minutes=1))
    # After midnight in Tehran (20:30 UTC), the cap starts again.
    tomorrow = NOW.replace(hour=21)
    purchase = shop.buy(sara, 1_000_000, use_credit=-1, at=tomorrow).purchase
    assert purchase.credit_used_rials == 300_000


def test_a_purchase_spending_nothing_passes_a_used_up_daily_cap(shop):
    """The terminal skips the day's spend query when no credit is spent: the cap can
    only stop a spend."""
    shop.silver.max_credit_per_day_rials = 100_000
    sara = shop.member(credit_rials=1_000_000)
    assert shop.buy(sara, 500_000, use_credit=-1).purchase.credit_used_rials == 100_000
    later = NOW + timedelta(minutes=5)
    assert shop.buy(sara, 500_000, at=later).purchase.credit_used_rials == 0
    with pytest.raises(LimitReached):
        shop.buy(sara, 500_000, use_credit=1_000, at=later + timedelta(minutes=1))


def test_spending_more_than_the_balance_is_refused(shop):
    sara = shop.member(credit_rials=10_000)
    with pytest.raises(InsufficientCredit):
        shop.buy(sara, 100_000, use_credit=10_001)
    assert count(shop.db, Purchase) == 0


# L9 -------------------------------------------------------------------------------------

def add_offer(shop, **fields):
    offer = Offer(**{"name": "offer", "reward_kind": "bonus_points", "reward_value": 10,
                     **fields})
    shop.db.add(offer)
    shop.db.commit()
    return offer


def test_offers_apply_in_priority_order_on_the_running_amount(shop):
    add_offer(shop, name="Yalda 10%", reward_kind="percent_discount", reward_value=1000,
              priority=1)
    add_offer(shop, name="50,000 off", reward_kind="fixed_discount", reward_value=50_000,
              priority=2)
    sara = shop.member()
    result = shop.buy(sara, 1_000_000)
    # 1,000,000 − 5 % tier = 950,000; −10 % = 855,000; −50,000 = 805,000.
    assert result.purchase.payable_rials == 805_000
    assert result.purchase.discount_rials == 195_000
    assert result.offer_names == ("Yalda 10%", "50,000 off")


def test_an_exclusive_offer_first_in_order_stands_alone(shop):
    add_offer(shop, name="Exclusive", reward_kind="bonus_points", reward_value=100,
              priority=1, exclusive=True)
    add_offer(shop, name="Stackable", reward_kind="bonus_points", reward_value=7, priority=2)
    result = shop.buy(shop.member(), 100_000)
    assert result.offer_names == ("Exclusive",)
    assert result.purchase.points_earned == 10 * 2 + 100


def test_an_exclusive_offer_after_a_stackable_one_is_skipped(shop):
    add_offer(shop, name="Stackable", reward_kind="bonus_points", reward_value=7, priority=1)
    add_offer(shop, name="Exclusive", reward_kind="bonus_points", reward_value=100,
              priority=2, exclusive=True)
    assert shop.buy(shop.member(), 100_000).offer_names == ("Stackable",)


def test_usage_limit_per_member(shop):
    add_offer(shop, name="Once", reward_kind="bonus_credit", reward_value=5_000,
              max_uses_per_member=1)
    sara = shop.member()
    assert shop.buy(sara, 100_000).offer_names == ("Once",)
    assert shop.buy(sara, 100_000, at=NOW + timedelta(days=1)).offer_names == ()


def test_first_purchase_and_comeback_offers(shop):
    add_offer(shop, name="Welcome", reward_kind="bonus_points", reward_value=50,
              first_purchase_only=True)
    add_offer(shop, name="We missed you", reward_kind="bonus_credit", reward_value=20_000,
              min_days_since_last_visit=30)
    sara = shop.member()
    assert shop.buy(sara, 100_000).offer_names == ("Welcome",)
    assert shop.buy(sara, 100_000, at=NOW + timedelta(days=10)).offer_names == ()
    assert shop.buy(sara, 100_000, at=NOW + timedelta(days=41)).offer_names == ("We missed you",)


def test_birthday_offer_uses_the_jalali_birthday(shop):
    add_offer(shop, name="Happy birthday", reward_kind="gift_credit", reward_value=100_000,
              reward_expiry_days=30, birthday_window_days=3)
    # Born 2 Azar 1370 (1991-11-23): 2 Azar 1405 is 2026-11-23, two days after NOW.
    sara = shop.member(birth_date=date(1991, 11, 23))
    other = shop.member(birth_date=date(1991, 6, 1))
    result = shop.buy(sara, 100_000)
    assert result.offer_names == ("Happy birthday",)
    assert shop.buy(other, 100_000).offer_names == ()
    lot = shop.db.scalars(select(CreditLot).where(CreditLot.member_id == sara.id,
                                                  CreditLot.expires_at.is_not(None))).one()
    assert lot.amount_rials == 100_000
    assert lot.expires_at == NOW + timedelta(days=30)


def test_offer_date_range_and_target_tiers(shop):
    add_offer(shop, name="Nowruz gold", reward_kind="percent_discount", reward_value=2000,
              tier_codes="gold", starts_at=NOW - timedelta(days=1), ends_at=NOW + timedelta(days=1))
    assert shop.buy(shop.member(tier=shop.gold), 100_000).offer_names == ("Nowruz gold",)
    assert shop.buy(shop.member(tier=shop.silver), 100_000).offer_names == ()
    late = NOW + timedelta(days=2)
    assert shop.buy(shop.member(tier=shop.gold), 100_000, at=late).offer_names == ()


# L5 -------------------------------------------------------------------------------------

def test_products_give_their_own_rewards_and_leave_stock(shop):
    shop.db.add_all([
        Product(sku="COF", name="Coffee beans", price_rials=400_000, points_per_unit=5,
                discount_percent_bp=1000, extra_credit_per_unit_rials=2_000, stock=10),
        Product(sku="CUP", name="Cup of tea", price_rials=100_000),
    ])
    shop.db.commit()
    items = [purchase_pipeline.ItemRequest("COF", 2, 400_000),
             purchase_pipeline.ItemRequest("CUP", 1, 100_000)]
    purchase = shop.buy(shop.member(), 900_000, items=items, at=NOW + timedelta(days=1)).purchase
    # Item discount 80,000; tier 5 % of 820,000 = 41,000; pays 779,000.
    assert purchase.discount_rials == 121_000 and purchase.payable_rials == 779_000
    # Credit 5 % of 779,000 = 38,950 plus 2 × 2,000 extra; points 90 + 2 × 5.
    assert purchase.credit_earned_rials == 42_950 and purchase.points_earned == 100
    assert shop.db.scalars(select(Product.stock).where(Product.sku == "COF")).one() == 8


def test_out_of_stock_refuses_and_writes_nothing(shop):
    shop.db.add(Product(sku="COF", name="Coffee", price_rials=400_000, stock=1))
    shop.db.commit()
    sara = shop.member()
    with pytest.raises(BadRequest, match="in stock"):
        shop.buy(sara, 800_000, items=[purchase_pipeline.ItemRequest("COF", 2, 400_000)])
    assert count(shop.db, Purchase) == 0
    assert shop.balances(sara) == (0, 0)


# L4 -------------------------------------------------------------------------------------

def test_spending_takes_soonest_expiring_credit_and_expiry_goes_through_the_ledger(shop):
    sara = shop.member(credit_rials=100_000)  # never expires
    wallet.grant_credit(shop.db, actor=SYSTEM,
                        member_id=sara.id, amount_rials=50_000, reason="Yalda gift",
                        expires_at=NOW + timedelta(days=10), now=NOW)
    wallet.grant_credit(shop.db, actor=SYSTEM,
                        member_id=sara.id, amount_rials=30_000, reason="apology",
                        expires_at=NOW + timedelta(days=5), now=NOW)
    shop.buy(sara, 100_000, use_credit=40_000, at=NOW + timedelta(days=1))
    lots = {lot.amount_rials: lot.remaining_rials for lot in shop.db.scalars(
        select(CreditLot).where(CreditLot.member_id == sara.id))}
    assert lots[30_000] == 0 and lots[50_000] == 40_000 and lots[100_000] == 100_000
    credit_before = shop.balances(sara)[0]
    assert wallet.expire_credit(shop.db, NOW + timedelta(days=11)) == 40_000
    assert wallet.expire_credit(shop.db, NOW + timedelta(days=12)) == 0  # idempotent
    assert shop.balances(sara)[0] == credit_before - 40_000
    assert shop.db.scalars(select(LedgerEntry.amount).join(LedgerEntry.transaction).where(
        LedgerEntry.member_id == sara.id).order_by(LedgerEntry.id.desc())).first() == -40_000


def test_group_grant_credits_every_member_of_the_tier(shop):
    golds = [shop.member(tier=shop.gold) for _ in range(3)]
    silver = shop.member(tier=shop.silver)
    grant = wallet.grant_credit(shop.db, actor=SYSTEM, tier_id=shop.gold.id, amount_rials=25_000,
                                reason="gold night", now=NOW)
    assert grant.member_count == 3
    assert [shop.balances(m)[0] for m in golds] == [25_000] * 3
    assert shop.balances(silver)[0] == 0


# L1, L8 ---------------------------------------------------------------------------------

def test_points_convert_to_credit_at_the_point_value(shop):
    sara = shop.member(points=450)
    wallet.convert_points(shop.db, actor=SYSTEM,
                          member_id=sara.id, points=400, idempotency_key="c1", now=NOW)
    assert shop.balances(sara) == (40_000, 50)
    with pytest.raises(InsufficientBalance):
        wallet.convert_points(shop.db, actor=SYSTEM,
                              member_id=sara.id, points=51, idempotency_key="c2",
                              now=NOW)
    shop.db.rollback()
    assert shop.balances(sara) == (40_000, 50)


def test_instant_cashback_discounts_this_purchase(shop):
    shop.club.instant_cashback = True
    purchase = shop.buy(shop.member(), 1_000_000).purchase
    # 950,000 after the tier discount; its 5 % (47,500) comes off now instead of credit.
    assert purchase.payable_rials == 902_500
    assert purchase.credit_earned_rials == 0


def test_top_up_adds_credit(shop):
    sara = shop.member()
    wallet.top_up_locked(shop.db, member=ledger.lock_member(shop.db, sara.id),
                         amount_rials=500_000, idempotency_key="t1", now=NOW)
    shop.db.commit()
    assert shop.balances(sara) == (500_000, 0)


# L3 -------------------------------------------------------------------------------------

def test_upgrade_on_purchase_and_downgrade_by_the_nightly_job(shop):
    sara = shop.member(tier=shop.bronze)
    result = shop.buy(sara, 12_000_000)
    assert result.tier_change.to_code == "silver"
    change = shop.db.scalars(select(TierChange).where(TierChange.member_id == sara.id)).one()
    assert "upgrade" in change.reason and "12,000,000" in change.reason
    # A year and a day later the purchase has left the window.
    later = NOW + timedelta(days=366)
    assert [c.to_code for c in tiers.evaluate_all(shop.db, later)
            if c.member_id == sara.id] == ["bronze"]
    assert tiers.evaluate_all(shop.db, later) == []  # idempotent
    shop.db.refresh(sara)
    assert sara.tier_id == shop.bronze.id


# Refunds ---------------------------------------------------------------------------------

def test_full_refund_restores_every_balance(shop):
    sara = shop.member(credit_rials=200_000, points=10)
    before = shop.balances(sara)
    purchase = shop.buy(sara, 1_000_000, use_credit=150_000).purchase
    refund = shop.refund(purchase)
    assert shop.balances(sara) == before
    assert (refund.cash_refund_rials, refund.credit_returned_rials) == (800_000, 150_000)
    with pytest.raises(RefUnknown):
        shop.refund(purchase, key="again")


def test_partial_refunds_add_up_to_the_full_refund(shop):
    sara = shop.member(credit_rials=100_000)
    before = shop.balances(sara)
    purchase = shop.buy(sara, 999_999, use_credit=33_333).purchase
    parts = [shop.refund(purchase, amount, key=f"part-{index}")
             for index, amount in enumerate((333_333, 333_333))]
    parts.append(shop.refund(purchase, key="rest"))
    assert sum(p.cash_refund_rials for p in parts) == purchase.payable_rials
    assert sum(p.credit_returned_rials for p in parts) == purchase.credit_used_rials
    assert sum(p.points_taken for p in parts) == purchase.points_earned
    assert shop.balances(sara) == before


def test_refunded_credit_keeps_the_expiry_of_the_lots_it_came_from(shop):
    """Issue 18 item 12: 30,000 gift credit (5 days), 50,000 (10 days) and 100,000 that
    never expires; a purchase spends 120,000 of it: 30,000 + 50,000 + 40,000."""
    sara = shop.member(credit_rials=100_000)  # never expires
    wallet.grant_credit(shop.db, actor=SYSTEM,
                        member_id=sara.id, amount_rials=50_000, reason="Yalda gift",
                        expires_at=NOW + timedelta(days=10), now=NOW)
    wallet.grant_credit(shop.db, actor=SYSTEM,
                        member_id=sara.id, amount_rials=30_000, reason="apology",
                        expires_at=NOW + timedelta(days=5), now=NOW)
    purchase = shop.buy(sara, 1_000_000, use_credit=120_000).purchase
    assert purchase.credit_used_rials == 120_000

    def returned_lots(refund):
        return sorted(
            ((lot.expires_at, lot.amount_rials) for lot in shop.db.scalars(
                select(CreditLot).where(CreditLot.transaction_id
                                        == refund.ledger_transaction_id,
                                        CreditLot.amount_rials > 0))),
            key=lambda row: (row[0] is None, row[0] or NOW))

    # A quarter back: 30,000 of the 120,000 — the 5-day lot's, not permanent credit.
    first = shop.refund(purchase, 250_000, key="quarter")
    assert first.credit_returned_rials == 30_000
    assert returned_lots(first) == [(NOW + timedelta(days=5), 30_000)]
    # The rest: 50,000 with the 10-day expiry, 40,000 that never expires.
    rest = shop.refund(purchase, key="rest")
    assert rest.credit_returned_rials == 90_000
    assert returned_lots(rest) == [(NOW + timedelta(days=10), 50_000), (None, 40_000)]
    # Nothing became permanent: on day 11 all gift credit has expired again.
    assert shop.balances(sara)[0] == 180_000
    assert wallet.expire_credit(shop.db, NOW + timedelta(days=11)) == 80_000
    assert shop.balances(sara)[0] == 100_000


def test_refund_cannot_exceed_what_is_left(shop):
    purchase = shop.buy(shop.member(), 100_000).purchase
    shop.refund(purchase, 60_000)
    with pytest.raises(BadRequest, match="40000"):
        shop.refund(purchase, 50_000, key="too-much")


def test_earned_credit_already_spent_is_kept_from_the_cash_refund(shop):
    sara = shop.member()
    first = shop.buy(sara, 1_000_000).purchase  # earns 47,500 credit
    shop.buy(sara, 100_000, use_credit=-1, at=NOW + timedelta(hours=1))  # spends 95,000 max
    refund = shop.refund(first)
    assert refund.shortfall_rials > 0
    assert refund.cash_refund_rials == first.payable_rials - refund.shortfall_rials
    assert shop.balances(sara)[0] >= 0


# L10 ------------------------------------------------------------------------------------

def test_referral_bonuses_and_commission_and_its_refund(shop):
    shop.club.referral_join_bonus_rials = 20_000
    shop.club.referral_first_purchase_bonus_rials = 30_000
    shop.club.referral_commission_bp = 200  # 2 %
    ali = shop.member()
    sara = members.register_member(
        shop.db, actor=SYSTEM, first_name="Sara", last_name="Ahmadi", mobile="۰۹۱۲۹۹۹۸۸۷۷",
        card_number="9900011234567898", now=NOW, referrer_card_or_mobile=ali.mobile)
    assert shop.balances(ali)[0] == 20_000
    purchase = shop.buy(sara, 1_000_000).purchase
    # 2 % of 1,000,000 − 0 (bronze, no discount) = 20,000 commission, plus 30,000 bonus.
    assert purchase.commission_rials == 20_000
    assert shop.balances(ali)[0] == 70_000
    refund = shop.refund(purchase)
    assert refund.commission_taken_rials == 20_000
    assert shop.balances(ali)[0] == 50_000


def test_no_self_referral_and_no_cycles(shop):
    ali, sara, reza = shop.member(), shop.member(), shop.member()
    members.set_referrer(shop.db, actor=SYSTEM, member_id=sara.id, referrer_id=ali.id)
    members.set_referrer(shop.db, actor=SYSTEM, member_id=reza.id, referrer_id=sara.id)
    with pytest.raises(BadRequest, match="cycle"):
        members.set_referrer(shop.db, actor=SYSTEM, member_id=ali.id, referrer_id=reza.id)
    with pytest.raises(BadRequest, match="themselves"):
        members.set_referrer(shop.db, actor=SYSTEM, member_id=ali.id, referrer_id=ali.id)


# L11 ------------------------------------------------------------------------------------

def test_transfer_moves_credit_with_its_expiry_within_limits(shop):
    shop.club.max_transfer_rials = 100_000
    shop.club.max_transfer_per_day_rials = 150_000
    sara, ali = shop.member(), shop.member()
    wallet.grant_credit(shop.db, actor=SYSTEM,
                        member_id=sara.id, amount_rials=300_000, reason="gift",
                        expires_at=NOW + timedelta(days=30), now=NOW)
    wallet.transfer_credit(shop.db, actor=SYSTEM, from_member_id=sara.id, to_member_id=ali.id,
                           amount_rials=100_000, idempotency_key="x1", now=NOW)
    wallet.transfer_credit(shop.db, actor=SYSTEM, from_member_id=sara.id, to_member_id=ali.id,
                           amount_rials=100_000, idempotency_key="x1", now=NOW)  # repeated
    assert shop.balances(sara)[0] == 200_000 and shop.balances(ali)[0] == 100_000
    lot = shop.db.scalars(select(CreditLot).where(CreditLot.member_id == ali.id)).one()
    assert lot.expires_at == NOW + timedelta(days=30)
    with pytest.raises(LimitReached):
        wallet.transfer_credit(shop.db, actor=SYSTEM, from_member_id=sara.id, to_member_id=ali.id,
                               amount_rials=100_001, idempotency_key="x2", now=NOW)
    shop.db.rollback()
    with pytest.raises(LimitReached, match="daily"):
        wallet.transfer_credit(shop.db, actor=SYSTEM, from_member_id=sara.id, to_member_id=ali.id,
                               amount_rials=60_000, idempotency_key="x3", now=NOW)
    shop.db.rollback()
    assert shop.balances(sara)[0] == 200_000


# C3, C4, B3 -----------------------------------------------------------------------------

def test_lost_card_is_blocked_and_the_replacement_carries_everything(shop):
    sara = shop.member(credit_rials=70_000, points=12)
    old_number = factories.card_of(sara)
    card_lifecycle.report_lost_card(shop.db, actor=SYSTEM, card_number=old_number, now=NOW)
    assert shop.db.scalars(select(Card.status).where(Card.number == old_number)).one() == "blocked"
    new = card_lifecycle.issue_replacement(shop.db, actor=SYSTEM, member_id=sara.id,
                                           new_card_number="9900011234567898", now=NOW)
    assert new.member_id == sara.id and new.status == "active"
    assert shop.balances(sara) == (70_000, 12)


def test_gift_card_credit_is_spendable_and_earns_nothing(shop):
    card = card_lifecycle.issue_gift_card(shop.db, actor=SYSTEM, card_number="9900011234567898",
                                          value_rials=500_000,
                                          expires_at=NOW + timedelta(days=90), now=NOW)
    holder = shop.db.get(Member, card.member_id)
    purchase = shop.buy(holder, 300_000, use_credit=-1).purchase
    assert purchase.credit_used_rials == 300_000 and purchase.payable_rials == 0
    assert purchase.points_earned == 0 and purchase.credit_earned_rials == 0
    assert shop.balances(holder) == (200_000, 0)


def test_branch_policy_keeps_credit_at_the_branch_that_gave_it(shop):
    shop.club.credit_cross_branch = False
    sara = shop.member()
    shop.buy(sara, 1_000_000)  # 47,500 credit earned at the first branch
    with pytest.raises(InsufficientCredit):
        shop.buy(sara, 100_000, use_credit=10_000, branch_id=shop.other_branch_id,
                 at=NOW + timedelta(hours=1))
    used = shop.buy(sara, 100_000, use_credit=10_000, at=NOW + timedelta(hours=2))
    assert used.purchase.credit_used_rials == 10_000
