"""The rewards catalogue (L1): members spend points on a product, a fixed discount
(credit in the wallet) or a gift card, in the portal, at the counter or through the API.

One redemption is one database transaction: the member's points leave through the
ledger (soonest-expiring first), the reward's stock (and a product's) goes down by one
in the same transaction with a guarded UPDATE — two members taking the last item cannot
both get it — and the redemption row records who, what and through which channel.
Idempotent by key: a repeated key returns the first redemption.
"""

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from backend import ledger
from backend.errors import BadRequest, InsufficientBalance
from backend.models import Product, Reward, RewardRedemption
from backend.notifications import outbox
from backend.services import card_lifecycle
from backend.unit_of_work import Actor, is_staff, unit_of_work

CHANNELS = ("portal", "counter", "api")


def available(session: Session) -> list[Reward]:
    """Active rewards still in stock, cheapest first."""
    return list(session.scalars(
        select(Reward).where(Reward.is_active, or_(Reward.stock.is_(None), Reward.stock > 0))
        .order_by(Reward.points_cost, Reward.id)))


def _take_one(session: Session, model, row_id: int) -> bool:
    """Stock minus one unless it is tracked and gone; False when nothing was left."""
    result = session.execute(
        update(model).where(model.id == row_id, or_(model.stock.is_(None), model.stock > 0))
        .values(stock=model.stock - 1).execution_options(synchronize_session=False))
    return result.rowcount == 1


def redeem(session: Session, *, actor: Actor, member_id: int, reward_id: int, channel: str,
           idempotency_key: str, now: datetime, staff_user_id: int | None = None,
           gift_card_number: str | None = None) -> RewardRedemption:
    """Spend the reward's points for the member; commits, or rolls back and raises."""
    assert channel in CHANNELS, channel
    with unit_of_work(session, actor) as work:
        redemption = _redeem(session, member_id, reward_id, channel, idempotency_key, now,
                             staff_user_id, gift_card_number)
        if is_staff(work.actor):
            work.audit("redeem_reward", "member", member_id, {"reward_id": reward_id})
    return redemption


def _redeem(session, member_id, reward_id, channel, idempotency_key, now, staff_user_id,
            gift_card_number) -> RewardRedemption:
    member = ledger.lock_member(session, member_id)
    existing = ledger.find_transaction(session, idempotency_key)
    if existing is not None:
        earlier = session.scalars(select(RewardRedemption).where(
            RewardRedemption.ledger_transaction_id == existing.id)).one_or_none()
        if earlier is None or (earlier.member_id, earlier.reward_id) != (member_id, reward_id):
            raise BadRequest("idempotency_key", "Already used for something else.")
        return earlier
    reward = session.get(Reward, reward_id)
    if reward is None or not reward.is_active:
        raise BadRequest("reward", "No such reward.")
    if member.is_gift_account:
        raise BadRequest("member", "Gift cards have no points.")
    spendable = ledger.spendable_points(session, member, now)
    if spendable < reward.points_cost:
        raise InsufficientBalance("Not enough points.")
    if reward.kind == "gift_card" and channel == "portal":
        raise BadRequest("reward", "A gift card is handed over at the counter.")
    if reward.kind == "gift_card" and not gift_card_number:
        raise BadRequest("gift_card_number", "Scan or type the gift card's number.")
    if not _take_one(session, Reward, reward.id):
        raise BadRequest("reward", "This reward is out of stock.")
    if reward.kind == "product" and reward.product_id is not None and not _take_one(
            session, Product, reward.product_id):
        raise BadRequest("reward", "This reward is out of stock.")
    credit = reward.value_rials if reward.kind == "discount" else 0
    transaction = ledger.post(
        session, member=member, idempotency_key=idempotency_key, kind="reward",
        movements=[ledger.Movement("points", -reward.points_cost),
                   ledger.Movement("credit", credit)],
        reason=f"reward {reward.id} for {reward.points_cost} points", now=now,
        key_checked=True)
    gift_card_id = None
    if reward.kind == "gift_card":
        card = card_lifecycle.issue_gift_card_locked(
            session, card_number=gift_card_number, value_rials=reward.value_rials,
            expires_at=now + timedelta(days=reward.valid_days or 365), now=now)
        gift_card_id = card.id
    if credit:
        outbox.credit_increase(session, member, credit, idempotency_key, now)
    status = "to_collect" if reward.kind == "product" and channel != "counter" else "done"
    redemption = RewardRedemption(
        reward_id=reward.id, member_id=member.id, ledger_transaction_id=transaction.id,
        points=reward.points_cost, credit_rials=credit, channel=channel, status=status,
        staff_user_id=staff_user_id, gift_card_id=gift_card_id, created_at=now)
    session.add(redemption)
    session.flush()
    return redemption


def hand_over(session: Session, *, actor: Actor, redemption_id: int, member_id: int,
              staff_user_id: int, now: datetime) -> RewardRedemption:
    """The counter gives a product redeemed in the portal to its member."""
    with unit_of_work(session, actor) as work:
        redemption = session.get(RewardRedemption, redemption_id)
        if redemption is None or redemption.member_id != member_id:
            raise BadRequest("redemption", "No such redemption.")
        if redemption.status == "to_collect":
            redemption.status = "done"
            redemption.collected_at = now
            redemption.staff_user_id = staff_user_id
        if is_staff(work.actor):
            work.audit("hand_over_reward", "member", member_id,
                       {"redemption_id": redemption_id})
    return redemption


def of_member(session: Session, member_id: int, limit: int = 20) -> list[RewardRedemption]:
    return list(session.scalars(
        select(RewardRedemption).where(RewardRedemption.member_id == member_id)
        .order_by(RewardRedemption.id.desc()).limit(limit)))
