"""Tier changes (L2, L3): on each purchase (upward only) and nightly (both ways)."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Numeric, bindparam, cast, func, select
from sqlalchemy.orm import Session

from backend import engine, ledger
from backend.models import Club, Member, Purchase, Tier, TierChange, the_club
from backend.notifications import outbox
from backend.unit_of_work import SYSTEM, unit_of_work


@dataclass(frozen=True)
class TierChangeResult:
    member_id: int
    from_code: str
    to_code: str
    reason: str


def thresholds(session: Session) -> tuple[list[Tier], list[engine.TierThreshold]]:
    rows = list(session.scalars(_ALL_TIERS))
    return rows, [
        engine.TierThreshold(code=row.code, rank=row.rank, min_spend_rials=row.min_spend_rials,
                             min_purchases=row.min_purchases, mode=row.qualify_mode)
        for row in rows
    ]


def window_totals(session: Session, member_id: int, now: datetime, days: int) -> tuple[int, int]:
    """(payable spend net of refunds, purchases) over the rolling window."""
    spend, count = session.execute(
        _WINDOW_TOTALS, {"member_key": member_id, "since": now - timedelta(days=days)}
    ).one()
    return int(spend), int(count)


# Built once: this runs after every purchase (docs/hot-path.md).
_WINDOW_TOTALS = select(
    func.coalesce(func.sum(
        # NUMERIC before multiplying: two amounts' product overflows BIGINT.
        Purchase.payable_rials
        - cast(Purchase.payable_rials, Numeric) * Purchase.refunded_amount_rials
        / Purchase.amount_rials
    ), 0),
    func.count(Purchase.id),
).where(Purchase.member_id == bindparam("member_key"), Purchase.created_at > bindparam("since"),
        Purchase.refunded_amount_rials < Purchase.amount_rials)
_ALL_TIERS = select(Tier).order_by(Tier.rank)


def _apply(session, club, member, now, allow_downgrade,
           known_thresholds=None) -> TierChangeResult | None:
    if member.is_gift_account:
        return None
    rows, rules = known_thresholds or thresholds(session)
    # The member's tier from the rows at hand (ORM tiers or the pipeline's kept rows):
    # member.tier would load it when the rows are not in this session.
    tier = next(row for row in rows if row.id == member.tier_id)
    if not allow_downgrade and tier.rank >= max(row.rank for row in rows):
        return None  # already at the top: a purchase can only move a member up
    spend, count = window_totals(session, member.id, now, club.tier_window_days)
    decision = engine.decide_tier(rules, tier.code, spend, count,
                                  club.tier_window_days, allow_downgrade)
    if decision is None:
        return None
    target = next(row for row in rows if row.code == decision.code)
    result = TierChangeResult(member.id, tier.code, target.code, decision.reason)
    change = TierChange(member_id=member.id, from_tier_id=member.tier_id,
                        to_tier_id=target.id, reason=decision.reason, created_at=now)
    session.add(change)
    upgrade = target.rank > tier.rank
    member.tier_id = target.id
    session.flush()
    session.refresh(member, ["tier"])
    if upgrade:
        outbox.tier_upgrade(session, member, {"fa": target.name_fa or target.name,
                                              "en": target.name}, change.id, now)
    return result


def apply_on_purchase(
    session: Session, club: Club, member: Member, now: datetime,
    known_thresholds: tuple[list[Tier], list[engine.TierThreshold]] | None = None,
) -> TierChangeResult | None:
    """Upgrade a locked member right after a purchase, if its thresholds are now met
    (`known_thresholds`: `thresholds(session)` read earlier in this transaction)."""
    return _apply(session, club, member, now, allow_downgrade=False,
                  known_thresholds=known_thresholds)


def evaluate_all(session: Session, now: datetime) -> list[TierChangeResult]:
    """The nightly job: move every member to the tier their window earns, up or down.

    Idempotent: a second run the same day finds nothing to change. One unit of work."""
    with unit_of_work(session, SYSTEM):
        club = the_club(session)
        changes = []
        member_ids = session.scalars(
            select(Member.id).where(Member.is_gift_account.is_(False)).order_by(Member.id)
        ).all()
        for member_id in member_ids:
            member = ledger.lock_member(session, member_id)
            change = _apply(session, club, member, now, allow_downgrade=True)
            if change is not None:
                changes.append(change)
    return changes
