"""Answer a terminal's request exactly once (PROTOCOL.md "Semantics").

One database transaction per request: lock the device row, return the stored response
if this (device, id) was answered before, check the sequence number, run the operation,
and store the response body in the same transaction as its balance effects.

Refusals are answers too (issue 17): a refused request rolls back everything it did and
its refusal is stored in a transaction of its own, so a retry of the same frame gets the
same bytes even after the member's balance changed. Only UNAVAILABLE (nothing decided)
and bodies without a readable id are not stored. Each stored answer keeps the digest of
its request's semantic fields; another request under a known id gets ID_REUSED (a
reflashed terminal restarting its sequence), never the other request's answer.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import ledger
from backend.errors import (
    CardBlocked,
    CardUnknown,
    DomainError,
    RefUnknown,
    Replay,
    Stale,
    UnknownDevice,
)
from backend.models import Card, Device, Member, TerminalRequest
from backend.protocol import (
    PROTOCOL_VERSION,
    ProtocolError,
    Request,
    encode_body,
    error_body,
    request_digest,
)
from backend.services import (
    firmware_builds,
    purchase_pipeline,
    purchases,
    refunds,
    terminal_policy,
    texts,
    wallet,
)
from backend.services.purchase_pipeline import reply as purchase_reply
from backend.services.purchase_pipeline import rules as rules_memory

log = logging.getLogger(__name__)
# A synced terminal clock may run a little ahead of ours; beyond this an offline sale's
# ts is not believed and the sale is dated on arrival (issue 17 item 6).
MAX_CLOCK_AHEAD = timedelta(seconds=300)
# Refusals that tell the terminal its sequence floor (it re-issues under a higher seq).
SEQ_FLOOR_CODES = frozenset({"REPLAY", "ID_REUSED"})
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
_DEVICE_SEQ = select(_DEVICES.c.lang, _DEVICES.c.last_seq).where(
    _DEVICES.c.id == bindparam("device_key"))
_INSERT_REQUEST = insert(_REQUESTS)
_STORED_RESPONSE = select(_REQUESTS.c.response_body, _REQUESTS.c.digest).where(
    _REQUESTS.c.device_id == bindparam("device_key"),
    _REQUESTS.c.request_id == bindparam("request_key"))
_FIND_CARD = select(Card).where(Card.number == bindparam("card_number"))


@dataclass(frozen=True)
class Asked:
    """What the store keeps of a request besides its answer (TerminalRequest's columns)."""

    request_id: str
    seq: int  # 0: the body's seq was not a valid one
    op: str
    offline: bool
    digest: str
    card_number: str | None
    amount_rials: int | None

    @classmethod
    def of_request(cls, request: Request) -> "Asked":
        return cls(request.id, request.seq, request.op, request.offline,
                   request_digest(request), request.card or None, request.amount)

    @classmethod
    def of_refused_body(cls, error: ProtocolError) -> "Asked":
        return cls(error.request_id, error.seq, error.op, error.offline, error.digest,
                   None, None)


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


def clock_ahead(request: Request, now: datetime) -> bool:
    """An offline replay from a synced clock dated beyond MAX_CLOCK_AHEAD from now: its
    ts is not believed and the sale is dated on arrival."""
    return (request.offline and request.clk
            and request.ts > (now + MAX_CLOCK_AHEAD).timestamp())


def sale_time(request: Request, now: datetime, offline_window: timedelta) -> datetime:
    """When the sale happened (the purchase is recorded then), or Stale.

    Online: now. Offline replay from an unsynced clock (`clk` 0): now minus the terminal's
    monotonic `age_s`, never the terminal's clock. From a synced clock: its `ts`, clamped
    to now when ahead of it. Either way refused STALE beyond the club's offline window."""
    if not request.offline:
        return now
    if not request.clk:
        sale_at = now - timedelta(seconds=request.age_s or 0)
    else:
        sale_at = datetime.fromtimestamp(request.ts, tz=UTC)
        if sale_at > now + MAX_CLOCK_AHEAD:
            log.warning("offline sale dated %s, %d s ahead of the backend's clock: dated on "
                        "arrival", sale_at.isoformat(), (sale_at - now).total_seconds())
        sale_at = min(sale_at, now)
    age = now - sale_at
    if age > offline_window:
        raise Stale(f"offline request is {age.days} days old")
    return sale_at


def answer(session: Session, device_id: str, request: Request, now: datetime) -> bytes:
    """Return the response body for `request`, committing its effects exactly once.

    A refusal is stored and returned like an answer; raises only UnknownDevice, database
    faults and bugs (nothing committed)."""
    asked = Asked.of_request(request)
    try:
        body = _answer_in_transaction(session, device_id, request, asked, now)
        session.commit()
        return body
    except IntegrityError:
        # Another worker answered the same (device, id) between our check and insert:
        # its committed response is the answer.
        session.rollback()
        return _answer_after_race(session, device_id, asked, now)
    except UnknownDevice:
        session.rollback()
        raise
    except DomainError as refusal:
        session.rollback()  # whatever the refused operation wrote
        terminal_policy.record_refusal(session, refusal, now)  # its audit row, a PIN lock
        return _store_refusal(session, device_id, asked, refusal.code, refusal.message, now)
    except BaseException:
        session.rollback()
        raise


class BatchStopped(Exception):
    """A batch stopped at its item `len(answered)` by `cause` (a database fault, a race,
    a bug): the open transaction was rolled back, and only `answered` — the bodies of the
    items before it that a refusal's own transaction had already committed — stand."""

    def __init__(self, answered: list[bytes], cause: BaseException):
        super().__init__(f"batch stopped after {len(answered)} answers: {cause!r}")
        self.answered = answered
        self.cause = cause


def answer_batch(session: Session, items: list[tuple[str, Request]],
                 now: datetime) -> list[bytes]:
    """The response bodies of several (device id, request)s, the same bytes `answer` would
    give one by one in this order, with one COMMIT for the lot (docs/hot-path.md "Group
    commit"). Each accepted request runs in a SAVEPOINT of its own; a refused one rolls
    back only its savepoint, then what the batch answered so far is committed and the
    refusal is recorded and stored in its own transactions, exactly as `answer` does.

    Nothing may be acknowledged before this returns. Any other exception rolls back the
    open transaction and raises BatchStopped with the answers already committed."""
    bodies: list[bytes] = []
    committed = 0
    try:
        for device_id, request in items:
            asked = Asked.of_request(request)
            savepoint = session.begin_nested()
            try:
                body = _answer_in_transaction(session, device_id, request, asked, now)
                savepoint.commit()  # flushes inside the savepoint: a fault stays confined
            except DomainError as refusal:
                if isinstance(refusal, UnknownDevice) or not savepoint.is_active:
                    raise
                savepoint.rollback()
                session.commit()  # the answers before it; the refusal's writes commit apart
                committed = len(bodies)
                terminal_policy.record_refusal(session, refusal, now)
                body = _store_refusal(session, device_id, asked, refusal.code,
                                      refusal.message, now)
                committed += 1
            bodies.append(body)
        session.commit()
        return bodies
    except Exception as error:
        session.rollback()
        raise BatchStopped(bodies[:committed], error) from error
    except BaseException:
        session.rollback()
        raise


def refuse_body(session: Session, device_id: str, error: ProtocolError,
                now: datetime) -> bytes:
    """Store and return the refusal of a body that failed validation but names its id."""
    assert error.request_id is not None, "a body without an id is answered, not stored"
    return _store_refusal(session, device_id, Asked.of_refused_body(error), error.code,
                          error.message, now)


def refusal_body(lang: str, request_id: str | None, code: str, detail: str, now: datetime,
                 last_seq: int | None = None) -> bytes:
    body = error_body(request_id, code, texts.error_text(lang, code, detail),
                      int(now.timestamp()))
    if code in SEQ_FLOOR_CODES:
        body["last_seq"] = last_seq
    return encode_body(body)


def _stored(session: Session, device_id: str, request_id: str):
    return session.execute(
        _STORED_RESPONSE, {"device_key": device_id, "request_key": request_id}
    ).one_or_none()


def _stored_or_reused(stored, asked: Asked, lang: str, last_seq: int, now: datetime) -> bytes:
    """The stored answer if it answered this request (a row from before digests were
    kept answers any), else ID_REUSED: never another request's answer."""
    if stored.digest is None or stored.digest == asked.digest:
        return stored.response_body.encode("utf-8")
    log.warning("request id %s reused by a different request (seq %d, last %d)",
                asked.request_id, asked.seq, last_seq)
    return refusal_body(lang, asked.request_id, "ID_REUSED", "", now, last_seq)


def _answer_after_race(session: Session, device_id: str, asked: Asked, now: datetime) -> bytes:
    try:
        stored = _stored(session, device_id, asked.request_id)
        if stored is None:
            raise RuntimeError(f"{device_id}/{asked.request_id}: unique key refused the "
                               "answer but no answer is stored")
        device = session.execute(_DEVICE_SEQ, {"device_key": device_id}).one()
        return _stored_or_reused(stored, asked, device.lang, device.last_seq, now)
    finally:
        session.rollback()


def _insert_answer(session: Session, device_id: str, asked: Asked, code: str, body: bytes,
                   now: datetime, transaction_id: int | None) -> None:
    session.execute(_INSERT_REQUEST, {
        "device_id": device_id, "request_id": asked.request_id, "seq": asked.seq,
        "op": asked.op, "received_at": now, "response_body": body.decode("utf-8"),
        "ledger_transaction_id": transaction_id, "digest": asked.digest, "code": code,
        "offline": asked.offline, "card_number": asked.card_number,
        "amount_rials": asked.amount_rials,
    })


def _store_refusal(session: Session, device_id: str, asked: Asked, code: str, detail: str,
                   now: datetime) -> bytes:
    """Store a refusal in a transaction of its own (the device row locked again, the
    store checked again: a concurrent worker may have answered the id meanwhile)."""
    try:
        device = session.execute(
            _LOCK_DEVICE, {"device_key": device_id, "seen_at": now}).one_or_none()
        if device is None:
            raise UnknownDevice(f"device {device_id!r} is unknown or revoked")
        stored = _stored(session, device_id, asked.request_id)
        if stored is not None:
            body = _stored_or_reused(stored, asked, device.lang, device.last_seq, now)
        else:
            body = refusal_body(device.lang, asked.request_id, code, detail, now,
                                device.last_seq)
            # The refused request's seq is used up, like an accepted one's.
            if asked.seq > device.last_seq:
                session.execute(_SET_LAST_SEQ, {"device_key": device_id, "new_seq": asked.seq})
            _insert_answer(session, device_id, asked, code, body, now, None)
        session.commit()
        return body
    except IntegrityError:
        session.rollback()
        return _answer_after_race(session, device_id, asked, now)
    except BaseException:
        session.rollback()
        raise


def _answer_in_transaction(
    session: Session, device_id: str, request: Request, asked: Asked, now: datetime
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
    stored = _stored(session, device_id, request.id)
    if stored is not None:
        log.info("repeat of %s/%s answered from store", device_id, request.id)
        return _stored_or_reused(stored, asked, device.lang, last_seq, now)
    if request.seq <= last_seq:
        raise Replay(f"seq {request.seq} is not above {last_seq}")
    if request.op == "ota":
        return _answer_ota(session, device, request, asked, now)
    # Settings and tiers from the process's memory, checked by their version here.
    rules = rules_memory.current(session)
    club = rules.club
    sold_at = sale_time(request, now, timedelta(days=club.offline_window_days))

    if request.op == "refund":
        card, member = _refund_target(session, device_id, request)
        member_id = member.id
    else:
        card = find_card(session, request.card)
        member_id = card.member_id
    terminal_policy.check(session, device, request, card, now)  # top-up and refund rules
    member = ledger.lock_member(session, member_id)
    transaction_id, tx, offers = _run_op(session, device, card, member, request, sold_at,
                                         rules)
    bal = {"credit": member.credit_balance_rials, "points": member.points_balance}
    lang = device.lang
    tier = rules.tier(member.tier_id)  # after the operation: a tier it moved to
    tier_name = tier.name_fa if lang == "fa" and tier.name_fa else tier.name
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
    _insert_answer(session, device.id, asked, "OK", body, now, transaction_id)
    return body


def _answer_ota(session: Session, device, request: Request, asked: Asked,
                now: datetime) -> bytes:
    """op "ota": a trial boot of a new firmware confirms it reached the broker; its
    rollout row says `running` (docs/protocol.md). Stored like every answer, so a retry of
    the id gets the same bytes; no ledger row."""
    firmware_builds.confirm(session, device.id, request.ver, now)
    body = encode_body({"v": PROTOCOL_VERSION, "id": request.id, "ok": True, "code": "OK",
                        "msg": "", "ts": int(now.timestamp())})
    session.execute(_SET_LAST_SEQ, {"device_key": device.id, "new_seq": request.seq})
    _insert_answer(session, device.id, asked, "OK", body, now, None)
    return body


def _refund_target(session: Session, device_id: str, request: Request) -> tuple[Card, Member]:
    """The card and member of the purchase a refund names; the card must be theirs.

    A card reported lost after the purchase may still be refunded."""
    card = session.scalars(select(Card).where(Card.number == request.card)).one_or_none()
    purchase = purchases.by_terminal_request(session, device_id, request.ref)
    if card is None or purchase is None or card.member_id != purchase.member_id:
        raise RefUnknown(f"no purchase {request.ref} on this card from {device_id}")
    return card, card.member


def _run_op(session, device, card, member, request: Request, now, rules=None):
    """Run the request's operation; returns (ledger transaction id, tx, offer names).
    `now` is when the sale happened (an offline purchase's date, see sale_time)."""
    key = f"dev:{device.id}:{request.id}"
    if request.op == "lookup":
        return None, None, ()
    if request.op == "purchase":
        result = purchase_pipeline.run(
            session, member=member, card=card, branch_id=device.branch_id, device_id=device.id,
            idempotency_key=key, amount_rials=request.amount, use_credit_rials=request.use_credit,
            offline=request.offline, now=now,
            items=[purchase_pipeline.ItemRequest(item.sku, item.qty, item.price)
                   for item in request.items or ()],
            # No stored answer for (device, id) in this transaction, so no ledger
            # transaction under its key either: both commit together.
            key_is_new=True,
            use_points=request.use_points,
            rules=rules,  # read by the caller in this transaction
        )
        purchase = result.purchase
        tx = purchase_reply.of_purchase(
            purchase, result.offer_names,
            tier_up=result.tier_change.to_code if result.tier_change else None,
            points=((result.points_used, result.points_credit_rials)
                    if request.use_points else None))
        return purchase.ledger_transaction_id, tx, result.offer_names
    if request.op == "refund":
        purchase = purchases.by_terminal_request(session, device.id, request.ref)
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
