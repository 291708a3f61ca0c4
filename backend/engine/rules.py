"""Loyalty engine v1: tier discount, spending credit, earning credit and points.

Order of a purchase (docs/loyalty-rules.md):
1. tier discount on the amount, rounded down;
2. credit spent, at most the balance and at most what is left to pay;
3. payable = amount − discount − credit used;
4. credit earned = tier credit % of the payable part (credit is not earned on credit);
5. points earned = points per step for each whole step of the amount.
All amounts are integer rials; every division rounds down in the club's favour.
"""

from dataclasses import dataclass

from backend.errors import BadRequest, InsufficientCredit

BASIS_POINTS = 10_000
# `use_credit` value meaning "as much as the rules allow" (PROTOCOL.md).
USE_ALL_CREDIT = -1


@dataclass(frozen=True)
class TierRules:
    credit_percent_bp: int
    discount_percent_bp: int
    points_per_step: int
    point_step_rials: int

    def __post_init__(self):
        assert 0 <= self.credit_percent_bp <= BASIS_POINTS
        assert 0 <= self.discount_percent_bp <= BASIS_POINTS
        assert self.points_per_step >= 0
        assert self.point_step_rials > 0


@dataclass(frozen=True)
class PurchaseRequest:
    amount_rials: int
    use_credit_rials: int
    credit_balance_rials: int


@dataclass(frozen=True)
class PurchaseOutcome:
    amount_rials: int
    discount_rials: int
    credit_used_rials: int
    payable_rials: int
    credit_earned_rials: int
    points_earned: int


def price_purchase(request: PurchaseRequest, tier: TierRules) -> PurchaseOutcome:
    """Price one purchase for a member of `tier`. Raises on a request the rules refuse."""
    if type(request.amount_rials) is not int or request.amount_rials <= 0:
        raise BadRequest("amount", "amount must be a positive whole number of rials")
    if type(request.use_credit_rials) is not int or request.use_credit_rials < USE_ALL_CREDIT:
        raise BadRequest("use_credit", "use_credit must be 0, a positive amount or -1")
    assert request.credit_balance_rials >= 0, "a credit balance is never negative"

    discount = request.amount_rials * tier.discount_percent_bp // BASIS_POINTS
    due = request.amount_rials - discount
    if request.use_credit_rials == USE_ALL_CREDIT:
        credit_used = min(request.credit_balance_rials, due)
    else:
        if request.use_credit_rials > request.credit_balance_rials:
            raise InsufficientCredit(request.credit_balance_rials)
        credit_used = min(request.use_credit_rials, due)
    payable = due - credit_used
    credit_earned = payable * tier.credit_percent_bp // BASIS_POINTS
    points = request.amount_rials // tier.point_step_rials * tier.points_per_step

    outcome = PurchaseOutcome(
        amount_rials=request.amount_rials,
        discount_rials=discount,
        credit_used_rials=credit_used,
        payable_rials=payable,
        credit_earned_rials=credit_earned,
        points_earned=points,
    )
    assert outcome.payable_rials + outcome.discount_rials + outcome.credit_used_rials == (
        outcome.amount_rials
    )
    assert 0 <= outcome.credit_used_rials <= request.credit_balance_rials
    return outcome


def points_to_credit(points: int, point_value_rials: int) -> int:
    """Rials of credit `points` convert to at the club's point value (L1)."""
    if points < 0 or point_value_rials < 0:
        raise BadRequest("points", "points and point value cannot be negative")
    return points * point_value_rials
