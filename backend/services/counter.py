"""The operator's counter (issue 5): serve a member without a terminal.

Each function is one use case in one transaction, idempotent by the request key the
form carried (a double-clicked button or a resubmitted page changes nothing twice). The
purchase goes through `purchases.record_purchase_locked`, the very code the terminal's
requests run, so both paths give identical results.
"""

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.engine.rules import USE_ALL_CREDIT
from backend.errors import BadRequest, CardBlocked, RefUnknown
from backend.models import Card, Member, Purchase, StaffUser
from backend.services import purchases, refunds, wallet

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


def record_purchase(session: Session, *, member_id: int, branch_id: int, amount_rials: int,
                    use_credit_rials: int, request_key: str, now: datetime) -> CounterPurchase:
    """A purchase at the counter. `use_credit_rials` -1 spends as much as allowed."""
    key = _key("purchase", request_key)
    if use_credit_rials < USE_ALL_CREDIT:
        raise BadRequest("use_credit", "Enter an amount of zero or more.")
    try:
        member = ledger.lock_member(session, member_id)
        card = active_card(session, member)
        result = purchases.record_purchase_locked(
            session, member=member, card=card, branch_id=branch_id, device_id=None,
            idempotency_key=key, amount_rials=amount_rials, use_credit_rials=use_credit_rials,
            offline=False, now=now)
        if result.purchase.member_id != member_id:
            raise BadRequest("request_key", "This form has expired; open it again.")
        session.commit()
    except BaseException:
        session.rollback()
        raise
    new_tier = result.tier_change.to_code if result.tier_change else None
    return CounterPurchase(result.purchase, result.offer_names, new_tier)


def top_up(session: Session, *, member_id: int, amount_rials: int, request_key: str,
           now: datetime):
    key = _key("topup", request_key)
    try:
        member = ledger.lock_member(session, member_id)
        transaction = wallet.top_up_locked(session, member=member, amount_rials=amount_rials,
                                           idempotency_key=key, now=now)
        session.commit()
        return transaction
    except BaseException:
        session.rollback()
        raise


def may_refund(staff: StaffUser, purchase: Purchase) -> bool:
    """Admins refund any purchase; an operator only those made at their own branch (an
    operator without a branch refunds nothing). The panel shows the refund button by the
    same rule."""
    if staff.role == "admin":
        return True
    return staff.branch_id is not None and purchase.branch_id == staff.branch_id


def refund(session: Session, *, purchase_id: int, amount_rials: int | None, request_key: str,
           staff_user_id: int, now: datetime):
    """Refund a purchase, all of what is left or `amount_rials` of it, for the staff
    member `staff_user_id`: an operator refunds only purchases made at their branch."""
    key = _key("refund", request_key)
    try:
        purchase = session.get(Purchase, purchase_id)
        staff = session.get(StaffUser, staff_user_id)
        if purchase is None or staff is None or not may_refund(staff, purchase):
            raise RefUnknown("no such purchase at this branch")
        ledger.lock_member(session, purchase.member_id)
        session.refresh(purchase)
        result = refunds.refund_purchase_locked(session, purchase=purchase,
                                                amount_rials=amount_rials,
                                                idempotency_key=key, now=now)
        session.commit()
        return result
    except BaseException:
        session.rollback()
        raise
