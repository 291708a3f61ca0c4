"""Cheques and instalments a member owes (L13)."""

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import BadRequest
from backend.models import Member, PaymentInstrument

KINDS = ("cheque", "instalment")
SETTLED_STATES = ("paid", "bounced", "cancelled")


def record_instrument(session: Session, *, member_id: int, kind: str, amount_rials: int,
                      due_date: date, reference: str = "", note: str = "") -> PaymentInstrument:
    if kind not in KINDS:
        raise BadRequest("kind", "must be cheque or instalment")
    if type(amount_rials) is not int or amount_rials <= 0:
        raise BadRequest("amount", "must be a positive whole number of rials")
    if session.get(Member, member_id) is None:
        raise BadRequest("member", f"no member {member_id}")
    row = PaymentInstrument(member_id=member_id, kind=kind, amount_rials=amount_rials,
                            due_date=due_date, reference=reference.strip(), note=note)
    session.add(row)
    session.commit()
    return row


def settle_instrument(session: Session, *, instrument_id: int, status: str,
                      now: datetime) -> PaymentInstrument:
    if status not in SETTLED_STATES:
        raise BadRequest("status", f"must be one of {', '.join(SETTLED_STATES)}")
    row = session.get(PaymentInstrument, instrument_id)
    if row is None:
        raise BadRequest("instrument", f"no cheque or instalment {instrument_id}")
    if row.status != "pending":
        raise BadRequest("status", f"already {row.status}")
    row.status, row.settled_at = status, now
    session.commit()
    return row


def overdue(session: Session, today: date) -> list[PaymentInstrument]:
    """Pending cheques and instalments past their due date, oldest first."""
    return list(session.scalars(
        select(PaymentInstrument)
        .where(PaymentInstrument.status == "pending", PaymentInstrument.due_date < today)
        .order_by(PaymentInstrument.due_date, PaymentInstrument.id)
    ))
