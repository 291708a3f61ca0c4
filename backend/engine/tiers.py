"""Tier upgrade and downgrade (L2, L3).

A tier's thresholds are met by a member's spend (payable rials) and purchase count over
the club's rolling window. The member belongs in the highest-ranked tier whose thresholds
are met; the lowest-ranked tier needs none. On a purchase members only move up (nobody is
downgraded at the till); the nightly job moves them both ways.
"""

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class TierThreshold:
    code: str
    rank: int
    min_spend_rials: int = 0
    min_purchases: int = 0
    # "all": every non-zero threshold must be met; "any": one is enough.
    mode: str = "all"

    def __post_init__(self):
        assert self.mode in ("all", "any")
        assert self.min_spend_rials >= 0 and self.min_purchases >= 0

    def is_met(self, spend_rials: int, purchases: int) -> bool:
        checks = []
        if self.min_spend_rials:
            checks.append(spend_rials >= self.min_spend_rials)
        if self.min_purchases:
            checks.append(purchases >= self.min_purchases)
        if not checks:
            return True
        return all(checks) if self.mode == "all" else any(checks)


@dataclass(frozen=True)
class TierDecision:
    code: str
    reason: str


def decide_tier(
    tiers: Sequence[TierThreshold],
    current_code: str,
    spend_rials: int,
    purchases: int,
    window_days: int,
    allow_downgrade: bool,
) -> TierDecision | None:
    """The tier the member should move to, with the reason; None to stay."""
    assert tiers, "a club has at least one tier"
    by_code = {tier.code: tier for tier in tiers}
    current = by_code[current_code]
    qualifying = max(
        (tier for tier in tiers if tier.is_met(spend_rials, purchases)),
        key=lambda tier: tier.rank,
        default=min(tiers, key=lambda tier: tier.rank),
    )
    if qualifying.rank == current.rank:
        return None
    if qualifying.rank < current.rank and not allow_downgrade:
        return None
    direction = "upgrade" if qualifying.rank > current.rank else "downgrade"
    return TierDecision(
        qualifying.code,
        f"{direction}: {spend_rials:,} rials in {purchases} purchases over {window_days} days",
    )
