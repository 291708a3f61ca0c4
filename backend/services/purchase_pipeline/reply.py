"""Step 4 of a purchase, the reply: the `tx` object a terminal's answer carries and the
counter's summary shows (docs/protocol.md "Responses"). Its keys and their order are
the protocol's: the answers' bytes are checked by the protocol's vectors."""


def of_purchase(purchase, offer_names, tier_up: str | None = None,
                points: tuple[int, int] | None = None) -> dict:
    """The `tx` of a recorded purchase. `points`: (points used, their credit) when the
    purchase asked to pay with points; only then are they in the reply, so the answers
    to other purchases keep their bytes."""
    tx = {
        "amount": purchase.amount_rials,
        "discount": purchase.discount_rials,
        "credit_used": purchase.credit_used_rials,
        "payable": purchase.payable_rials,
        "credit_earned": purchase.credit_earned_rials,
        "points_earned": purchase.points_earned,
        "offers": list(offer_names),
    }
    if points is not None:
        tx["points_used"], tx["points_credit"] = points
    if tier_up is not None:
        tx["tier_up"] = tier_up
    return tx
