"""Card lifecycle (C3) and gift cards (C4)."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.errors import BadRequest, CardUnknown
from backend.models import Card, Member, Tier
from backend.services import cards
from backend.unit_of_work import Actor, is_staff, unit_of_work

_card_number = cards.card_number


def report_lost_card(session: Session, *, actor: Actor, card_number: str,
                     now: datetime) -> Card:
    """Block a card at once: the next scan at any terminal answers CARD_BLOCKED."""
    with unit_of_work(session, actor) as work:
        number = _card_number(card_number)
        card = session.scalars(select(Card).where(Card.number == number)).one_or_none()
        if card is None or card.member_id is None:
            raise CardUnknown(f"no member has card …{number[-4:]}")
        card.status = "blocked"
        if is_staff(work.actor):
            work.audit("block_card", "card", number[-4:], {"member_id": card.member_id})
    return card


def issue_replacement(session: Session, *, actor: Actor, member_id: int,
                      new_card_number: str, now: datetime, lost_card_number: str = "") -> Card:
    """Give a member a new card. Balance, tier and history belong to the member, not the
    card, so they carry over whole; every other card of the member is blocked.
    `lost_card_number` is the card the member reported, for the audit row only."""
    with unit_of_work(session, actor) as work:
        number = _card_number(new_card_number, "new_card")
        member = ledger.lock_member(session, member_id)
        card = cards.card_to_assign(session, number, field="new_card")
        for old in member.cards:
            old.status = "blocked"
        cards.assign(card, member.id, now)
        if is_staff(work.actor):
            work.audit("replace_card", "member", member_id,
                       {"lost": lost_card_number[-4:], "new": new_card_number[-4:]})
    return card


def issue_gift_card(session: Session, *, actor: Actor, card_number: str, value_rials: int,
                    expires_at: datetime, now: datetime) -> Card:
    """A gift card with prepaid credit that expires (C4). Its holder account spends the
    credit at any terminal like a member's, and earns nothing."""
    with unit_of_work(session, actor) as work:
        card = issue_gift_card_locked(session, card_number=card_number,
                                      value_rials=value_rials, expires_at=expires_at, now=now)
        if is_staff(work.actor):
            work.audit("issue_gift_card", "card", card_number[-4:], {"value_rials": value_rials})
    return card


def issue_gift_card_locked(session: Session, *, card_number: str, value_rials: int,
                           expires_at: datetime, now: datetime) -> Card:
    """`issue_gift_card` in the caller's transaction (a reward bought with points)."""
    number = _card_number(card_number)
    if type(value_rials) is not int or value_rials <= 0:
        raise BadRequest("value", "must be a positive whole number of rials")
    if expires_at <= now:
        raise BadRequest("expires_at", "the expiry must be in the future")
    card = cards.card_to_assign(session, number, field="card")
    lowest = session.scalars(select(Tier).order_by(Tier.rank).limit(1)).one()
    holder = Member(first_name="Gift card", last_name=number[-4:], mobile=None,
                    tier_id=lowest.id, is_gift_account=True, joined_at=now)
    session.add(holder)
    session.flush()
    cards.assign(card, holder.id, now)
    ledger.post(session, member=ledger.lock_member(session, holder.id),
                idempotency_key=f"gift-card:{number}", kind="gift-card",
                movements=[ledger.Movement("credit", value_rials, expires_at=expires_at)],
                reason=f"gift card …{number[-4:]}", now=now)
    return card
