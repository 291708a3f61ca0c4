"""Send what the outbox holds: claim, render, count the quota, send, retry or give up.

One message at a time goes through short transactions, and no transaction is open
while a provider is called (on SQLite a transaction holds the database's write lock):

1. claim — a batch of due rows becomes "sending" with a lease. On PostgreSQL the rows
   are picked with `SELECT … FOR UPDATE SKIP LOCKED`, so several jobs processes share
   the outbox without waiting on each other or taking a row twice; on SQLite the
   claiming transaction holds the database lock (BEGIN IMMEDIATE), which serialises
   claims just as well. A row whose lease ran out (its process died mid-send) is due
   again.
2. prepare — cancel what must not go any more (expired, switched off, opted out);
   render automatic messages from their template and count SMS parts.
3. quota — SMS parts are taken from the club's quota with one conditional UPDATE; a
   promotional message may not dip into the reserve kept for transactional ones.
   Without quota the message fails at once (see docs/messages.md "Quota").
4. send — outside any transaction. Success: "sent" (or "delivered" when the provider
   says so at once). Failure: the parts go back to the quota and the message is queued
   again after an exponential backoff, until it has had MAX_ATTEMPTS attempts or the
   provider says retrying cannot help; then it is "failed" with the error.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from backend.models import Club, Member, Message, MessageSettings, MessageTemplate, the_club
from backend.notifications import sms, templates
from backend.notifications.providers import Outgoing, Provider, ProviderError
from backend.unit_of_work import SYSTEM, in_unit_of_work, unit_of_work

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 5
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_CAP = timedelta(minutes=30)
# Longer than any provider timeout: only a dead process leaves a lease to run out.
LEASE = timedelta(minutes=5)
BATCH_SIZE = 50
MAX_ERROR_LENGTH = 500
# Delivery reports are asked for this long after sending, at most this often per row.
DELIVERY_CHECK_WINDOW = timedelta(days=2)
DELIVERY_CHECK_EVERY = timedelta(minutes=5)
DELIVERY_CHECK_BATCH = 100
REDACTED = "[code removed after sending]"
SENSITIVE_KINDS = frozenset({"otp"})

Clock = Callable[[], datetime]


@dataclass
class DispatchReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + self.cancelled


def backoff(attempts: int) -> timedelta:
    """Wait before attempt `attempts + 1`: 30 s, 1 min, 2 min … at most 30 min."""
    assert attempts >= 1
    return min(BACKOFF_BASE * 2 ** (attempts - 1), BACKOFF_CAP)


def settings(session: Session) -> MessageSettings:
    row = session.get(MessageSettings, 1)
    assert row is not None, "the message settings row is created by migration 0007"
    return row


def due_rows(now: datetime, limit: int):
    """The next due messages, locked; rows another process holds are skipped (only
    PostgreSQL has row locks; SQLite renders no FOR UPDATE and has the database lock)."""
    due = or_(
        and_(Message.status == "queued", Message.next_attempt_at <= now),
        and_(Message.status == "sending", Message.lease_until < now),
    )
    return (select(Message.id).where(due)
            .order_by(Message.priority, Message.next_attempt_at, Message.id)
            .limit(limit).with_for_update(skip_locked=True))


def claim(session: Session, now: datetime, limit: int = BATCH_SIZE) -> list[int]:
    """Mark up to `limit` due messages "sending" for this process, in its own unit of
    work (committed when this returns); their ids."""
    with unit_of_work(session, SYSTEM):
        ids = list(session.scalars(due_rows(now, limit)))
        if ids:
            session.execute(
                update(Message).where(Message.id.in_(ids))
                .values(status="sending", lease_until=now + LEASE,
                        attempts=Message.attempts + 1)
                .execution_options(synchronize_session=False))
        return ids


def dispatch_due(session: Session, providers: dict[str, Provider], clock: Clock,
                 limit: int = BATCH_SIZE, config: dict | None = None) -> DispatchReport:
    """Claim and send one batch. Returns what happened to each message.

    Every step is its own unit of work, so it cannot run inside a caller's: the
    provider is called with nothing of ours locked."""
    assert not in_unit_of_work(session), "the dispatcher commits between its steps"
    report = DispatchReport()
    for message_id in claim(session, clock(), limit):
        try:
            outcome = _process(session, providers, message_id, clock, config or {})
        except Exception as error:  # a bug must not stop the queue: log, retry later
            # (the step's unit of work rolled back what it had done)
            log.exception("message %s could not be processed", message_id)
            _finish_failure(session, message_id, f"internal error: {error!r}", False, 0,
                            clock())
            outcome = "retried"
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


def _process(session: Session, providers: dict[str, Provider], message_id: int,
             clock: Clock, config: dict) -> str:
    # One unit of work up to the provider call, committed (or a finished outcome
    # returned) before it: nothing of ours is locked while the provider works.
    with unit_of_work(session, SYSTEM):
        message = session.get(Message, message_id, populate_existing=True)
        now = clock()
        current = settings(session)
        member = session.get(Member, message.member_id) if message.member_id else None
        if message.attempts > MAX_ATTEMPTS:  # its processes kept dying mid-send
            _finish(message, "failed", error=f"gave up after {MAX_ATTEMPTS} attempts",
                    now=now)
            return "failed"
        reason = _cancel_reason(message, member, current, now)
        if reason:
            _finish(message, "cancelled", error=reason, now=now)
            return "cancelled"
        if not message.body:
            _render(session, message, member, current, config)
        if message.channel == "sms":
            message.parts = sms.parts(message.body)
            if not take_quota(session, message.parts, message.category == "promotional"):
                _finish(message, "failed", error="SMS quota used up", now=now)
                return "failed"
        provider = providers[message.channel]
        outgoing = Outgoing(message.id, message.channel, message.recipient, message.subject,
                            message.body)
        parts, attempts = message.parts, message.attempts
        message.provider = provider.name

    try:
        result = provider.send(outgoing)
    except ProviderError as error:
        return _finish_failure(session, message_id, str(error), error.permanent, parts,
                               clock(), attempts)
    except Exception as error:  # an unexpected answer or a provider library's bug
        log.exception("%s failed on message %s", provider.name, message_id)
        return _finish_failure(session, message_id, f"{provider.name}: {error!r}", False,
                               parts, clock(), attempts)
    with unit_of_work(session, SYSTEM):
        message = session.get(Message, message_id, populate_existing=True)
        _finish(message, "delivered" if result.delivered else "sent", now=clock(),
                reference=result.reference)
    return "sent"


def _finish_failure(session: Session, message_id: int, error: str, permanent: bool,
                    parts: int, now: datetime, attempts: int | None = None) -> str:
    with unit_of_work(session, SYSTEM):
        if parts:
            give_back_quota(session, parts)
        message = session.get(Message, message_id, populate_existing=True)
        attempts = message.attempts if attempts is None else attempts
        if permanent or attempts >= MAX_ATTEMPTS:
            _finish(message, "failed", error=error, now=now)
            outcome = "failed"
        else:
            message.status, message.lease_until = "queued", None
            message.next_attempt_at = now + backoff(attempts)
            message.error = error[:MAX_ERROR_LENGTH]
            outcome = "retried"
    log.warning("message %s attempt %s: %s (%s)", message_id, attempts, error, outcome)
    return outcome


def _finish(message: Message, status: str, *, now: datetime, error: str = "",
            reference: str = "") -> None:
    message.status, message.lease_until = status, None
    if error:
        message.error = error[:MAX_ERROR_LENGTH]
    if reference:
        message.provider_ref = reference[:64]
    if status in ("sent", "delivered"):
        message.sent_at = now
    if status == "delivered":
        message.delivered_at = now
    if message.kind in SENSITIVE_KINDS:
        # The code has done its job (or never will): keep no readable copy of it.
        message.params, message.body = {}, REDACTED if message.body else ""


def _cancel_reason(message: Message, member: Member | None, current: MessageSettings,
                   now: datetime) -> str:
    if message.expires_at is not None and message.expires_at <= now:
        return "expired before it could be sent"
    kind = templates.KINDS.get(message.kind)
    if kind is not None and kind.can_disable and message.kind in (current.disabled_kinds or []):
        return "this automatic message is switched off"
    if message.category == "promotional" and member is not None and member.promotional_opt_out:
        return "the member opted out of promotional messages"
    if kind is not None and kind.needs_member and member is None:
        return "the member no longer exists"
    return ""


def message_language(member: Member | None, current: MessageSettings) -> str:
    if member is not None and member.message_language in templates.LANGUAGES:
        return member.message_language
    return current.default_language


def template_text(session: Session, key: str, language: str) -> str:
    custom = session.scalars(select(MessageTemplate.body).where(
        MessageTemplate.key == key, MessageTemplate.language == language)).first()
    return custom or templates.DEFAULTS[key][language]


def common_values(member: Member | None, club: Club | None, language: str,
                  config: dict) -> dict[str, str]:
    club_name = ""
    if club is not None:
        club_name = club.name_fa if language == "fa" and club.name_fa else club.name
    return {
        "first_name": member.first_name if member else "",
        "last_name": member.last_name if member else "",
        "club": club_name,
        "portal_url": config.get("PUBLIC_URL", "http://127.0.0.1:5000").rstrip("/") + "/portal/",
    }


def _render(session: Session, message: Message, member: Member | None,
            current: MessageSettings, config: dict) -> None:
    language = message.language or message_language(member, current)
    club = the_club(session)
    unit = club.currency_display if club is not None else "rial"
    values = common_values(member, club, language, config)
    values.update(templates.values_for(message.params or {}, language, unit))
    text = template_text(session, message.kind, language)
    try:
        body = templates.render(text, values)
    except (KeyError, ValueError, IndexError):
        # A stored text that no longer fits (edited outside the panel): the built-in
        # one still says the right thing.
        log.warning("template %s/%s is broken; using the built-in text", message.kind,
                    language)
        body = templates.render(templates.DEFAULTS[message.kind][language], values)
    message.language, message.body = language, body


def take_quota(session: Session, parts: int, promotional: bool) -> bool:
    """Take `parts` SMS parts from the quota if they are there; the UPDATE's condition
    makes the check and the take one step, whatever runs at the same time."""
    limit = MessageSettings.sms_quota
    if promotional:
        limit = limit - MessageSettings.sms_promotional_reserve
    taken = session.execute(
        update(MessageSettings)
        .where(MessageSettings.id == 1, MessageSettings.sms_used + parts <= limit)
        .values(sms_used=MessageSettings.sms_used + parts)
        .execution_options(synchronize_session=False)).rowcount
    return taken == 1


def give_back_quota(session: Session, parts: int) -> None:
    session.execute(
        update(MessageSettings)
        .where(MessageSettings.id == 1, MessageSettings.sms_used >= parts)
        .values(sms_used=MessageSettings.sms_used - parts)
        .execution_options(synchronize_session=False))


def check_deliveries(session: Session, providers: dict[str, Provider], now: datetime,
                     limit: int = DELIVERY_CHECK_BATCH) -> int:
    """Ask the providers which sent messages arrived; returns how many changed.

    The read and the write are two units of work: no transaction is open while a
    provider answers."""
    assert not in_unit_of_work(session), "the delivery check commits between its steps"
    changed = 0
    for channel, provider in providers.items():
        with unit_of_work(session, SYSTEM):
            rows = session.execute(
                select(Message.id, Message.provider_ref).where(
                    Message.status == "sent", Message.channel == channel,
                    Message.provider == provider.name, Message.provider_ref != "",
                    Message.sent_at > now - DELIVERY_CHECK_WINDOW,
                    or_(Message.checked_at.is_(None),
                        Message.checked_at < now - DELIVERY_CHECK_EVERY))
                .order_by(Message.checked_at.is_not(None), Message.checked_at, Message.id)
                .limit(limit)).all()
        if not rows:
            continue
        try:
            statuses = provider.delivery_status([ref for _id, ref in rows])
        except ProviderError as error:
            log.warning("delivery check with %s failed: %s", provider.name, error)
            continue
        with unit_of_work(session, SYSTEM):
            for message_id, reference in rows:
                status = statuses.get(reference, "sent")
                values = {"checked_at": now}
                if status == "delivered":
                    values.update(status="delivered", delivered_at=now)
                    changed += 1
                elif status == "failed":
                    values.update(status="failed",
                                  error="the provider could not deliver it")
                    changed += 1
                session.execute(update(Message).where(
                    Message.id == message_id, Message.status == "sent").values(**values)
                    .execution_options(synchronize_session=False))
    return changed
