"""Answer a terminal's request exactly once (PROTOCOL.md "Semantics").

One database transaction per request: lock the device row, return the stored response
if this (device, id) was answered before, check the sequence number, run the operation,
and store the response body in the same transaction as its balance effects. Errors raise
backend.errors exceptions, roll everything back and store nothing.
"""

import logging
from datetime import datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import ledger
from backend.errors import CardBlocked, CardUnknown, RefUnknown, Replay, Stale, UnknownDevice
from backend.models import Card, Club, Device, Member, Purchase, TerminalRequest
from backend.protocol import PROTOCOL_VERSION, Request, encode_body
from backend.services import purchases, refunds, terminal_policy, texts, wallet

log = logging.getLogger(__name__)
_DEVICES = Device.__table__
_REQUESTS = TerminalRequest.__table__
# The hot path's statements, built once with bound parameters: building a statement and
# its cache key cost about as much as running it (docs/hot-path.md).
_LOAD_DEVICE = (select(_DEVICES.c.id, _DEVICES.c.status, _DEVICES.c.key_hex, _DEVICES.c.lang)
                .where(_DEVICES.c.id == bindparam("device_key")))
_LOCK_DEVICE = (
    update(_DEVICES)
    .where(_DEVICES.c.id == bindparam("device_key"), _DEVICES.c.status == "active")
    .values(last_seen_at=bindparam("seen_at"))
    .returning(_DEVICES.c.id, _DEVICES.c.branch_id, _DEVICES.c.lang, _DEVICES.c.last_seq))
_SET_LAST_SEQ = (update(_DEVICES).where(_DEVICES.c.id == bindparam("device_key"))
                 .values(last_seq=bindparam("new_seq")))
_INSERT_REQUEST = insert(_REQUESTS)
_STORED_RESPONSE = select(TerminalRequest.response_body).where(
    TerminalRequest.device_id == bindparam("device_key"),
    TerminalRequest.request_id == bindparam("request_key"))
_FIND_CARD = select(Card).where(Card.number == bindparam("card_number"))


def load_active_device(session: Session, device_id: str):
    """The device's row (`key_hex` decrypted, `lang`, …): a read-only row, not an ORM
    object, since nothing on the request path changes it through the ORM."""
    device = session.execute(_LOAD_DEVICE, {"device_key": device_id}).one_or_none()
    if device is None or device.status != "active":
        raise UnknownDevice(f"device {device_id!r} is unknown or revoked")
    return device


def find_card(session: Session, card_number: str) -> Card:
    """The active card with this number that belongs to a member."""
    card = session.scalars(_FIND_CARD, {"card_number": card_number}).one_or_none()
    if card is None or card.member_id is None:
        raise CardUnknown(f"no member has card …{card_number[-4:]}")
    if card.status != "active":
        raise CardBlocked(f"card …{card_number[-4:]} is blocked")
    return card


def find_member_by_card(session: Session, card_number: str) -> tuple[Card, Member]:
    card = find_card(session, card_number)
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
    except BaseException as error:
        session.rollback()
        terminal_policy.record_refusal(session, error, now)  # its audit row outlives it
        raise


def _stored_response(session: Session, device_id: str, request_id: str) -> bytes | None:
    stored = session.scalars(
        _STORED_RESPONSE, {"device_key": device_id, "request_key": request_id}
    ).one_or_none()
    return None if stored is None else stored.encode("utf-8")


def _answer_in_transaction(
    session: Session, device_id: str, request: Request, now: datetime
) -> bytes:
    # The device row lock serialises this device's requests across workers; on SQLite
    # the transaction already holds the database's write lock.
    # The device's row comes back from the lock itself (RETURNING), so its sequence
    # number is the one no other worker can move until this transaction ends.
    device = session.execute(
        _LOCK_DEVICE, {"device_key": device_id, "seen_at": now}).one_or_none()
    if device is None:
        raise UnknownDevice(f"device {device_id!r} is unknown or revoked")
    last_seq = device.last_seq
    stored = _stored_response(session, device_id, request.id)
    if stored is not None:
        log.info("repeat of %s/%s answered from store", device_id, request.id)
        return stored
    if request.seq <= last_seq:
        raise Replay(f"seq {request.seq} is not above {last_seq}")
    club = session.get(Club, 1)
    if request.offline:
        age = now - datetime.fromtimestamp(request.ts, tz=now.tzinfo)
        if age > timedelta(days=club.offline_window_days):
            raise Stale(f"offline request is {age.days} days old")

    if request.op == "refund":
        card, member = _refund_target(session, device_id, request)
        member_id = member.id
    else:
        card = find_card(session, request.card)
        member_id = card.member_id
    terminal_policy.check(session, device, request, card, now)  # top-up and refund rules
    member = ledger.lock_member(session, member_id)
    transaction_id, tx, offers = _run_op(session, device, card, member, request, now)
    bal = {"credit": member.credit_balance_rials, "points": member.points_balance}
    lang = device.lang
    tier_name = member.tier.name_fa if lang == "fa" and member.tier.name_fa else member.tier.name
    short_name = f"{member.first_name} {member.last_name[:1]}."
    response = {
        "v": PROTOCOL_VERSION,
        "id": request.id,
        "ok": True,
        "code": "OK",
        "msg": texts.success_text(lang, request.op, member.first_name),
        "member": {"name": short_name, "tier": tier_name},
        "bal": bal,
    }
    if tx is not None:
        response["tx"] = tx
    club_name = club.name_fa if lang == "fa" and club.name_fa else club.name
    response["receipt"] = texts.receipt_lines(
        lang, club_name, short_name, tier_name, request.op, tx, bal, offers)
    response["ts"] = int(now.timestamp())
    body = encode_body(response)

    # Core statements: nothing reads these rows back in the transaction. A concurrent
    # answer to the same (device, id) fails the INSERT's unique key (IntegrityError).
    session.execute(_SET_LAST_SEQ, {"device_key": device.id, "new_seq": request.seq})
    session.execute(_INSERT_REQUEST, {
        "device_id": device.id, "request_id": request.id, "seq": request.seq,
        "op": request.op, "received_at": now, "response_body": body.decode("utf-8"),
        "ledger_transaction_id": transaction_id,
    })
    return body


def _refund_target(session: Session, device_id: str, request: Request) -> tuple[Card, Member]:
    """The card and member of the purchase a refund names; the card must be theirs.

    A card reported lost after the purchase may still be refunded."""
    card = session.scalars(select(Card).where(Card.number == request.card)).one_or_none()
    purchase = _purchase_by_request(session, device_id, request.ref)
    if card is None or purchase is None or card.member_id != purchase.member_id:
        raise RefUnknown(f"no purchase {request.ref} on this card from {device_id}")
    return card, card.member


def _purchase_by_request(session: Session, device_id: str, request_id: str) -> Purchase | None:
    return session.scalars(
        select(Purchase)
        .join(TerminalRequest,
              TerminalRequest.ledger_transaction_id == Purchase.ledger_transaction_id)
        .where(TerminalRequest.device_id == device_id, TerminalRequest.request_id == request_id,
               TerminalRequest.op == "purchase")
    ).one_or_none()


def _run_op(session, device, card, member, request: Request, now):
    """Run the request's operation; returns (ledger transaction id, tx, offer names)."""
    key = f"dev:{device.id}:{request.id}"
    if request.op == "lookup":
        return None, None, ()
    if request.op == "purchase":
        result = purchases.record_purchase_locked(
            session, member=member, card=card, branch_id=device.branch_id, device_id=device.id,
            idempotency_key=key, amount_rials=request.amount, use_credit_rials=request.use_credit,
            offline=request.offline, now=now,
            items=[purchases.ItemRequest(item.sku, item.qty, item.price)
                   for item in request.items or ()],
            # No stored answer for (device, id) in this transaction, so no ledger
            # transaction under its key either: both commit together.
            key_is_new=True,
        )
        purchase = result.purchase
        tx = {
            "amount": purchase.amount_rials,
            "discount": purchase.discount_rials,
            "credit_used": purchase.credit_used_rials,
            "payable": purchase.payable_rials,
            "credit_earned": purchase.credit_earned_rials,
            "points_earned": purchase.points_earned,
            "offers": list(result.offer_names),
        }
        if result.tier_change is not None:
            tx["tier_up"] = result.tier_change.to_code
        return purchase.ledger_transaction_id, tx, result.offer_names
    if request.op == "refund":
        purchase = _purchase_by_request(session, device.id, request.ref)
        result = refunds.refund_purchase_locked(
            session, purchase=purchase, amount_rials=request.amount, idempotency_key=key,
            now=now)
        refund = result.refund
        tx = {
            "refund": refund.amount_rials,
            "cash_refund": refund.cash_refund_rials,
            "credit_returned": refund.credit_returned_rials,
            "credit_taken": refund.credit_taken_rials,
            "points_taken": refund.points_taken,
        }
        return refund.ledger_transaction_id, tx, ()
    assert request.op == "topup", request.op
    transaction = wallet.top_up_locked(session, member=member, amount_rials=request.amount,
                                       idempotency_key=key, now=now)
    return transaction.id, {"topup": request.amount}, ()
