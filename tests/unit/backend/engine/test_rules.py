from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.engine import (
    USE_ALL_CREDIT,
    ClubRules,
    Components,
    LineItem,
    MemberContext,
    Offer,
    PurchaseRequest,
    TierRules,
    points_to_credit,
    price_purchase,
    refund_components,
)
from backend.errors import BadRequest, InsufficientCredit, LimitReached

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


# The whole order of a purchase (docs/loyalty-rules.md "Order of a purchase"), to the rial.

SATURDAY = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)  # 13:00 in Tehran
DOUBLE_SATURDAYS = ClubRules(weekday_points_percent=(200, 100, 100, 100, 100, 100, 100))


def request(amount, use_credit=0, balance=0):
    return PurchaseRequest(amount, use_credit, balance)


def test_the_docs_worked_example():
    # Demo silver, Saturday ×2: 2,500,000 → discount 125,000, pays 2,375,000, earns
    # 118,750 credit and 500 points.
    outcome = price_purchase(request(2_500_000), SILVER, club=DOUBLE_SATURDAYS, now=SATURDAY)
    assert (outcome.discount_rials, outcome.payable_rials, outcome.credit_earned_rials,
            outcome.points_earned) == (125_000, 2_375_000, 118_750, 500)
    assert outcome.tier_discount_rials == 125_000 and outcome.tier_credit_rials == 118_750


def test_line_items_discount_earn_credit_and_points():
    items = [LineItem("coffee", quantity=2, unit_price_rials=100_000, points_per_unit=5,
                      discount_percent_bp=1_000, extra_credit_per_unit_rials=1_000),
             LineItem("cake", quantity=1, unit_price_rials=50_000)]
    outcome = price_purchase(request(250_000), SILVER, items=items)
    # Lines: 10 % of 200,000 = 20,000 off; tier 5 % of 230,000 = 11,500; pays 218,500.
    assert (outcome.item_discount_rials, outcome.tier_discount_rials) == (20_000, 11_500)
    assert (outcome.discount_rials, outcome.payable_rials) == (31_500, 218_500)
    # Earned: 5 % of 218,500 = 10,925 + 2 × 1,000 extra; 25 points per step + 2 × 5.
    assert (outcome.tier_credit_rials, outcome.item_credit_rials) == (10_925, 2_000)
    assert (outcome.credit_earned_rials, outcome.points_earned) == (12_925, 35)


def test_each_line_rounds_its_own_discount_down():
    # 3.33 % of 1,001 is 33.33 → 33 on each of two lines: 66, not 66.66 → 66 or 67.
    items = [LineItem("a", 1, 1_001, discount_percent_bp=333),
             LineItem("b", 1, 1_001, discount_percent_bp=333)]
    assert price_purchase(request(2_002), SILVER, items=items).item_discount_rials == 66


@pytest.mark.parametrize("items, field", [
    ([LineItem("a", 1, 100_000)], "items"),                       # 100,000 ≠ 250,000
    ([LineItem("a", 0, 250_000)], "items[0].quantity"),
    ([LineItem("a", 1, 250_000), LineItem("b", 1, -1)], "items[1].unit_price"),
    ([LineItem("a", 2.5, 100_000)], "items[0].quantity"),
])
def test_items_that_do_not_add_up_or_are_not_whole_are_refused(items, field):
    with pytest.raises(BadRequest) as raised:
        price_purchase(request(250_000), SILVER, items=items)
    assert raised.value.field == field


def test_offers_stack_in_order_each_on_what_is_still_due():
    offers = [
        Offer(4, "gift", "gift_credit", 30_000, priority=4, reward_expiry_days=5),
        Offer(2, "fixed", "fixed_discount", 50_000, priority=2),
        Offer(1, "tenth off", "percent_discount", 1_000, priority=1),
        Offer(3, "points", "bonus_points", 40, priority=3),
    ]
    outcome = price_purchase(request(1_000_000), SILVER, offers=offers, now=SATURDAY)
    # Tier 50,000 → 950,000; 10 % → 95,000 → 855,000; 50,000 → 805,000.
    assert [applied.offer_id for applied in outcome.offers] == [1, 2, 3, 4]
    assert [applied.discount_rials for applied in outcome.offers] == [95_000, 50_000, 0, 0]
    assert (outcome.offer_discount_rials, outcome.discount_rials) == (145_000, 195_000)
    assert outcome.payable_rials == 805_000
    # 5 % of 805,000 = 40,250 + 30,000 gift; 100 points + 40.
    assert (outcome.credit_earned_rials, outcome.points_earned) == (70_250, 140)
    assert outcome.gift_credit == ((30_000, 5),)


def test_the_weekday_multiplier_leaves_offer_points_alone():
    offers = [Offer(1, "points", "bonus_points", 40)]
    outcome = price_purchase(request(1_000_000), SILVER, club=DOUBLE_SATURDAYS, offers=offers,
                             now=SATURDAY)
    assert outcome.points_earned == 100 * 2 + 40


def test_offers_see_the_tier_the_visit_and_the_amount():
    offers = [Offer(1, "gold only", "fixed_discount", 1_000, tier_codes=frozenset({"gold"})),
              Offer(2, "first visit", "fixed_discount", 2_000, first_purchase_only=True),
              Offer(3, "big", "fixed_discount", 4_000, min_amount_rials=250_001),
              Offer(4, "used up", "fixed_discount", 8_000, max_uses_per_member=1)]
    gold = TierRules(0, 0, 1, 10_000, code="gold")
    newcomer = price_purchase(request(250_000), gold, offers=offers, now=SATURDAY,
                              member=MemberContext(offer_uses={4: 1}))
    assert newcomer.offer_discount_rials == 3_000
    regular = price_purchase(request(250_000), SILVER, offers=offers, now=SATURDAY,
                             member=MemberContext(previous_visits=4))
    assert regular.offer_discount_rials == 8_000


def test_a_fixed_discount_never_takes_the_due_below_zero():
    outcome = price_purchase(request(10_000), SILVER,
                             offers=[Offer(1, "big", "fixed_discount", 50_000)], now=SATURDAY)
    assert (outcome.offer_discount_rials, outcome.payable_rials) == (9_500, 0)
    assert outcome.credit_earned_rials == 0


CAPPED = TierRules(credit_percent_bp=500, discount_percent_bp=500, points_per_step=1,
                   point_step_rials=10_000, max_credit_per_invoice_rials=100_000,
                   max_credit_per_day_rials=150_000)


def test_use_all_credit_stops_at_the_per_invoice_cap():
    outcome = price_purchase(request(1_000_000, USE_ALL_CREDIT, 500_000), CAPPED)
    assert outcome.credit_used_rials == 100_000
    assert outcome.payable_rials == 850_000
    assert outcome.credit_earned_rials == 42_500  # 5 % of 850,000


def test_use_all_credit_stops_at_what_is_left_of_the_day():
    member = MemberContext(credit_spent_today_rials=80_000)
    outcome = price_purchase(request(1_000_000, USE_ALL_CREDIT, 500_000), CAPPED, member=member)
    assert outcome.credit_used_rials == 70_000
    spent = MemberContext(credit_spent_today_rials=200_000)  # over the cap already: none
    assert price_purchase(request(1_000_000, USE_ALL_CREDIT, 500_000), CAPPED,
                          member=spent).credit_used_rials == 0


@pytest.mark.parametrize("spent_today, use_credit, message", [
    (0, 100_001, "per-invoice credit cap allows 100000 rials"),
    (80_000, 70_001, "daily credit cap allows 70000 rials"),
    (150_000, 1, "daily credit cap allows 0 rials"),
])
def test_asking_for_more_than_a_cap_is_refused(spent_today, use_credit, message):
    member = MemberContext(credit_spent_today_rials=spent_today)
    with pytest.raises(LimitReached) as raised:
        price_purchase(request(1_000_000, use_credit, 500_000), CAPPED, member=member)
    assert raised.value.code == "LIMIT" and message in str(raised.value)


def test_exactly_a_cap_is_allowed():
    member = MemberContext(credit_spent_today_rials=80_000)
    assert price_purchase(request(1_000_000, 70_000, 500_000), CAPPED,
                          member=member).credit_used_rials == 70_000
    assert price_purchase(request(1_000_000, 100_000, 500_000),
                          CAPPED).credit_used_rials == 100_000


@pytest.mark.parametrize("tier", [
    TierRules(0, 0, 1, 10_000, max_credit_per_invoice_rials=80_000),
    TierRules(0, 0, 1, 10_000, max_credit_per_day_rials=80_000),
], ids=["per-invoice", "daily"])
def test_asking_for_more_than_is_due_spends_the_due_when_no_cap_stops_it(tier):
    """docs/loyalty-rules.md step 4: N is never more than the amount due; a cap refuses
    only when it is below what is due (80,000 cap, 50,000 due, N = 90,000 spends 50,000)."""
    outcome = price_purchase(request(50_000, 90_000, 500_000), tier)
    assert (outcome.credit_used_rials, outcome.payable_rials) == (50_000, 0)
    with pytest.raises(LimitReached):
        price_purchase(request(100_000, 90_000, 500_000), tier)


def test_instant_cashback_takes_the_tier_credit_off_the_purchase():
    club = ClubRules(instant_cashback=True)
    outcome = price_purchase(request(250_000), SILVER, club=club)
    # Tier 12,500 → 237,500; 5 % of it, 11,875, off at once instead of credited.
    assert (outcome.cashback_rials, outcome.tier_credit_rials) == (11_875, 0)
    assert (outcome.discount_rials, outcome.payable_rials) == (24_375, 225_625)
    assert outcome.credit_earned_rials == 0 and outcome.points_earned == 25


def test_instant_cashback_is_on_what_is_left_after_credit():
    club = ClubRules(instant_cashback=True)
    outcome = price_purchase(request(250_000, 100_000, 100_000), SILVER, club=club)
    # 237,500 − 100,000 credit = 137,500; 5 % = 6,875 off.
    assert (outcome.cashback_rials, outcome.payable_rials) == (6_875, 130_625)


def test_offers_and_weekday_multipliers_need_the_time():
    with pytest.raises(AssertionError):
        price_purchase(request(1_000), SILVER, offers=[Offer(1, "x", "bonus_points", 1)])
    with pytest.raises(AssertionError):
        price_purchase(request(1_000), SILVER, club=DOUBLE_SATURDAYS)


def test_rules_refuse_impossible_settings():
    with pytest.raises(AssertionError):
        TierRules(credit_percent_bp=10_001, discount_percent_bp=0, points_per_step=1,
                  point_step_rials=1)
    with pytest.raises(AssertionError):
        TierRules(0, 0, 1, point_step_rials=0)
    with pytest.raises(AssertionError):
        ClubRules(weekday_points_percent=(100,) * 6)
    with pytest.raises(AssertionError):
        ClubRules(weekday_points_percent=(1_001,) + (100,) * 6)


def test_points_to_credit_refuses_what_is_not_whole():
    assert points_to_credit(0, 100) == 0
    with pytest.raises(BadRequest):
        points_to_credit(1.5, 100)
    with pytest.raises(BadRequest):
        points_to_credit(10, -1)


# Property: any purchase, with any items, offers, caps, weekday multipliers and credit.

TEHRAN = ZoneInfo("Asia/Tehran")
TIER_CODES = ("bronze", "silver", "gold")

line_items = st.builds(
    LineItem,
    sku=st.just("sku"),
    quantity=st.integers(1, 5),
    unit_price_rials=st.integers(0, 2_000_000),
    points_per_unit=st.integers(0, 20),
    discount_percent_bp=st.integers(0, 10_000),
    extra_credit_per_unit_rials=st.integers(0, 50_000),
)
optional_cap = st.none() | st.integers(0, 3_000_000)
capped_tiers = st.builds(
    TierRules,
    credit_percent_bp=st.integers(0, 10_000),
    discount_percent_bp=st.integers(0, 10_000),
    points_per_step=st.integers(0, 10),
    point_step_rials=st.integers(1, 1_000_000),
    max_credit_per_invoice_rials=optional_cap,
    max_credit_per_day_rials=optional_cap,
    code=st.sampled_from(TIER_CODES),
)
clubs = st.builds(ClubRules, weekday_points_percent=st.tuples(*[st.integers(0, 1_000)] * 7),
                  instant_cashback=st.booleans())
moments = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31),
                       timezones=st.just(UTC))


@st.composite
def offer_lists(draw):
    offers = []
    for offer_id in range(1, draw(st.integers(0, 6)) + 1):
        kind = draw(st.sampled_from(("percent_discount", "fixed_discount", "bonus_points",
                                     "bonus_credit", "gift_credit")))
        value = draw(st.integers(0, 10_000) if kind == "percent_discount"
                     else st.integers(0, 1_000_000))
        hours = draw(st.none() | st.tuples(st.integers(0, 1_439), st.integers(0, 1_439)))
        offers.append(Offer(
            id=offer_id, name=f"offer {offer_id}", reward_kind=kind, reward_value=value,
            priority=draw(st.integers(0, 3)), exclusive=draw(st.booleans()),
            max_uses_per_member=draw(st.none() | st.integers(0, 2)),
            reward_expiry_days=draw(st.integers(1, 30)) if kind == "gift_credit" else None,
            min_amount_rials=draw(st.none() | st.integers(0, 5_000_000)),
            tier_codes=frozenset(draw(st.lists(st.sampled_from(TIER_CODES), max_size=2))),
            weekdays=frozenset(draw(st.lists(st.integers(0, 6), max_size=3))),
            from_minute=hours and hours[0], until_minute=hours and hours[1],
            first_purchase_only=draw(st.booleans()),
        ))
    return offers


@st.composite
def purchases(draw):
    items = draw(st.lists(line_items, max_size=4))
    total = sum(item.quantity * item.unit_price_rials for item in items)
    if items and total == 0:
        items = []
    amount = total if items else draw(st.integers(1, 10_000_000))
    balance = draw(st.integers(0, 5_000_000))
    use_credit = draw(st.sampled_from([USE_ALL_CREDIT, 0]) | st.integers(1, balance + 10))
    member = MemberContext(
        previous_visits=draw(st.integers(0, 3)),
        credit_spent_today_rials=draw(st.integers(0, 3_000_000)),
        offer_uses=draw(st.dictionaries(st.integers(1, 6), st.integers(0, 3))),
    )
    return dict(request=PurchaseRequest(amount, use_credit, balance), tier=draw(capped_tiers),
                club=draw(clubs), member=member, items=items, offers=draw(offer_lists()),
                now=draw(moments))


def components_of(outcome) -> Components:
    return Components(payable_rials=outcome.payable_rials,
                      credit_used_rials=outcome.credit_used_rials,
                      credit_earned_rials=outcome.credit_earned_rials,
                      points_earned=outcome.points_earned)


@given(purchases(), st.lists(st.integers(1, 10**7), max_size=3), st.integers(0, 10**6))
def test_any_purchase_keeps_the_rules(purchase, refund_cuts, points_before):
    request, tier, member = purchase["request"], purchase["tier"], purchase["member"]
    amount, balance, use_credit = (request.amount_rials, request.credit_balance_rials,
                                   request.use_credit_rials)
    caps = [balance]
    if tier.max_credit_per_invoice_rials is not None:
        caps.append(tier.max_credit_per_invoice_rials)
    if tier.max_credit_per_day_rials is not None:
        caps.append(max(0, tier.max_credit_per_day_rials - member.credit_spent_today_rials))
    try:
        outcome = price_purchase(**purchase)
    except InsufficientCredit:
        assert use_credit > balance
        return
    except LimitReached:
        assert balance >= use_credit > min(caps[1:])
        return

    values = (outcome.amount_rials, outcome.discount_rials, outcome.credit_used_rials,
              outcome.payable_rials, outcome.credit_earned_rials, outcome.points_earned,
              outcome.item_discount_rials, outcome.tier_discount_rials,
              outcome.offer_discount_rials, outcome.cashback_rials, outcome.tier_credit_rials,
              outcome.item_credit_rials)
    assert all(type(value) is int and value >= 0 for value in values), values
    assert outcome.payable_rials == amount - outcome.discount_rials - outcome.credit_used_rials
    assert outcome.discount_rials == (outcome.item_discount_rials + outcome.tier_discount_rials
                                      + outcome.offer_discount_rials + outcome.cashback_rials)

    # 1–2. Each line's own discount, then the tier's on what is left, rounded down.
    items = purchase["items"]
    assert outcome.item_discount_rials == sum(
        item.quantity * item.unit_price_rials * item.discount_percent_bp // 10_000
        for item in items)
    after_items = amount - outcome.item_discount_rials
    assert outcome.tier_discount_rials == after_items * tier.discount_percent_bp // 10_000
    due = after_items - outcome.tier_discount_rials - outcome.offer_discount_rials
    assert due >= 0

    # 3. Offers in (priority, id) order; an exclusive one only alone.
    applied = [next(o for o in purchase["offers"] if o.id == a.offer_id)
               for a in outcome.offers]
    assert [(o.priority, o.id) for o in applied] == sorted((o.priority, o.id) for o in applied)
    assert len(applied) == 1 or not any(o.exclusive for o in applied)
    for offer in applied:
        assert offer.runs_at(purchase["now"])
        assert offer.min_amount_rials is None or amount >= offer.min_amount_rials
        assert not offer.tier_codes or tier.code in offer.tier_codes
        assert not offer.first_purchase_only or member.previous_visits == 0
        uses = member.offer_uses.get(offer.id, 0)
        assert offer.max_uses_per_member is None or uses < offer.max_uses_per_member

    # 4. Credit: within the spendable balance and every cap; −1 takes all they allow.
    assert outcome.credit_used_rials <= min(caps)
    assert outcome.credit_used_rials <= due
    if use_credit == USE_ALL_CREDIT:
        assert outcome.credit_used_rials == min([*caps, due])
    else:
        assert outcome.credit_used_rials == min(use_credit, due)

    # 5–7. Tier credit on the payable part (or off it at once), extras, points.
    paid = due - outcome.credit_used_rials
    assert outcome.tier_credit_rials + outcome.cashback_rials == (
        paid * tier.credit_percent_bp // 10_000)
    assert outcome.cashback_rials == 0 or purchase["club"].instant_cashback
    assert outcome.tier_credit_rials == 0 or not purchase["club"].instant_cashback
    assert outcome.credit_earned_rials == (
        outcome.tier_credit_rials
        + sum(item.quantity * item.extra_credit_per_unit_rials for item in items)
        + sum(a.credit_rials for a in outcome.offers))
    weekday = (purchase["now"].astimezone(TEHRAN).weekday() + 2) % 7
    multiplier = purchase["club"].weekday_points_percent[weekday]
    base = amount // tier.point_step_rials * tier.points_per_step + sum(
        item.quantity * item.points_per_unit for item in items)
    assert outcome.points_earned == base * multiplier // 100 + sum(
        a.points for a in outcome.offers)

    # Refunding everything, at once or in parts, puts the member back where they were.
    credit_after = balance - outcome.credit_used_rials + outcome.credit_earned_rials
    points_after = points_before + outcome.points_earned
    original = components_of(outcome)
    assert refund_components(original, amount, 0, amount) == original
    cuts = sorted({cut for cut in refund_cuts if cut < amount}) + [amount]
    refunded = 0
    for cut in cuts:
        back = refund_components(original, amount, refunded, cut - refunded)
        credit_after += back.credit_used_rials - back.credit_earned_rials
        points_after -= back.points_earned
        refunded = cut
    assert (credit_after, points_after) == (balance, points_before)
