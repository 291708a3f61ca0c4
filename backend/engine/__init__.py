"""Pure loyalty rules: no I/O, no clock reads. See docs/loyalty-rules.md."""

from backend.engine.rules import (
    USE_ALL_CREDIT,
    PurchaseOutcome,
    PurchaseRequest,
    TierRules,
    points_to_credit,
    price_purchase,
)

__all__ = [
    "USE_ALL_CREDIT",
    "PurchaseOutcome",
    "PurchaseRequest",
    "TierRules",
    "points_to_credit",
    "price_purchase",
]
