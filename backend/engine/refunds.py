"""Refunds (full and partial) reverse exactly the share of what the purchase moved.

Each component (payable, credit spent, credit earned, points earned, referral commission)
is refunded in proportion to the amount refunded so far, rounded down, so partial refunds
add up exactly to the full refund: the last one takes the remainder.
"""

from dataclasses import dataclass

from backend.errors import BadRequest


@dataclass(frozen=True)
class Components:
    payable_rials: int
    credit_used_rials: int
    credit_earned_rials: int
    points_earned: int
    commission_rials: int = 0


def share(total: int, amount_rials: int, refunded_before: int, refunding: int) -> int:
    return total * (refunded_before + refunding) // amount_rials - (
        total * refunded_before // amount_rials
    )


def refund_components(
    original: Components, amount_rials: int, refunded_before_rials: int, refund_rials: int
) -> Components:
    """What a refund of `refund_rials` reverses, after `refunded_before_rials` refunded."""
    remaining = amount_rials - refunded_before_rials
    if type(refund_rials) is not int or refund_rials <= 0:
        raise BadRequest("amount", "refund amount must be a positive whole number of rials")
    if refund_rials > remaining:
        raise BadRequest("amount", f"at most {remaining} rials of this purchase are refundable")
    return Components(
        *(
            share(value, amount_rials, refunded_before_rials, refund_rials)
            for value in (
                original.payable_rials,
                original.credit_used_rials,
                original.credit_earned_rials,
                original.points_earned,
                original.commission_rials,
            )
        )
    )
