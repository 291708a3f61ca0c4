"""Pure loyalty rules: no I/O, no clock reads. See docs/loyalty-rules.md."""

from backend.engine.offers import AppliedOffer, Offer, OfferContext, choose_offers
from backend.engine.refunds import Components, refund_components
from backend.engine.rules import (
    USE_ALL_CREDIT,
    ClubRules,
    LineItem,
    MemberContext,
    PurchaseOutcome,
    PurchaseRequest,
    TierRules,
    points_to_credit,
    price_purchase,
)
from backend.engine.tiers import TierDecision, TierThreshold, decide_tier

__all__ = [
    "USE_ALL_CREDIT",
    "AppliedOffer",
    "ClubRules",
    "Components",
    "LineItem",
    "MemberContext",
    "Offer",
    "OfferContext",
    "PurchaseOutcome",
    "PurchaseRequest",
    "TierDecision",
    "TierRules",
    "TierThreshold",
    "choose_offers",
    "decide_tier",
    "points_to_credit",
    "price_purchase",
    "refund_components",
]
