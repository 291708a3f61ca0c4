"""What a member's balances are made of: every ledger transaction with its credit and
points movement and reason, and where they stand against the next tier. Shared by the
staff panel and the member portal, so both tell the same story."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from backend.models import Club, LedgerEntry, LedgerTransaction, Member, Tier
from backend.services import tiers as tier_service


def history_statement(member_id: int):
    """A select of (id, created_at, kind, reason, credit, points), newest first."""
    credit = func.coalesce(func.sum(LedgerEntry.amount).filter(LedgerEntry.account == "credit"),
                           0)
    points = func.coalesce(func.sum(LedgerEntry.amount).filter(LedgerEntry.account == "points"),
                           0)
    return (
        select(LedgerTransaction.id, LedgerTransaction.created_at, LedgerTransaction.kind,
               LedgerTransaction.reason, credit.label("credit"), points.label("points"))
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .where(LedgerTransaction.member_id == member_id)
        .group_by(LedgerTransaction.id, LedgerTransaction.created_at, LedgerTransaction.kind,
                  LedgerTransaction.reason)
        .order_by(LedgerTransaction.created_at.desc(), LedgerTransaction.id.desc()))


def history_lines_statement(member_id: int):
    """Like `history_statement`, with a line per direction of each transaction (issue 18
    item 6): a purchase that spent credit and earned some shows the spend ("out") and
    the earnings ("in": credit back, points) as two lines. Columns (id, created_at, kind,
    reason, direction, credit, points), newest first, a transaction's "out" first."""
    direction = case((LedgerEntry.amount < 0, "out"), else_="in")
    credit = func.coalesce(func.sum(LedgerEntry.amount).filter(LedgerEntry.account == "credit"),
                           0)
    points = func.coalesce(func.sum(LedgerEntry.amount).filter(LedgerEntry.account == "points"),
                           0)
    return (
        select(LedgerTransaction.id, LedgerTransaction.created_at, LedgerTransaction.kind,
               LedgerTransaction.reason, direction.label("direction"), credit.label("credit"),
               points.label("points"))
        .join(LedgerEntry, LedgerEntry.transaction_id == LedgerTransaction.id)
        .where(LedgerTransaction.member_id == member_id, LedgerEntry.amount != 0)
        .group_by(LedgerTransaction.id, LedgerTransaction.created_at, LedgerTransaction.kind,
                  LedgerTransaction.reason, direction)
        .order_by(LedgerTransaction.created_at.desc(), LedgerTransaction.id.desc(),
                  direction.desc()))


@dataclass(frozen=True)
class TierProgress:
    current: Tier
    next: Tier | None
    spend_rials: int
    purchases: int
    spend_needed_rials: int
    purchases_needed: int
    window_days: int

    @property
    def percent(self) -> int:
        """How far along the next tier's spend threshold (0–100), for a progress bar."""
        if self.next is None or self.next.min_spend_rials <= 0:
            return 100
        return min(100, self.spend_rials * 100 // self.next.min_spend_rials)


def tier_progress(session: Session, member: Member, now: datetime) -> TierProgress:
    club = session.get(Club, 1)
    window_days = club.tier_window_days if club else 365
    spend, count = tier_service.window_totals(session, member.id, now, window_days)
    higher = session.scalars(select(Tier).where(Tier.rank > member.tier.rank)
                             .order_by(Tier.rank).limit(1)).first()
    spend_needed = max(0, higher.min_spend_rials - spend) if higher else 0
    purchases_needed = max(0, higher.min_purchases - count) if higher else 0
    return TierProgress(member.tier, higher, spend, count, spend_needed, purchases_needed,
                        window_days)
