"""Step 3 of a purchase, the record: what a priced purchase writes besides the ledger
posting, with statements built once and run on the session's connection — the rows are
never read back as objects in the transaction, so no unit-of-work flush plans them."""

from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value

from backend import engine, ledger
from backend.errors import BadRequest
from backend.models import (
    CallTask,
    Member,
    OfferRedemption,
    Product,
    Purchase,
    PurchaseItem,
)
from backend.services import happy_calls, wallet

_PURCHASES = Purchase.__table__
_PRODUCTS = Product.__table__
_MEMBERS = Member.__table__
# What a purchase changes of its member: the balances ledger.post left on the object and
# the counters, in one UPDATE.
_MEMBER_AFTER_PURCHASE = ("credit_balance_rials", "points_balance", "total_spend_rials",
                          "purchase_count", "last_visit_at")
_WRITE_MEMBER = (update(_MEMBERS).where(_MEMBERS.c.id == bindparam("member_key"))
                 .values({name: bindparam(name) for name in _MEMBER_AFTER_PURCHASE}))
_INSERT_PURCHASE = insert(_PURCHASES).returning(_PURCHASES.c.id)
_INSERT_CALL = insert(CallTask.__table__)
_INSERT_LINES = insert(PurchaseItem.__table__)
_INSERT_REDEMPTIONS = insert(OfferRedemption.__table__)
_TAKE_STOCK = (update(_PRODUCTS)
               .where(_PRODUCTS.c.id == bindparam("product_key"),
                      _PRODUCTS.c.stock >= bindparam("quantity"))
               .values(stock=_PRODUCTS.c.stock - bindparam("quantity")))


def ledger_movements(outcome: engine.PurchaseOutcome, club, branch_id: int,
                     now: datetime) -> list[ledger.Movement]:
    """The purchase's posting: credit spent, credit earned at this branch (offers' credit
    without an expiry with it), points, and each gift credit with its own expiry."""
    earned_here = outcome.tier_credit_rials + outcome.item_credit_rials + sum(
        offer.credit_rials for offer in outcome.offers if offer.credit_expiry_days is None)
    return [
        ledger.Movement("credit", -outcome.credit_used_rials),
        ledger.Movement("credit", earned_here, branch_id=branch_id),
        ledger.Movement("points", outcome.points_earned,
                        expires_at=wallet.points_expiry(club, now)),
    ] + [ledger.Movement("credit", rials, expires_at=now + timedelta(days=days))
         for rials, days in outcome.gift_credit]


def write_member(session: Session, member: Member, payable_rials: int, now: datetime) -> None:
    """The member after the purchase: its counters moved on, and they and the balances
    (ledger.post with caller_writes_balances) written by one prebuilt UPDATE; the object
    holds what its row holds, so no flush writes it again."""
    values = {"credit_balance_rials": member.credit_balance_rials,
              "points_balance": member.points_balance,
              "total_spend_rials": member.total_spend_rials + payable_rials,
              "purchase_count": member.purchase_count + 1, "last_visit_at": now}
    session.execute(_WRITE_MEMBER, {"member_key": member.id, **values})
    for name, value in values.items():
        set_committed_value(member, name, value)


def insert_purchase(session: Session, columns: dict) -> Purchase:
    """INSERT … RETURNING id, then an ORM object made persistent without a statement
    (every column is given): callers get a Purchase, the hot path skips a flush."""
    purchase_id = session.execute(_INSERT_PURCHASE, columns).scalar_one()
    purchase = Purchase(id=purchase_id, **columns)
    make_transient_to_detached(purchase)
    session.add(purchase)
    return purchase


def insert_happy_call(session: Session, purchase: Purchase) -> None:
    """S2: the purchase's call task, in its transaction."""
    task = happy_calls.task_for(purchase)
    session.execute(_INSERT_CALL, {
        "purchase_id": task.purchase_id, "member_id": task.member_id,
        "branch_id": task.branch_id, "due_at": task.due_at, "status": task.status,
        "attempts": task.attempts, "note": task.note})


def insert_lines(session: Session, purchase_id: int, products, items) -> None:
    """The item lines, and each stocked product's stock down by its quantity — refused
    (BadRequest) when a concurrent sale took it below."""
    if not items:
        return
    session.execute(_INSERT_LINES, [
        {"purchase_id": purchase_id, "product_id": product.id, "quantity": item.quantity,
         "unit_price_rials": item.unit_price_rials}
        for product, item in zip(products, items, strict=True)])
    for product, item in zip(products, items, strict=True):
        if product.stock is None:
            continue
        taken = session.execute(
            _TAKE_STOCK, {"product_key": product.id, "quantity": item.quantity}).rowcount
        if taken != 1:
            raise BadRequest("items", f"only {product.stock} of {product.sku} in stock")


def insert_redemptions(session: Session, outcome: engine.PurchaseOutcome, member_id: int,
                       purchase_id: int, now: datetime) -> None:
    if outcome.offers:
        session.execute(_INSERT_REDEMPTIONS, [
            {"offer_id": offer.offer_id, "member_id": member_id, "purchase_id": purchase_id,
             "discount_rials": offer.discount_rials, "points": offer.points,
             "credit_rials": offer.credit_rials, "created_at": now}
            for offer in outcome.offers])
