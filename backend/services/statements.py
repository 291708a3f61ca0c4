"""What a member's balances are made of: every ledger transaction with its credit and
points movement and reason, and where they stand against the next tier. Shared by the
staff panel and the member portal, so both tell the same story."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from backend.models import (
    CreditTransfer,
    LedgerEntry,
    LedgerTransaction,
    Member,
    Tier,
    the_club,
)
from backend.services import tiers as tier_service

TRANSFER_KINDS = ("transfer-in", "transfer-out")


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


def masked_name(first_name: str | None, last_name: str | None) -> str:
    """Each word's first letter and three stars: `سارا احمدی` → `س*** ا***`; a transfer's
    other party is named this way, enough to recognise a friend, not to learn a name."""
    words = f"{first_name or ''} {last_name or ''}".replace("\u200c", " ").split()
    return " ".join(f"{word[0]}***" for word in words) or "***"


def transfer_parties(session: Session, rows) -> dict[int, str]:
    """For the transfer rows among history rows (`id`, `kind`): ledger transaction id →
    the other member's masked name. Three queries for a page, whatever its length."""
    ids = [row.id for row in rows if row.kind in TRANSFER_KINDS]
    if not ids:
        return {}
    keys = dict(session.execute(select(LedgerTransaction.id, LedgerTransaction.idempotency_key)
                                .where(LedgerTransaction.id.in_(ids))).all())
    # The service posts `<key>:out` for the sender and `<key>:in` for the receiver; the
    # transfer row points at the outgoing one.
    outgoing_key = {tx: key.rsplit(":", 1)[0] + ":out" for tx, key in keys.items()}
    outgoing = LedgerTransaction.__table__.alias("outgoing")
    found = session.execute(
        select(outgoing.c.idempotency_key, CreditTransfer.from_member_id,
               CreditTransfer.to_member_id)
        .join(CreditTransfer, CreditTransfer.ledger_transaction_id == outgoing.c.id)
        .where(outgoing.c.idempotency_key.in_(set(outgoing_key.values())))).all()
    by_key = {key: (sender, receiver) for key, sender, receiver in found}
    others = {}
    for tx, key in outgoing_key.items():
        if key in by_key:
            sender, receiver = by_key[key]
            others[tx] = receiver if keys[tx].endswith(":out") else sender
    names = {member_id: masked_name(first, last) for member_id, first, last in session.execute(
        select(Member.id, Member.first_name, Member.last_name)
        .where(Member.id.in_(set(others.values()))))}
    return {tx: names[member_id] for tx, member_id in others.items() if member_id in names}


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
    club = the_club(session)
    window_days = club.tier_window_days if club else 365
    spend, count = tier_service.window_totals(session, member.id, now, window_days)
    higher = session.scalars(select(Tier).where(Tier.rank > member.tier.rank)
                             .order_by(Tier.rank).limit(1)).first()
    spend_needed = max(0, higher.min_spend_rials - spend) if higher else 0
    purchases_needed = max(0, higher.min_purchases - count) if higher else 0
    return TierProgress(member.tier, higher, spend, count, spend_needed, purchases_needed,
                        window_days)
