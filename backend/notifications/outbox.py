"""Queue messages in the caller's transaction.

Enqueuing is an `INSERT` into `message` and nothing more: no provider I/O, no template
lookup, no rendering — the purchase path pays for one row. The dispatcher renders and
sends later (backend.notifications.dispatcher). Everything here runs inside the use
case's own transaction, so a message exists exactly when its event committed.

Transactional messages always go (N2); promotional ones are not queued for a member
who opted out (and are cancelled at send time if the member opted out meanwhile).
"""

from datetime import datetime, timedelta

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from backend.models import Member, Message
from backend.notifications import sms
from backend.notifications.templates import KINDS

# Built once: the purchase's thank-you is written on every purchase.
_INSERT_MESSAGE = insert(Message.__table__)


def enqueue(session: Session, *, kind: str, recipient: str, now: datetime,
            member: Member | None = None, **options) -> Message | None:
    """Add one message to the session (flushed with the caller's other rows).

    Automatic kinds (templates.KINDS) are rendered at send time from `params`; other
    kinds (a campaign, news) pass their `body` rendered and a `category`. Returns None,
    queuing nothing, for a promotional message to a member who opted out. `options`:
    params, channel ("sms"), category, body, subject, language, dedupe_key, expires_at,
    campaign_id.
    """
    columns = _columns(kind, recipient, now, member, **options)
    if columns is None:
        return None
    message = Message(**columns)
    session.add(message)
    return message


def insert_now(session: Session, *, kind: str, recipient: str, now: datetime,
               member: Member | None = None, **options) -> None:
    """`enqueue`, written at once by a prebuilt Core INSERT and no ORM object: for the
    purchase's hot path, which never reads the message back (docs/hot-path.md)."""
    columns = _columns(kind, recipient, now, member, **options)
    if columns is not None:
        session.execute(_INSERT_MESSAGE, columns)


def _columns(kind: str, recipient: str, now: datetime, member: Member | None, *,
             params: dict | None = None, channel: str = "sms", category: str | None = None,
             body: str = "", subject: str = "", language: str = "",
             dedupe_key: str | None = None, expires_at: datetime | None = None,
             campaign_id: int | None = None) -> dict | None:
    """The message row's columns, or None for a promotional message to a member who
    opted out."""
    known = KINDS.get(kind)
    category = category or (known.category if known else None)
    assert category in ("transactional", "promotional"), f"no category for {kind!r}"
    assert channel in ("sms", "email"), channel
    assert recipient, "a message needs a recipient"
    assert known is not None or body, f"{kind!r} is not a template: give its body"
    if category == "promotional" and member is not None and member.promotional_opt_out:
        return None
    priority = known.priority if known else (2 if category == "promotional" else 1)
    return {
        "channel": channel, "kind": kind, "category": category, "priority": priority,
        "member_id": member.id if member is not None else None, "campaign_id": campaign_id,
        "recipient": recipient, "language": language, "params": params or {},
        "subject": subject, "body": body,
        "parts": sms.parts(body) if channel == "sms" else 0, "status": "queued",
        "attempts": 0, "next_attempt_at": now, "expires_at": expires_at,
        "dedupe_key": dedupe_key, "created_at": now,
    }


def _reachable(member: Member) -> bool:
    return bool(member.mobile) and not member.is_gift_account


def purchase_thanks(session: Session, member: Member, purchase, now: datetime) -> None:
    """N1: thank-you with what the purchase earned and the balances after it."""
    if not _reachable(member):
        return
    insert_now(session, kind="purchase", recipient=member.mobile, member=member, now=now,
               dedupe_key=f"purchase:{purchase.id}", params={
                   "amount": purchase.amount_rials,
                   "credit_earned": purchase.credit_earned_rials,
                   "points_earned": purchase.points_earned,
                   "credit_balance": member.credit_balance_rials,
                   "points_balance": member.points_balance, "date": now.isoformat()})


def credit_increase(session: Session, member: Member, amount_rials: int, key: str,
                    now: datetime) -> None:
    """N1: credit came in outside a purchase (top-up, grant, transfer, referral bonus).
    `key` names the movement (its ledger idempotency key) so it is announced once."""
    if not _reachable(member) or amount_rials <= 0:
        return
    dedupe_key = f"credit:{key}"[:120]
    if session.scalar(select(Message.id).where(Message.dedupe_key == dedupe_key)):
        return  # the same movement again (a resubmitted form): already announced
    enqueue(session, kind="credit_increase", recipient=member.mobile, member=member, now=now,
            dedupe_key=dedupe_key, params={
                "amount": amount_rials, "credit_balance": member.credit_balance_rials,
                "date": now.isoformat()})


def tier_upgrade(session: Session, member: Member, tier_names: dict[str, str],
                 tier_change_id: int, now: datetime) -> None:
    """L3: the member moved up. `tier_names` holds the new tier's name per language."""
    if not _reachable(member):
        return
    enqueue(session, kind="tier_upgrade", recipient=member.mobile, member=member, now=now,
            dedupe_key=f"tier:{tier_change_id}", params={"tier": tier_names})


def welcome(session: Session, member: Member, card_number: str, now: datetime) -> None:
    """M2: a new member's login details: card number and how to sign in to the portal
    (with the mobile and an SMS code; no password is ever put in a message)."""
    if not _reachable(member):
        return
    enqueue(session, kind="welcome", recipient=member.mobile, member=member, now=now,
            dedupe_key=f"welcome:{member.id}", params={"card": card_number})


def verification_code(session: Session, mobile: str, code: str, minutes: int,
                      member: Member | None, now: datetime) -> None:
    """A one-time code; worthless once expired, so it is never sent after that."""
    enqueue(session, kind="otp", recipient=mobile, member=member, now=now,
            params={"code": code, "minutes": minutes},
            expires_at=now + timedelta(minutes=minutes))
