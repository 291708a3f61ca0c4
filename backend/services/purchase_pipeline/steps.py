"""The purchase pipeline's steps in sequence, for the terminal, the counter and the API
(which calls the counter): load, price, record, reply's inputs. `run` is the one place a
purchase is priced and written (docs/hot-path.md "The pipeline")."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import engine, ledger
from backend.errors import LimitReached
from backend.models import Card, Club, Member, Offer, OfferRedemption, Purchase
from backend.notifications import outbox
from backend.services import tiers, wallet
from backend.services.purchase_pipeline import load, record
from backend.services.purchase_pipeline import rules as rules_memory
from backend.services.purchase_pipeline.price import Pricing

BASIS_POINTS = 10_000


@dataclass(frozen=True)
class ItemRequest:
    sku: str
    quantity: int
    unit_price_rials: int


@dataclass(frozen=True)
class PurchaseResult:
    purchase: Purchase
    offer_names: tuple[str, ...]
    tier_change: tiers.TierChangeResult | None
    # Paying with points (use_points): points converted and the credit they gave, all of
    # it spent on this purchase (part of credit_used).
    points_used: int = 0
    points_credit_rials: int = 0


def run(
    session: Session,
    *,
    member: Member,
    card: Card,
    branch_id: int,
    device_id: str | None,
    idempotency_key: str,
    amount_rials: int,
    use_credit_rials: int,
    offline: bool,
    now: datetime,
    items: Sequence[ItemRequest] = (),
    key_is_new: bool = False,
    use_points: int = 0,
    rules: rules_memory.Rules | None = None,
) -> PurchaseResult:
    """Price and record a purchase for a member locked with `ledger.lock_member`.

    Runs inside the caller's transaction; the caller commits. A key seen before returns
    the purchase recorded under it, changing nothing. `key_is_new`: the caller already
    knows the key was never posted (the terminal found no stored answer for the request
    its key is made of, in this transaction), which saves looking it up; the ledger's
    unique key still refuses a second posting.

    `use_points` (0 none, N points, -1 as many as the rules allow) pays part of it with
    points: they are converted by `wallet.convert_points_locked` (the club's point value
    and minimum, key `<key>:points`) in this transaction, and their credit is spent on
    this purchase before any other credit, within the same credit caps.

    `rules`: `purchase_pipeline.rules.current(session)` if the caller read it in this
    transaction already (the terminal does), which saves reading the version again.
    """
    existing = None if key_is_new else ledger.find_transaction(session, idempotency_key)
    if existing is not None:
        purchase = session.scalars(
            select(Purchase).where(Purchase.ledger_transaction_id == existing.id)
        ).one()
        return PurchaseResult(purchase, _offer_names(session, purchase), None)

    # Club, tiers and offers from the process's memory, checked by one version number in
    # this transaction (purchase_pipeline.rules): never stale, parsed once per edit.
    rules = rules or rules_memory.current(session)
    club = rules.club
    spend_branch = None if club.credit_cross_branch else branch_id
    products, lines = load.items(session, items)
    context = load.member_context(
        session, member, now, spends_credit=use_credit_rials != 0 or use_points != 0,
        counts_offer_uses=not member.is_gift_account and rules.offers_limit_uses)
    pricing = Pricing.of(rules, tier_id=member.tier_id, gift_account=member.is_gift_account,
                         member=context, items=lines, amount_rials=amount_rials, now=now)
    points_used = points_credit = 0
    if use_points:
        points_used, points_credit = _pay_with_points(
            session, club, member, use_points, use_credit_rials, pricing.credit_cap_rials(),
            f"{idempotency_key}:points", now)
        if use_credit_rials != engine.USE_ALL_CREDIT:
            use_credit_rials += points_credit
    outcome = pricing.price(use_credit_rials,
                            ledger.spendable_credit(session, member.id, now, spend_branch))
    movements = record.ledger_movements(outcome, club, branch_id, now)
    transaction = ledger.post(
        session, member=member, idempotency_key=idempotency_key, kind="purchase",
        movements=movements, reason=f"purchase of {outcome.amount_rials:,} rials", now=now,
        spend_branch_id=spend_branch, key_checked=True, caller_writes_balances=True,
    )
    # The member's counters change with its balances (ledger.post left those on the
    # object, unflushed): one prebuilt UPDATE, no flush.
    first_purchase = member.purchase_count == 0
    record.write_member(session, member, outcome.payable_rials, now)
    purchase = record.insert_purchase(session, {
        "member_id": member.id, "card_id": card.id, "branch_id": branch_id,
        "device_id": device_id, "ledger_transaction_id": transaction.id,
        "amount_rials": outcome.amount_rials, "discount_rials": outcome.discount_rials,
        "credit_used_rials": outcome.credit_used_rials, "payable_rials": outcome.payable_rials,
        "credit_earned_rials": outcome.credit_earned_rials,
        "points_earned": outcome.points_earned, "offline": offline,
        "commission_member_id": None, "commission_rials": 0, "refunded_amount_rials": 0,
        "created_at": now,
    })
    if not member.is_gift_account:
        record.insert_happy_call(session, purchase)
    record.insert_lines(session, purchase.id, products, items)
    record.insert_redemptions(session, outcome, member.id, purchase.id, now)
    _reward_referrer(session, club, member, purchase, idempotency_key, first_purchase, now,
                     key_is_new)
    outbox.purchase_thanks(session, member, purchase, now)
    change = tiers.apply_on_purchase(session, club, member, now,
                                     (rules.tiers, rules.thresholds))
    session.flush()
    return PurchaseResult(purchase, tuple(offer.name for offer in outcome.offers), change,
                          points_used, points_credit)


def _pay_with_points(session: Session, club: Club, member: Member, use_points: int,
                     use_credit_rials: int, cap_rials: int, key: str,
                     now: datetime) -> tuple[int, int]:
    """Convert the points a purchase pays with; returns (points, rials of credit).

    -1: as many as the member may spend now whose value fits the credit this purchase
    may still take (its cap, less credit asked for in rials), none below the club's
    minimum. N: exactly N, refused (LimitReached) when their value is over that room."""
    room = cap_rials if use_credit_rials == engine.USE_ALL_CREDIT else max(
        0, cap_rials - use_credit_rials)
    value = club.point_value_rials
    if use_points == engine.USE_ALL_CREDIT:
        if member.is_gift_account or value <= 0:
            return 0, 0
        points = min(ledger.spendable_points(session, member, now), room // value)
        if points <= 0 or points < club.points_min_convert:
            return 0, 0
    else:
        points = use_points
        if engine.points_to_credit(points, value) > room:
            raise LimitReached(f"{points} points are worth more than the "
                               f"{room:,} rials of credit this purchase may take")
    wallet.convert_points_locked(session, member=member, points=points, idempotency_key=key,
                                 now=now, notify=False)
    return points, engine.points_to_credit(points, value)


def _reward_referrer(session, club, member, purchase, key, first_purchase, now,
                     key_is_new=False) -> None:
    """Referrer's commission and first-purchase bonus (L10). Their keys derive from the
    purchase's and are posted only with it, so a new purchase key means new keys here.

    The referrer is locked after the member. Referral chains have no cycles, so locks
    are always taken from referee to referrer: two purchases cannot deadlock."""
    if member.referrer_id is None:
        return
    commission = purchase.payable_rials * club.referral_commission_bp // BASIS_POINTS
    bonus = club.referral_first_purchase_bonus_rials if first_purchase else 0
    if not commission and not bonus:
        return
    referrer = ledger.lock_member(session, member.referrer_id)
    if commission:
        ledger.post(session, member=referrer, idempotency_key=f"{key}:commission",
                    kind="commission", movements=[ledger.Movement("credit", commission)],
                    reason=f"commission on purchase {purchase.id} by member {member.id}",
                    now=now, key_checked=key_is_new)
        purchase.commission_member_id = referrer.id
        purchase.commission_rials = commission
    if bonus:
        ledger.post(session, member=referrer, idempotency_key=f"{key}:referral-first",
                    kind="referral", movements=[ledger.Movement("credit", bonus)],
                    reason=f"member {member.id}'s first purchase", now=now,
                    key_checked=key_is_new)


def _offer_names(session: Session, purchase: Purchase) -> tuple[str, ...]:
    return tuple(session.scalars(
        select(Offer.name).join(OfferRedemption, OfferRedemption.offer_id == Offer.id)
        .where(OfferRedemption.purchase_id == purchase.id).order_by(OfferRedemption.id)
    ))
