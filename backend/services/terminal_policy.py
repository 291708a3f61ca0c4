"""What a terminal may do with money (issue 17 item 5, issue 15 item 8).

Top-ups and refunds are per-terminal settings: a top-up is off until the panel turns it
on with a per-transaction and a per-day limit; a refund is on, needs the refund PIN set
for the terminal or its branch, must name a purchase of the scanned card made inside the
refund window, and has optional limits of its own. `check` runs inside the terminal
service's transaction (the device row is locked, so a terminal's daily totals cannot
race); a refusal raises NotAllowed, PinWrong, TooLate or RefUnknown with a message ready
for the terminal's screen in its language.

A refusal rolls the request's transaction back, so what must outlive it — the audit row
and, after too many wrong PINs, the lock — is carried on the error and written by
`record_refusal` in a transaction of its own.
"""

import logging
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from backend.engine.calendar import local_day_start
from backend.errors import BadRequest, NotAllowed, NotFound, PinWrong, RefUnknown, TooLate
from backend.models import (
    AuditLog,
    Branch,
    Device,
    LedgerEntry,
    Refund,
    TerminalRequest,
)
from backend.services import purchases, terminal_commands
from backend.services.texts import format_rials
from backend.unit_of_work import Actor, unit_of_work
from backend.validators import MAX_AMOUNT_RIALS
from card_spec import normalize_digits

log = logging.getLogger(__name__)

PIN_PATTERN = re.compile(r"[0-9]{4,8}")
MAX_WRONG_PINS = 5
WRONG_PIN_PERIOD = timedelta(minutes=15)
LOCK_DURATION = timedelta(minutes=15)
MAX_WINDOW_HOURS = 90 * 24  # 2160, as the messages say

# Audit actions (entity "device", entity_id the terminal): every refusal of this module,
# the wrong PINs among them (counted for the lock), and the lock itself.
AUDIT_REFUSED = "terminal_refused"
AUDIT_PIN_WRONG = "terminal_refund_pin_wrong"
AUDIT_LOCKED = "terminal_refunds_locked"
REFUSAL_ACTIONS = (AUDIT_REFUSED, AUDIT_PIN_WRONG)

# The terminal's screen: English in the 8×8 ASCII font, Persian for `lang: fa` terminals.
# Appended to the code's own text (backend/services/texts.py DETAIL_CODES).
TEXTS = {
    "en": {
        "topup_off": "top-up is off here; set it in the panel",
        "refund_off": "refund is off here; set it in the panel",
        "topup_each": "at most {limit} per top-up",
        "refund_each": "at most {limit} per refund",
        "topup_day": "daily top-up limit {limit}, {left} left today",
        "refund_day": "daily refund limit {limit}, {left} left today",
        "pin_missing": "set a refund PIN in the panel",
        "pin_wrong": "tries left: {tries}",
        "pin_locked": "refunds locked for {minutes} min",
        "too_late": "refund only within {hours} h",
    },
    "fa": {
        "topup_off": "شارژ در این پایانه خاموش است؛ در پنل روشن کنید",
        "refund_off": "بازگشت خرید در این پایانه خاموش است؛ در پنل روشن کنید",
        "topup_each": "حداکثر {limit} ریال در هر شارژ",
        "refund_each": "حداکثر {limit} ریال در هر بازگشت",
        "topup_day": "سقف روزانهٔ شارژ {limit} ریال، {left} ریال مانده",
        "refund_day": "سقف روزانهٔ بازگشت {limit} ریال، {left} ریال مانده",
        "pin_missing": "رمز بازگشت خرید را در پنل تعیین کنید",
        "pin_wrong": "{tries} فرصت دیگر",
        "pin_locked": "بازگشت خرید {minutes} دقیقه قفل شد",
        "too_late": "بازگشت فقط تا {hours} ساعت",
    },
}


@dataclass(frozen=True)
class Refusal:
    """What `record_refusal` writes after the request's transaction is rolled back."""

    device_id: str
    reason: str                  # a key of TEXTS
    details: dict = field(default_factory=dict)
    wrong_pin: bool = False


def _refuse(error_class, device, request, reason: str, wrong_pin=False, **numbers):
    texts = TEXTS.get(device.lang, TEXTS["en"])
    shown = {key: format_rials(value) if key in ("limit", "left") else value
             for key, value in numbers.items()}
    error = error_class(texts[reason].format(**shown))
    error.refusal = Refusal(device.id, reason, {
        "op": request.op, "request_id": request.id, "card": request.card[-4:],
        "amount_rials": request.amount, "code": error_class.code, "reason": reason, **numbers,
    }, wrong_pin)
    return error


# The terminal's settings, the PIN and window resolved against its branch's.
_LOAD_SETTINGS = (
    select(Device.topup_allowed, Device.topup_max_rials, Device.topup_max_per_day_rials,
           Device.refund_allowed, Device.refund_max_rials, Device.refund_max_per_day_rials,
           func.coalesce(Device.refund_pin_hash, Branch.refund_pin_hash).label("pin_hash"),
           func.coalesce(Device.refund_window_hours,
                         Branch.refund_window_hours).label("window_hours"),
           Device.refund_locked_until.label("locked_until"))
    .join(Branch, Branch.id == Device.branch_id))


def _settings(session: Session, device_id: str):
    return session.execute(_LOAD_SETTINGS.where(Device.id == device_id)).one()


def check(session: Session, device, request, card, now: datetime) -> None:
    """Refuse a top-up or refund this terminal may not perform; other ops pass.

    `device` is the locked device row (id, branch_id, lang); `card` the scanned card."""
    if request.op == "topup":
        _check_topup(session, device, request, now)
    elif request.op == "refund":
        _check_refund(session, device, request, card, now)


def _check_limits(device, request, op: str, amount: int, each: int | None,
                  per_day: int | None, done_today) -> None:
    """Refuse above the lower of the two limits, naming it: the message then says how much
    the terminal may still do now."""
    left = None if per_day is None else max(0, per_day - int(done_today()))  # a Decimal on PG
    if each is not None and amount > each and (left is None or each <= left):
        raise _refuse(NotAllowed, device, request, f"{op}_each", limit=each)
    if left is not None and amount > left:
        raise _refuse(NotAllowed, device, request, f"{op}_day", limit=per_day, left=left)


def _check_topup(session, device, request, now) -> None:
    settings = _settings(session, device.id)
    if not settings.topup_allowed:
        raise _refuse(NotAllowed, device, request, "topup_off")
    _check_limits(device, request, "topup", request.amount, settings.topup_max_rials,
                  settings.topup_max_per_day_rials,
                  lambda: _topped_up_today(session, device.id, now))


def _check_refund(session, device, request, card, now) -> None:
    settings = _settings(session, device.id)
    if not settings.refund_allowed:
        raise _refuse(NotAllowed, device, request, "refund_off")
    if settings.locked_until is not None and now < settings.locked_until:
        minutes = -(-(settings.locked_until - now) // timedelta(minutes=1))
        raise _refuse(PinWrong, device, request, "pin_locked", minutes=minutes)
    if settings.pin_hash is None:
        raise _refuse(PinWrong, device, request, "pin_missing")
    if not request.pin or not check_password_hash(settings.pin_hash, request.pin):
        tries = MAX_WRONG_PINS - 1 - _wrong_pins(session, device.id, now)
        if tries <= 0:
            raise _refuse(PinWrong, device, request, "pin_locked", wrong_pin=True,
                          minutes=LOCK_DURATION // timedelta(minutes=1))
        raise _refuse(PinWrong, device, request, "pin_wrong", wrong_pin=True, tries=tries)

    purchase = purchases.by_terminal_request(session, device.id, request.ref)
    remaining = 0 if purchase is None else purchase.amount_rials - purchase.refunded_amount_rials
    if purchase is None or card is None or purchase.card_id != card.id or remaining <= 0:
        raise RefUnknown(f"no purchase {request.ref} of this card left to refund")
    if now - purchase.created_at > timedelta(hours=settings.window_hours):
        raise _refuse(TooLate, device, request, "too_late", hours=settings.window_hours)
    amount = remaining if request.amount is None else request.amount
    _check_limits(device, request, "refund", amount, settings.refund_max_rials,
                  settings.refund_max_per_day_rials,
                  lambda: _refunded_today(session, device.id, now))


def _topped_up_today(session: Session, device_id: str, now: datetime) -> int:
    return session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount), 0))
        .join(TerminalRequest,
              TerminalRequest.ledger_transaction_id == LedgerEntry.transaction_id)
        .where(TerminalRequest.device_id == device_id, TerminalRequest.op == "topup",
               TerminalRequest.received_at >= local_day_start(now),
               LedgerEntry.account == "credit"))


def _refunded_today(session: Session, device_id: str, now: datetime) -> int:
    return session.scalar(
        select(func.coalesce(func.sum(Refund.amount_rials), 0))
        .join(TerminalRequest,
              TerminalRequest.ledger_transaction_id == Refund.ledger_transaction_id)
        .where(TerminalRequest.device_id == device_id, TerminalRequest.op == "refund",
               TerminalRequest.received_at >= local_day_start(now)))


def _wrong_pins(session: Session, device_id: str, now: datetime) -> int:
    return session.scalar(
        select(func.count()).select_from(AuditLog)
        .where(AuditLog.action == AUDIT_PIN_WRONG, AuditLog.entity == "device",
               AuditLog.entity_id == device_id, AuditLog.at > now - WRONG_PIN_PERIOD))


def record_refusal(session: Session, error: BaseException, now: datetime) -> None:
    """Audit a refusal of `check` (and lock refunds after the last allowed wrong PIN), in
    a transaction of its own: the caller has rolled the request back. Other errors pass.
    Never raises: the terminal gets its refusal even if this cannot be written."""
    refusal = getattr(error, "refusal", None)
    if not isinstance(refusal, Refusal):
        return
    try:
        # Dated `now`, the request's time, which the wrong-PIN count is measured against.
        action = AUDIT_PIN_WRONG if refusal.wrong_pin else AUDIT_REFUSED
        session.add(AuditLog(at=now, action=action, entity="device",
                             entity_id=refusal.device_id, details=refusal.details))
        if refusal.wrong_pin and refusal.reason == "pin_locked":
            session.execute(update(Device).where(Device.id == refusal.device_id)
                            .values(refund_locked_until=now + LOCK_DURATION))
            session.add(AuditLog(at=now, action=AUDIT_LOCKED, entity="device",
                                 entity_id=refusal.device_id,
                                 details={"until": (now + LOCK_DURATION).isoformat()}))
        session.commit()
    except Exception:
        session.rollback()
        log.exception("refusal of %s not audited", refusal.device_id)


# The panel's side: settings of a terminal and of a branch.

def hash_pin(typed: str) -> str:
    """The stored hash of a refund PIN typed in any digits; BadRequest if not 4–8 digits."""
    pin = normalize_digits(typed.strip())
    if not PIN_PATTERN.fullmatch(pin):
        raise BadRequest("refund_pin", "A refund PIN is 4 to 8 digits.")
    return generate_password_hash(pin)


def _check_window(hours: int | None) -> None:
    if hours is not None and not 1 <= hours <= MAX_WINDOW_HOURS:
        raise BadRequest("refund_window_hours", "The refund window is 1 to 2160 hours.")


@dataclass(frozen=True)
class TerminalSettings:
    topup_allowed: bool
    topup_max_rials: int | None
    topup_max_per_day_rials: int | None
    refund_allowed: bool
    refund_max_rials: int | None
    refund_max_per_day_rials: int | None
    refund_window_hours: int | None    # None: the branch's
    refund_pin: str = ""               # typed; empty: unchanged
    clear_refund_pin: bool = False     # use the branch's PIN again


_LIMIT_FIELDS = ("topup_max_rials", "topup_max_per_day_rials", "refund_max_rials",
                 "refund_max_per_day_rials")


def save_terminal_settings(session: Session, device_id: str, settings: TerminalSettings,
                           branch_id: int | None = None, *, actor: Actor) -> dict:
    """Store a terminal's permissions, limits, window and PIN, audited
    `terminal_settings`; returns what changed (never the PIN). `branch_id` limits an
    operator to their branch. A new PIN of an active terminal is staged in its remote
    config too (the terminal checks its own PIN, issue 16); the caller then sends it."""
    with unit_of_work(session, actor) as work:
        changes = _save_terminal_settings(session, device_id, settings, branch_id)
        work.audit("terminal_settings", "device", device_id, {"changes": changes})
        device = session.get(Device, device_id)
        if "refund_pin" in changes and device.status == "active":
            terminal_commands.stage_refund_pin(session, device, settings.refund_pin)
        return changes


def _save_terminal_settings(session: Session, device_id: str, settings: TerminalSettings,
                            branch_id: int | None) -> dict:
    device = session.get(Device, device_id)
    if device is None or (branch_id is not None and device.branch_id != branch_id):
        raise NotFound(f"no terminal {device_id}")
    for name in _LIMIT_FIELDS:
        value = getattr(settings, name)
        if value is not None and not 0 < value <= MAX_AMOUNT_RIALS:
            raise BadRequest(name, "Enter an amount above zero.")
    # A top-up turns cash into credit on the terminal's word alone: never without limits.
    if settings.topup_allowed:
        for name in ("topup_max_rials", "topup_max_per_day_rials"):
            if getattr(settings, name) is None:
                raise BadRequest(name, "Set both top-up limits to allow top-ups.")
    _check_window(settings.refund_window_hours)
    changes = {}
    for name in ("topup_allowed", "refund_allowed", "refund_window_hours", *_LIMIT_FIELDS):
        value = getattr(settings, name)
        if getattr(device, name) != value:
            changes[name] = value
            setattr(device, name, value)
    if settings.refund_pin.strip():
        device.refund_pin_hash = hash_pin(settings.refund_pin)
        changes["refund_pin"] = "set"
    elif settings.clear_refund_pin and device.refund_pin_hash is not None:
        device.refund_pin_hash = None
        changes["refund_pin"] = "branch"
    if "refund_pin" in changes:
        device.refund_locked_until = None  # a new PIN ends a lock
    session.flush()
    return changes


def save_branch_refund_settings(session: Session, branch_id: int, *, window_hours: int,
                                pin: str = "", clear_pin: bool = False, actor: Actor) -> dict:
    """Store a branch's refund window and PIN, the default of its terminals, audited
    `branch_refund_settings`; returns what changed (never the PIN)."""
    with unit_of_work(session, actor) as work:
        changes = _save_branch_refund_settings(session, branch_id, window_hours, pin,
                                               clear_pin)
        work.audit("branch_refund_settings", "branch", branch_id, {"changes": changes})
        return changes


def _save_branch_refund_settings(session: Session, branch_id: int, window_hours: int,
                                 pin: str, clear_pin: bool) -> dict:
    branch = session.get(Branch, branch_id)
    if branch is None:
        raise NotFound(f"no branch {branch_id}")
    if window_hours is None:
        raise BadRequest("refund_window_hours", "This field is required.")
    _check_window(window_hours)
    changes = {}
    if branch.refund_window_hours != window_hours:
        branch.refund_window_hours = changes["refund_window_hours"] = window_hours
    if pin.strip():
        branch.refund_pin_hash = hash_pin(pin)
        changes["refund_pin"] = "set"
    elif clear_pin and branch.refund_pin_hash is not None:
        branch.refund_pin_hash = None
        changes["refund_pin"] = "cleared"
    session.flush()
    return changes


def refusal_query(device_id: str):
    """This module's refusals of one terminal, newest first (its page in the panel)."""
    return (select(AuditLog)
            .where(AuditLog.action.in_(REFUSAL_ACTIONS), AuditLog.entity == "device",
                   AuditLog.entity_id == device_id)
            .order_by(AuditLog.id.desc()))


def refused_sales_query(device_id: str):
    """Sales the backend refused this terminal (offline replays above all), newest first."""
    return (select(TerminalRequest)
            .where(TerminalRequest.device_id == device_id, TerminalRequest.op == "purchase",
                   TerminalRequest.code != "OK")
            .order_by(TerminalRequest.id.desc()))

