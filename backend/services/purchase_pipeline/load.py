"""Step 1 of a purchase, the load: what pricing needs that the rules kept in memory do
not hold — the member's day of credit spent and offer uses (only when a rule can read
them), the products of the item lines. The device, the stored answer, the card and the
member's lock are read by the terminal (services/terminal.py) before this step."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend import engine
from backend.engine.calendar import local_day_start
from backend.errors import BadRequest
from backend.models import Member, OfferRedemption, Product, Purchase


def member_context(session: Session, member: Member, now: datetime, *,
                   spends_credit: bool = True,
                   counts_offer_uses: bool = True) -> engine.MemberContext:
    """What the engine needs to know about the member. A purchase that spends no credit
    meets no credit cap, and offers without a per-member limit need no use counts: the
    terminal's hot path skips those two queries then (the engine reads neither)."""
    spent_today = session.scalar(
        select(func.coalesce(func.sum(Purchase.credit_used_rials), 0)).where(
            Purchase.member_id == member.id, Purchase.created_at >= local_day_start(now)
        )
    ) if spends_credit else 0
    uses = dict(session.execute(
        select(OfferRedemption.offer_id, func.count())
        .where(OfferRedemption.member_id == member.id)
        .group_by(OfferRedemption.offer_id)
    ).all()) if counts_offer_uses else {}
    return engine.MemberContext(
        previous_visits=member.purchase_count,
        last_visit_at=member.last_visit_at,
        birth_date=member.birth_date,
        wedding_date=member.wedding_date,
        credit_spent_today_rials=int(spent_today),
        offer_uses=uses,
    )


def items(session: Session, requests: Sequence) -> tuple[list[Product], list[engine.LineItem]]:
    """The active products of the item lines and the engine's lines; BadRequest for an
    unknown product or one without the stock asked for."""
    products, lines = [], []
    for index, item in enumerate(requests):
        product = session.scalars(
            select(Product).where(Product.sku == item.sku, Product.is_active)
        ).one_or_none()
        if product is None:
            raise BadRequest(f"items[{index}].sku", f"no product {item.sku!r}")
        if product.stock is not None and product.stock < item.quantity:
            raise BadRequest(f"items[{index}]", f"only {product.stock} of {item.sku} in stock")
        products.append(product)
        lines.append(engine.LineItem(
            sku=item.sku, quantity=item.quantity, unit_price_rials=item.unit_price_rials,
            points_per_unit=product.points_per_unit,
            discount_percent_bp=product.discount_percent_bp,
            extra_credit_per_unit_rials=product.extra_credit_per_unit_rials,
        ))
    return products, lines
