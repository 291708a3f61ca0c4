"""Recording a purchase: the same code for the terminal and the panel's purchase page."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import engine, ledger
from backend.models import Card, Member, Purchase


def tier_rules(member: Member) -> engine.TierRules:
    tier = member.tier
    return engine.TierRules(
        credit_percent_bp=tier.credit_percent_bp,
        discount_percent_bp=tier.discount_percent_bp,
        points_per_step=tier.points_per_step,
        point_step_rials=tier.point_step_rials,
    )


def record_purchase_locked(
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
) -> Purchase:
    """Price and record a purchase for a member locked with `ledger.lock_member`.

    Runs inside the caller's transaction; the caller commits. A key seen before returns
    the purchase recorded under it, changing nothing.
    """
    existing = ledger.find_transaction(session, idempotency_key)
    if existing is not None:
        return session.scalars(
            select(Purchase).where(Purchase.ledger_transaction_id == existing.id)
        ).one()
    outcome = engine.price_purchase(
        engine.PurchaseRequest(
            amount_rials=amount_rials,
            use_credit_rials=use_credit_rials,
            credit_balance_rials=member.credit_balance_rials,
        ),
        tier_rules(member),
    )
    transaction = ledger.post(
        session,
        member=member,
        idempotency_key=idempotency_key,
        kind="purchase",
        movements=[
            ledger.Movement("credit", -outcome.credit_used_rials),
            ledger.Movement("credit", outcome.credit_earned_rials),
            ledger.Movement("points", outcome.points_earned),
        ],
        reason=f"purchase of {outcome.amount_rials} rials",
        now=now,
    )
    purchase = Purchase(
        member_id=member.id,
        card_id=card.id,
        branch_id=branch_id,
        device_id=device_id,
        ledger_transaction_id=transaction.id,
        amount_rials=outcome.amount_rials,
        discount_rials=outcome.discount_rials,
        credit_used_rials=outcome.credit_used_rials,
        payable_rials=outcome.payable_rials,
        credit_earned_rials=outcome.credit_earned_rials,
        points_earned=outcome.points_earned,
        offline=offline,
        created_at=now,
    )
    member.total_spend_rials += outcome.payable_rials
    member.purchase_count += 1
    session.add(purchase)
    session.flush()
    return purchase
