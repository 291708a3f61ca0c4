"""Pricing a purchase: discounts, offers, credit spent, credit and points earned.

The order (docs/loyalty-rules.md, "Order of a purchase"):
1. product (line item) discounts;
2. tier discount on what is left;
3. offers, in (priority, id) order, each on the running amount due;
4. credit spent — at most the spendable balance, the tier's per-invoice and per-day
   caps, and what is due;
5. instant cashback (when the club gives the tier's credit as an immediate discount);
6. payable = amount − all discounts − credit spent;
7. earned: tier credit % of the payable part, products' extra credit, offers' bonus and
   gift credit; points per step of the amount plus products' points, times the
   weekday multiplier, plus offers' bonus points.
All amounts are integer rials; every division rounds down, in the club's favour.
No I/O, no clock: `now` is an argument.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from backend.engine.calendar import iranian_weekday
from backend.engine.offers import AppliedOffer, Offer, OfferContext, choose_offers
from backend.errors import BadRequest, CreditCapReached, InsufficientCredit
from backend.validators import items_add_up

BASIS_POINTS = 10_000
PERCENT = 100
# `use_credit` value meaning "as much as the rules allow" (PROTOCOL.md).
USE_ALL_CREDIT = -1


@dataclass(frozen=True)
class TierRules:
    credit_percent_bp: int
    discount_percent_bp: int
    points_per_step: int
    point_step_rials: int
    max_credit_per_invoice_rials: int | None = None
    max_credit_per_day_rials: int | None = None
    code: str = ""

    def __post_init__(self):
        assert 0 <= self.credit_percent_bp <= BASIS_POINTS
        assert 0 <= self.discount_percent_bp <= BASIS_POINTS
        assert self.points_per_step >= 0
        assert self.point_step_rials > 0
        assert self.max_credit_per_invoice_rials is None or self.max_credit_per_invoice_rials >= 0
        assert self.max_credit_per_day_rials is None or self.max_credit_per_day_rials >= 0


@dataclass(frozen=True)
class ClubRules:
    # Points multiplier per Iranian weekday (Saturday first), in percent: 200 = double.
    weekday_points_percent: tuple[int, ...] = (PERCENT,) * 7
    # L8: give the tier's credit % as a discount on this purchase instead of as credit.
    instant_cashback: bool = False

    def __post_init__(self):
        assert len(self.weekday_points_percent) == 7
        assert all(0 <= value <= 10 * PERCENT for value in self.weekday_points_percent)


@dataclass(frozen=True)
class LineItem:
    sku: str
    quantity: int
    unit_price_rials: int
    points_per_unit: int = 0
    discount_percent_bp: int = 0
    extra_credit_per_unit_rials: int = 0


@dataclass(frozen=True)
class MemberContext:
    """What the rules need to know about the member, read by the service."""

    previous_visits: int = 0
    last_visit_at: datetime | None = None
    birth_date: date | None = None
    wedding_date: date | None = None
    credit_spent_today_rials: int = 0
    offer_uses: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class PurchaseRequest:
    amount_rials: int
    use_credit_rials: int
    # What the member may spend here (the branch policy may exclude some credit).
    credit_balance_rials: int


@dataclass(frozen=True)
class PurchaseOutcome:
    amount_rials: int
    discount_rials: int  # every discount together: products, tier, offers, cashback
    credit_used_rials: int
    payable_rials: int
    credit_earned_rials: int  # every credit earned together, gift credit included
    points_earned: int
    item_discount_rials: int = 0
    tier_discount_rials: int = 0
    offer_discount_rials: int = 0
    cashback_rials: int = 0
    tier_credit_rials: int = 0
    item_credit_rials: int = 0
    offers: tuple[AppliedOffer, ...] = ()

    @property
    def gift_credit(self) -> tuple[tuple[int, int], ...]:
        """(rials, expiry days) of each offer's expiring gift credit."""
        return tuple(
            (offer.credit_rials, offer.credit_expiry_days)
            for offer in self.offers
            if offer.credit_rials and offer.credit_expiry_days is not None
        )


def _check_whole(name: str, value, minimum: int) -> None:
    if type(value) is not int or value < minimum:
        raise BadRequest(name, f"must be a whole number of at least {minimum}")


def price_purchase(
    request: PurchaseRequest,
    tier: TierRules,
    *,
    club: ClubRules | None = None,
    member: MemberContext | None = None,
    items: Sequence[LineItem] = (),
    offers: Sequence[Offer] = (),
    now: datetime | None = None,
) -> PurchaseOutcome:
    """Price one purchase. Raises BadRequest, InsufficientCredit or CreditCapReached."""
    club = club or ClubRules()
    member = member or MemberContext()
    if type(request.amount_rials) is not int or request.amount_rials <= 0:
        raise BadRequest("amount", "amount must be a positive whole number of rials")
    if type(request.use_credit_rials) is not int or request.use_credit_rials < USE_ALL_CREDIT:
        raise BadRequest("use_credit", "use_credit must be 0, a positive amount or -1")
    assert request.credit_balance_rials >= 0, "a credit balance is never negative"
    if (offers or any(club.weekday_points_percent[d] != PERCENT for d in range(7))) and (
        now is None
    ):
        raise AssertionError("offers and weekday multipliers need `now`")
    amount = request.amount_rials

    # 1. Products.
    for index, item in enumerate(items):
        _check_whole(f"items[{index}].quantity", item.quantity, 1)
        _check_whole(f"items[{index}].unit_price", item.unit_price_rials, 0)
    if items and not items_add_up(amount, ((item.quantity, item.unit_price_rials)
                                           for item in items)):
        raise BadRequest("items", "item totals do not add up to amount")
    item_discount = sum(
        item.quantity * item.unit_price_rials * item.discount_percent_bp // BASIS_POINTS
        for item in items
    )
    due = amount - item_discount

    # 2. Tier.
    tier_discount = due * tier.discount_percent_bp // BASIS_POINTS
    due -= tier_discount

    # 3. Offers.
    applied: list[AppliedOffer] = []
    if offers:
        context = OfferContext(
            now=now,
            amount_rials=amount,
            tier_code=tier.code,
            visit_number=member.previous_visits + 1,
            last_visit_at=member.last_visit_at,
            birth_date=member.birth_date,
            wedding_date=member.wedding_date,
            offer_uses=member.offer_uses,
        )
        for offer in choose_offers(offers, context):
            reward = offer.reward(due)
            due -= reward.discount_rials
            applied.append(reward)
    offer_discount = sum(offer.discount_rials for offer in applied)
    assert due >= 0

    # 4. Credit.
    cap = due
    cap_reason = None
    if tier.max_credit_per_invoice_rials is not None and tier.max_credit_per_invoice_rials < cap:
        cap, cap_reason = tier.max_credit_per_invoice_rials, "per-invoice"
    if tier.max_credit_per_day_rials is not None:
        left_today = max(0, tier.max_credit_per_day_rials - member.credit_spent_today_rials)
        if left_today < cap:
            cap, cap_reason = left_today, "daily"
    if request.use_credit_rials == USE_ALL_CREDIT:
        credit_used = min(request.credit_balance_rials, cap)
    else:
        if request.use_credit_rials > request.credit_balance_rials:
            raise InsufficientCredit(request.credit_balance_rials)
        if request.use_credit_rials > cap and cap_reason is not None:
            raise CreditCapReached(cap_reason, cap)
        credit_used = min(request.use_credit_rials, due)
    due -= credit_used

    # 5–6. Cashback and payable.
    tier_credit = due * tier.credit_percent_bp // BASIS_POINTS
    cashback = 0
    if club.instant_cashback:
        cashback, tier_credit = tier_credit, 0
    payable = due - cashback

    # 7. Earnings.
    item_credit = sum(item.quantity * item.extra_credit_per_unit_rials for item in items)
    base_points = amount // tier.point_step_rials * tier.points_per_step
    base_points += sum(item.quantity * item.points_per_unit for item in items)
    multiplier = club.weekday_points_percent[iranian_weekday(now)] if now else PERCENT
    points = base_points * multiplier // PERCENT + sum(offer.points for offer in applied)
    credit_earned = tier_credit + item_credit + sum(offer.credit_rials for offer in applied)

    discount = item_discount + tier_discount + offer_discount + cashback
    outcome = PurchaseOutcome(
        amount_rials=amount,
        discount_rials=discount,
        credit_used_rials=credit_used,
        payable_rials=payable,
        credit_earned_rials=credit_earned,
        points_earned=points,
        item_discount_rials=item_discount,
        tier_discount_rials=tier_discount,
        offer_discount_rials=offer_discount,
        cashback_rials=cashback,
        tier_credit_rials=tier_credit,
        item_credit_rials=item_credit,
        offers=tuple(applied),
    )
    assert outcome.payable_rials + outcome.discount_rials + outcome.credit_used_rials == amount
    assert 0 <= outcome.credit_used_rials <= request.credit_balance_rials
    assert outcome.payable_rials >= 0
    return outcome


def points_to_credit(points: int, point_value_rials: int) -> int:
    """Rials of credit `points` convert to at the club's point value (L1)."""
    if type(points) is not int or points < 0 or point_value_rials < 0:
        raise BadRequest("points", "points and point value must be whole and not negative")
    return points * point_value_rials
