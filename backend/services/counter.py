"""The operator's counter (issue 5): serve a member without a terminal.

Each function is one use case in one transaction, idempotent by the request key the
form carried (a double-clicked button or a resubmitted page changes nothing twice). The
purchase goes through `purchase_pipeline.run`, the very code the terminal's
requests run, so both paths give identical results.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import engine, ledger, protocol
from backend.engine.rules import USE_ALL_CREDIT
from backend.errors import BadRequest, CardBlocked, RefUnknown
from backend.models import (
    Card,
    Member,
    Offer,
    OfferRedemption,
    Product,
    Purchase,
    PurchaseItem,
    StaffUser,
    Tier,
    TierChange,
)
from backend.services import purchase_pipeline, refunds, wallet
from backend.services.purchase_pipeline import reply as purchase_reply
from backend.unit_of_work import Actor, is_staff, unit_of_work
from card_spec import normalize_digits

# The same bounds as a terminal's purchase (docs/protocol.md "Frame bounds").
MAX_ITEM_LINES = protocol.MAX_ITEMS
MAX_ITEM_QTY = protocol.MAX_ITEM_QTY

_REQUEST_KEY = re.compile(r"[A-Za-z0-9_-]{16,64}")


def request_key(kind: str, form_key: str) -> str:
    """The idempotency key of a panel form's action, from the random key it carried."""
    if not _REQUEST_KEY.fullmatch(form_key or ""):
        raise BadRequest("request_key", "This form has expired; open it again.")
    return f"panel:{kind}:{form_key}"


_key = request_key


def active_card(session: Session, member: Member) -> Card:
    card = session.scalars(
        select(Card).where(Card.member_id == member.id, Card.status == "active")
        .order_by(Card.issued_at.desc(), Card.id.desc())).first()
    if card is None:
        raise CardBlocked("this member has no active card; issue a replacement first")
    return card


@dataclass(frozen=True)
class CounterPurchase:
    purchase: Purchase
    offer_names: tuple[str, ...]
    new_tier: str | None


@dataclass(frozen=True)
class ItemLine:
    """One line of a sale at the counter or through the API: a product by its SKU (at
    the counter also its exact name), how many, and the unit price in rials (None: the
    product's list price)."""

    sku: str
    quantity: int
    unit_price_rials: int | None = None


def find_product(session: Session, text: str) -> Product | None:
    """An active product by SKU (typed in any digits), else by its exact name."""
    text = normalize_digits(text or "").strip()
    if not text:
        return None
    product = session.scalars(
        select(Product).where(Product.sku == text, Product.is_active)).one_or_none()
    if product is None:
        product = session.scalars(
            select(Product).where(func.lower(Product.name) == text.lower(), Product.is_active)
            .order_by(Product.id)).first()
    return product


MAX_PRODUCT_CHOICES = 500


def product_choices(session: Session) -> list[Product]:
    """Active products for the counter's suggestions (by name; at most
    MAX_PRODUCT_CHOICES: any other is still found by its SKU or exact name)."""
    return list(session.scalars(select(Product).where(Product.is_active)
                                .order_by(Product.name, Product.id).limit(MAX_PRODUCT_CHOICES)))


MAX_SUGGESTIONS = 5


def search_products(session: Session, text: str, limit: int = MAX_SUGGESTIONS) -> list[Product]:
    """Active products whose SKU starts with `text` or whose name contains it (any
    digits, any case): what the counter suggests for a line it could not sell."""
    text = normalize_digits(text or "").strip()[:64]
    if not text:
        return []
    pattern = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return list(session.scalars(
        select(Product).where(
            Product.is_active,
            func.lower(Product.sku).like(f"{pattern}%", escape="\\")
            | func.lower(Product.name).like(f"%{pattern}%", escape="\\"))
        .order_by(Product.name, Product.id).limit(limit)))


def price_items(session: Session, lines: Sequence[ItemLine]) -> list[purchase_pipeline.ItemRequest]:
    """The lines as the purchase service takes them, checked: a known product, a quantity
    from 1 to MAX_ITEM_QTY, the list price (a product without one, price 0, has an open
    price the cashier types), enough stock for all lines of that product together, and at
    most MAX_ITEM_LINES lines. Raises BadRequest naming the line (`items[i].…`)."""
    if len(lines) > MAX_ITEM_LINES:
        raise BadRequest("items", "At most %(count)s item lines on one purchase.",
                         count=MAX_ITEM_LINES)
    priced: list[purchase_pipeline.ItemRequest] = []
    taken: dict[int, int] = {}
    for index, line in enumerate(lines):
        product = find_product(session, line.sku)
        if product is None:
            raise BadRequest(f"items[{index}].sku", "No product has this code or name.")
        quantity = line.quantity
        if type(quantity) is not int or not 1 <= quantity <= MAX_ITEM_QTY:
            raise BadRequest(f"items[{index}].quantity",
                             "Enter a quantity from 1 to %(count)s.", count=MAX_ITEM_QTY)
        price = line.unit_price_rials
        if price is None:
            if product.price_rials == 0:
                raise BadRequest(f"items[{index}].price",
                                 "This product has no list price: enter its price.")
            price = product.price_rials
        elif type(price) is not int or price < 0:
            raise BadRequest(f"items[{index}].price", "Enter a price of zero or more.")
        elif product.price_rials and price != product.price_rials:
            raise BadRequest(f"items[{index}].price",
                             "This product sells at its list price, %(price_rials)s.",
                             price_rials=product.price_rials)
        taken[product.id] = taken.get(product.id, 0) + quantity
        if product.stock is not None and taken[product.id] > product.stock:
            raise BadRequest(f"items[{index}].quantity",
                             "Only %(count)s of this product are in stock.", count=product.stock)
        priced.append(purchase_pipeline.ItemRequest(product.sku, quantity, price))
    return priced


def record_purchase(session: Session, *, actor: Actor, member_id: int, branch_id: int,
                    amount_rials: int | None, use_credit_rials: int, request_key: str,
                    now: datetime, items: Sequence[ItemLine] = ()) -> CounterPurchase:
    """A purchase at the counter. `use_credit_rials` -1 spends as much as allowed.

    With item lines the amount may be None (the lines' total) or must equal that total,
    as a terminal's purchase must. Stock goes down and each product's points, discount
    and extra credit apply, in `purchase_pipeline.run`."""
    key = _key("purchase", request_key)
    if use_credit_rials < USE_ALL_CREDIT:
        raise BadRequest("use_credit", "Enter an amount of zero or more.")
    audit_details = {"amount_rials": amount_rials,
                     "items": [[line.sku, line.quantity] for line in items]}
    with unit_of_work(session, actor) as work:
        member = ledger.lock_member(session, member_id)
        card = active_card(session, member)
        priced: list[purchase_pipeline.ItemRequest] = []
        # A resent form or API retry returns the first purchase, whatever stock is left.
        if ledger.find_transaction(session, key) is None:
            priced = price_items(session, items)
            total = sum(item.quantity * item.unit_price_rials for item in priced)
            if priced and amount_rials is None:
                amount_rials = total
            elif priced and amount_rials != total:
                raise BadRequest("amount", "The item lines add up to %(total_rials)s, not "
                                 "the amount entered.", total_rials=total)
            if amount_rials is None:
                raise BadRequest("amount", "Enter the purchase amount or add item lines.")
        result = purchase_pipeline.run(
            session, member=member, card=card, branch_id=branch_id, device_id=None,
            idempotency_key=key, amount_rials=amount_rials or 0,
            use_credit_rials=use_credit_rials, offline=False, now=now, items=priced)
        if result.purchase.member_id != member_id:
            raise BadRequest("request_key", "This form has expired; open it again.")
        if is_staff(work.actor):
            work.audit("record_purchase", "member", member_id, audit_details)
    new_tier = result.tier_change.to_code if result.tier_change else None
    return CounterPurchase(result.purchase, result.offer_names, new_tier)


@dataclass(frozen=True)
class PurchaseSummary:
    """What the cashier sees after a sale: the figures the terminal prints (`tx`, the
    keys of the terminal's reply), the lines sold and the member's balances now."""

    purchase: Purchase
    offer_names: tuple[str, ...]
    tier_change: tuple[Tier, Tier] | None
    items: list[tuple[Product, PurchaseItem]] = field(default_factory=list)
    credit_balance_rials: int = 0
    points_balance: int = 0

    @property
    def tx(self) -> dict:
        change = self.tier_change
        upgrade = change is not None and change[1].rank > change[0].rank
        return purchase_reply.of_purchase(self.purchase, self.offer_names,
                                          tier_up=change[1].code if upgrade else None)


def purchase_summary(session: Session, *, member_id: int, purchase_id: int
                     ) -> PurchaseSummary | None:
    """The summary of one of the member's purchases (None: not theirs or no such)."""
    purchase = session.get(Purchase, purchase_id)
    if purchase is None or purchase.member_id != member_id:
        return None
    member = session.get(Member, member_id)
    offer_names = tuple(session.scalars(
        select(Offer.name).join(OfferRedemption, OfferRedemption.offer_id == Offer.id)
        .where(OfferRedemption.purchase_id == purchase.id).order_by(OfferRedemption.id)))
    # The tier change a purchase makes is written with the purchase's own time.
    change = session.scalars(
        select(TierChange).where(TierChange.member_id == member_id,
                                 TierChange.created_at == purchase.created_at)
        .order_by(TierChange.id.desc())).first()
    tier_change = None if change is None else (
        session.get(Tier, change.from_tier_id), session.get(Tier, change.to_tier_id))
    items = [(product, line) for product, line in session.execute(
        select(Product, PurchaseItem).join(PurchaseItem, PurchaseItem.product_id == Product.id)
        .where(PurchaseItem.purchase_id == purchase.id).order_by(PurchaseItem.id))]
    return PurchaseSummary(purchase, offer_names, tier_change, items,
                           member.credit_balance_rials, member.points_balance)


def refund_preview(session: Session, *, purchase_id: int, amount_rials: int | None,
                   staff_user_id: int, request_key: str
                   ) -> tuple[Purchase, engine.Components, int]:
    """What a refund would reverse, before it is confirmed: (purchase, the shares of its
    payable, credit spent, credit and points earned, the amount). Writes nothing; the
    refund itself may keep back from the cash what the member already spent. Refuses
    what `refund` would refuse before it moves anything (the form's key included)."""
    _key("refund", request_key)
    purchase = session.get(Purchase, purchase_id)
    staff = session.get(StaffUser, staff_user_id)
    if purchase is None or staff is None or not may_refund(staff, purchase):
        raise RefUnknown("no such purchase at this branch")
    remaining = purchase.amount_rials - purchase.refunded_amount_rials
    if remaining == 0:
        raise RefUnknown(f"purchase {purchase.id} is already fully refunded")
    amount = remaining if amount_rials is None else amount_rials
    parts = engine.refund_components(
        engine.Components(purchase.payable_rials, purchase.credit_used_rials,
                          purchase.credit_earned_rials, purchase.points_earned,
                          purchase.commission_rials),
        purchase.amount_rials, purchase.refunded_amount_rials, amount)
    return purchase, parts, amount


def top_up(session: Session, *, actor: Actor, member_id: int, amount_rials: int,
           request_key: str, now: datetime):
    key = _key("topup", request_key)
    with unit_of_work(session, actor) as work:
        member = ledger.lock_member(session, member_id)
        transaction = wallet.top_up_locked(session, member=member, amount_rials=amount_rials,
                                           idempotency_key=key, now=now)
        if is_staff(work.actor):
            work.audit("top_up", "member", member_id, {"amount_rials": amount_rials})
        return transaction


def may_refund(staff: StaffUser, purchase: Purchase) -> bool:
    """Admins refund any purchase; an operator only those made at their own branch (an
    operator without a branch refunds nothing). The panel shows the refund button by the
    same rule."""
    if staff.role == "admin":
        return True
    return staff.branch_id is not None and purchase.branch_id == staff.branch_id


def refund(session: Session, *, actor: Actor, purchase_id: int, amount_rials: int | None,
           request_key: str, staff_user_id: int, now: datetime):
    """Refund a purchase, all of what is left or `amount_rials` of it, for the staff
    member `staff_user_id`: an operator refunds only purchases made at their branch."""
    key = _key("refund", request_key)
    with unit_of_work(session, actor) as work:
        purchase = session.get(Purchase, purchase_id)
        staff = session.get(StaffUser, staff_user_id)
        if purchase is None or staff is None or not may_refund(staff, purchase):
            raise RefUnknown("no such purchase at this branch")
        ledger.lock_member(session, purchase.member_id)
        session.refresh(purchase)
        result = refunds.refund_purchase_locked(session, purchase=purchase,
                                                amount_rials=amount_rials,
                                                idempotency_key=key, now=now)
        if is_staff(work.actor):
            work.audit("refund_purchase", "purchase", purchase_id,
                       {"amount_rials": amount_rials})
        return result
