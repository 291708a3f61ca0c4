"""Refunds (full and partial) reverse exactly what the purchase moved (docs/loyalty-rules.md)."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend import engine, ledger
from backend.errors import RefUnknown
from backend.models import Member, Product, Purchase, PurchaseItem, Refund, the_club


@dataclass(frozen=True)
class RefundResult:
    refund: Refund
    purchase: Purchase


def find_refund(session: Session, idempotency_key: str) -> Refund | None:
    transaction = ledger.find_transaction(session, idempotency_key)
    if transaction is None:
        return None
    return session.scalars(
        select(Refund).where(Refund.ledger_transaction_id == transaction.id)
    ).one_or_none()


def refund_purchase_locked(
    session: Session,
    *,
    purchase: Purchase,
    amount_rials: int | None,
    idempotency_key: str,
    now: datetime,
) -> RefundResult:
    """Refund `amount_rials` of a purchase (None: all that is left) for its member, who
    must already be locked; in the caller's transaction (counter.refund's unit of work, or the
    terminal pipeline's), which commits it with its audit row or rolls both back.

    Credit spent comes back into lots with the expiry and branch of the lots it came
    from (soonest-expiring first on a partial refund); credit and
    points earned are taken back. What the member already spent of them cannot be taken
    back, so it is kept from the cash refund instead (`shortfall_rials`).
    """
    existing = find_refund(session, idempotency_key)
    if existing is not None:
        return RefundResult(existing, purchase)
    remaining = purchase.amount_rials - purchase.refunded_amount_rials
    if remaining == 0:
        raise RefUnknown(f"purchase {purchase.id} is already fully refunded")
    amount = remaining if amount_rials is None else amount_rials
    club = the_club(session)
    member = session.get(Member, purchase.member_id)
    parts = engine.refund_components(
        engine.Components(purchase.payable_rials, purchase.credit_used_rials,
                          purchase.credit_earned_rials, purchase.points_earned,
                          purchase.commission_rials),
        purchase.amount_rials, purchase.refunded_amount_rials, amount,
    )
    credit_back, credit_take = parts.credit_used_rials, parts.credit_earned_rials
    points_take = parts.points_earned
    shortfall = 0
    if member.credit_balance_rials + credit_back < credit_take:
        missing = credit_take - member.credit_balance_rials - credit_back
        credit_take -= missing
        shortfall += missing
    if member.points_balance < points_take:
        missing_points = points_take - member.points_balance
        points_take -= missing_points
        shortfall += missing_points * club.point_value_rials
    cash_refund = max(0, parts.payable_rials - shortfall)

    already_returned = session.scalar(
        select(func.coalesce(func.sum(Refund.credit_returned_rials), 0))
        .where(Refund.purchase_id == purchase.id))
    given_back = ledger.returned_credit(
        ledger.credit_spent_by_lot(session, purchase.ledger_transaction_id),
        int(already_returned), credit_back)
    transaction = ledger.post(
        session, member=member, idempotency_key=idempotency_key, kind="refund",
        movements=[
            *given_back,
            ledger.Movement("credit", -credit_take, clawback=True,
                            prefer_lots_of=purchase.ledger_transaction_id),
            ledger.Movement("points", -points_take, clawback=True),
        ],
        reason=f"refund of {amount:,} rials of purchase {purchase.id}", now=now,
    )
    commission_take = 0
    if parts.commission_rials and purchase.commission_member_id is not None:
        referrer = ledger.lock_member(session, purchase.commission_member_id)
        # Commission the referrer already spent stays with them: the shop absorbs it.
        commission_take = min(parts.commission_rials, referrer.credit_balance_rials)
        ledger.post(
            session, member=referrer, idempotency_key=f"{idempotency_key}:commission",
            kind="commission-refund",
            movements=[ledger.Movement("credit", -commission_take, clawback=True)],
            reason=f"refund of purchase {purchase.id}", now=now,
        )
    refund = Refund(
        purchase_id=purchase.id, ledger_transaction_id=transaction.id, amount_rials=amount,
        cash_refund_rials=cash_refund, credit_returned_rials=credit_back,
        credit_taken_rials=credit_take, points_taken=points_take,
        commission_taken_rials=commission_take, shortfall_rials=shortfall, created_at=now,
    )
    session.add(refund)
    purchase.refunded_amount_rials += amount
    member.total_spend_rials = max(0, member.total_spend_rials - parts.payable_rials)
    if purchase.refunded_amount_rials == purchase.amount_rials:
        _restock(session, purchase)
    session.flush()
    return RefundResult(refund, purchase)


def _restock(session: Session, purchase: Purchase) -> None:
    items = session.scalars(select(PurchaseItem).where(PurchaseItem.purchase_id == purchase.id))
    for item in items:
        session.execute(
            update(Product)
            .where(Product.id == item.product_id, Product.stock.is_not(None))
            .values(stock=Product.stock + item.quantity)
            .execution_options(synchronize_session=False)
        )



