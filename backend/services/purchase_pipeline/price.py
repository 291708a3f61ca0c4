"""Step 2 of a purchase, the price: the pure engine (backend/engine) over what the load
step read and the rules kept in memory. Nothing here reads or writes the database."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from backend import engine
from backend.services.purchase_pipeline.rules import Rules

# A credit balance no purchase reaches: pricing with it tells the most credit the rules
# let a purchase take (docs/protocol.md "Paying with points").
MAX_CAP_PROBE_RIALS = 10**15


@dataclass(frozen=True)
class Pricing:
    """Everything the engine prices one purchase with, but the credit asked and held."""

    rules: Rules
    tier_rules: engine.TierRules
    member: engine.MemberContext
    items: Sequence[engine.LineItem]
    offers: Sequence[engine.Offer]
    amount_rials: int
    now: datetime

    @classmethod
    def of(cls, rules: Rules, *, tier_id: int, gift_account: bool,
           member: engine.MemberContext, items: Sequence[engine.LineItem],
           amount_rials: int, now: datetime) -> "Pricing":
        # Gift-card holder accounts earn nothing, offers included (C4).
        return cls(rules, rules.tier_rules(tier_id, gift_account), member, tuple(items),
                   () if gift_account else rules.offers, amount_rials, now)

    def price(self, use_credit_rials: int, balance_rials: int) -> engine.PurchaseOutcome:
        return engine.price_purchase(
            engine.PurchaseRequest(amount_rials=self.amount_rials,
                                   use_credit_rials=use_credit_rials,
                                   credit_balance_rials=balance_rials),
            self.tier_rules, club=self.rules.club_rules, member=self.member,
            items=self.items, offers=self.offers, now=self.now)

    def credit_cap_rials(self) -> int:
        """The most credit this purchase may take by the rules (a balance that is no
        limit): after discounts and offers, within the per-invoice and daily caps."""
        return self.price(engine.USE_ALL_CREDIT, MAX_CAP_PROBE_RIALS).credit_used_rials
