"""Answer a terminal's request exactly once (PROTOCOL.md "Semantics").

One database transaction per request: lock the device row, return the stored response
if this (device, id) was answered before, check the sequence number, run the operation,
and store the response body in the same transaction as its balance effects. Errors raise
backend.errors exceptions, roll everything back and store nothing.
"""

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import ledger
from backend.errors import CardBlocked, CardUnknown, Replay, Stale, UnknownDevice
from backend.models import Card, Club, Device, Member, TerminalRequest
from backend.protocol import PROTOCOL_VERSION, Request, encode_body
from backend.services import purchases, texts

log = logging.getLogger(__name__)


def load_active_device(session: Session, device_id: str) -> Device:
    device = session.get(Device, device_id)
    if device is None or device.status != "active":
        raise UnknownDevice(f"device {device_id!r} is unknown or revoked")
    return device


def find_member_by_card(session: Session, card_number: str) -> tuple[Card, Member]:
    card = session.scalars(select(Card).where(Card.number == card_number)).one_or_none()
    if card is None or card.member_id is None:
        raise CardUnknown(f"no member has card …{card_number[-4:]}")
    if card.status != "active":
        raise CardBlocked(f"card …{card_number[-4:]} is blocked")
    return card, card.member


def answer(session: Session, device_id: str, request: Request, now: datetime) -> bytes:
    """Return the response body for `request`, committing its effects exactly once."""
    try:
        body = _answer_in_transaction(session, device_id, request, now)
        session.commit()
        return body
    except IntegrityError:
        # Another worker answered the same (device, id) between our check and insert:
        # its committed response is the answer.
        session.rollback()
        stored = _stored_response(session, device_id, request.id)
        session.rollback()
        if stored is None:
            raise
        return stored
    except BaseException:
        session.rollback()
        raise


def _stored_response(session: Session, device_id: str, request_id: str) -> bytes | None:
    stored = session.scalars(
        select(TerminalRequest.response_body).where(
            TerminalRequest.device_id == device_id, TerminalRequest.request_id == request_id
        )
    ).one_or_none()
    return None if stored is None else stored.encode("utf-8")


def _answer_in_transaction(
    session: Session, device_id: str, request: Request, now: datetime
) -> bytes:
    # The device row lock serialises this device's requests across workers; on SQLite
    # the transaction already holds the database's write lock.
    locked = session.execute(
        update(Device)
        .where(Device.id == device_id, Device.status == "active")
        .values(last_seen_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    if locked != 1:
        raise UnknownDevice(f"device {device_id!r} is unknown or revoked")
    stored = _stored_response(session, device_id, request.id)
    if stored is not None:
        log.info("repeat of %s/%s answered from store", device_id, request.id)
        return stored
    device = session.get(Device, device_id, populate_existing=True)
    if request.seq <= device.last_seq:
        raise Replay(f"seq {request.seq} is not above {device.last_seq}")
    club = session.get(Club, 1)
    if request.offline:
        age = now - datetime.fromtimestamp(request.ts, tz=now.tzinfo)
        if age > timedelta(days=club.offline_window_days):
            raise Stale(f"offline request is {age.days} days old")

    card, member = find_member_by_card(session, request.card)
    member = ledger.lock_member(session, member.id)
    transaction_id = None
    tx = None
    if request.op == "purchase":
        purchase = purchases.record_purchase_locked(
            session,
            member=member,
            card=card,
            branch_id=device.branch_id,
            device_id=device.id,
            idempotency_key=f"dev:{device.id}:{request.id}",
            amount_rials=request.amount,
            use_credit_rials=request.use_credit,
            offline=request.offline,
            now=now,
        )
        transaction_id = purchase.ledger_transaction_id
        tx = {
            "amount": purchase.amount_rials,
            "discount": purchase.discount_rials,
            "credit_used": purchase.credit_used_rials,
            "payable": purchase.payable_rials,
            "credit_earned": purchase.credit_earned_rials,
            "points_earned": purchase.points_earned,
            "offers": [],
        }
    bal = {"credit": member.credit_balance_rials, "points": member.points_balance}
    lang = device.lang
    tier_name = member.tier.name_fa if lang == "fa" and member.tier.name_fa else member.tier.name
    short_name = f"{member.first_name} {member.last_name[:1]}."
    response = {
        "v": PROTOCOL_VERSION,
        "id": request.id,
        "ok": True,
        "code": "OK",
        "msg": (
            texts.thank_you(lang, member.first_name)
            if tx is not None
            else texts.balance_text(lang, member.first_name)
        ),
        "member": {"name": short_name, "tier": tier_name},
        "bal": bal,
    }
    if tx is not None:
        response["tx"] = tx
    club_name = club.name_fa if lang == "fa" and club.name_fa else club.name
    response["receipt"] = texts.receipt_lines(lang, club_name, short_name, tier_name, tx, bal)
    response["ts"] = int(now.timestamp())
    body = encode_body(response)

    device.last_seq = request.seq
    session.add(
        TerminalRequest(
            device_id=device.id,
            request_id=request.id,
            seq=request.seq,
            op=request.op,
            received_at=now,
            response_body=body.decode("utf-8"),
            ledger_transaction_id=transaction_id,
        )
    )
    session.flush()
    return body
