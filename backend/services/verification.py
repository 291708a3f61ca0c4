"""One-time codes by SMS (M2, P1): joining, signing in without a password, a forgotten
password.

A code is six random digits. Only an HMAC of it (keyed with the app's secret, bound to
the mobile and the purpose) is stored, so the table alone does not give codes away —
six digits are too few for a plain hash. A code expires after CODE_TTL, allows
MAX_ATTEMPTS wrong tries, is consumed once, and a new code replaces the older ones.

Requests are limited per (mobile, address) — one a minute per purpose, MAX_PER_MOBILE_AND_IP
an hour — so someone asking for codes from elsewhere does not stop the member asking from
theirs; a mobile gets at most MAX_PER_MOBILE codes an hour whoever asks (SMS cost, and a
bound on guessing: MAX_ATTEMPTS tries per code), an address at most MAX_PER_IP. The
limits count rows, so they hold across every web worker.

The outbox copy of the code is removed once it is sent or expired (the dispatcher's
redaction), and an expired code is never sent.
"""

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.errors import BadRequest, DomainError
from backend.models import Member, VerificationCode
from backend.notifications import outbox
from backend.unit_of_work import SYSTEM, in_unit_of_work, unit_of_work
from backend.validators import normalize_mobile
from card_spec import normalize_digits

CODE_TTL = timedelta(minutes=2)
CODE_DIGITS = 6
MAX_ATTEMPTS = 5
RESEND_AFTER = timedelta(seconds=60)  # per (mobile, purpose, address)
MAX_PER_MOBILE_AND_IP = 5  # codes per (mobile, address) in RATE_WINDOW
MAX_PER_MOBILE = 10  # codes per mobile in RATE_WINDOW, whoever asks
MAX_PER_IP = 20      # codes per address in RATE_WINDOW
RATE_WINDOW = timedelta(hours=1)
PURPOSES = ("sign_in", "join", "reset")


class TooManyCodes(DomainError):
    code = "RATE_LIMITED"
    http_status = 429


class CodeRefused(DomainError):
    """A wrong, expired, used-up or missing code; the message says which, in English."""

    code = "BAD_REQUEST"
    http_status = 400


def clean_mobile(text: str) -> str:
    try:
        return normalize_mobile(text or "")
    except ValueError:
        raise BadRequest("mobile", "A mobile number looks like 09xxxxxxxxx") from None


def _digest(secret: str, mobile: str, purpose: str, code: str) -> str:
    return hmac.new(secret.encode(), f"{purpose}:{mobile}:{code}".encode(),
                    hashlib.sha256).hexdigest()


def _count(session: Session, *conditions) -> int:
    return session.scalar(select(func.count()).select_from(VerificationCode).where(*conditions))


def request_code(session: Session, *, mobile: str, purpose: str, ip: str, now: datetime,
                 secret: str, send: bool = True) -> None:
    """Create a code and queue its SMS, in one unit of work.

    `send=False` records a request without sending anything (signing in with a number
    that is no member's): the answer looks the same and the rate limits still count."""
    assert purpose in PURPOSES, purpose
    with unit_of_work(session, SYSTEM):
        _request_code(session, mobile=mobile, purpose=purpose, ip=ip, now=now, secret=secret,
                      send=send)


def _request_code(session: Session, *, mobile: str, purpose: str, ip: str, now: datetime,
                  secret: str, send: bool) -> None:
    mobile = clean_mobile(mobile)
    ip = (ip or "")[:45]
    window = now - RATE_WINDOW
    latest = session.scalar(select(func.max(VerificationCode.created_at)).where(
        VerificationCode.mobile == mobile, VerificationCode.purpose == purpose,
        VerificationCode.ip == ip))
    if latest is not None and now - latest < RESEND_AFTER:
        raise TooManyCodes("Wait a minute before asking for another code.")
    recent = VerificationCode.created_at > window
    if (_count(session, VerificationCode.mobile == mobile, VerificationCode.ip == ip,
               recent) >= MAX_PER_MOBILE_AND_IP
            or _count(session, VerificationCode.mobile == mobile, recent) >= MAX_PER_MOBILE
            or (ip and _count(session, VerificationCode.ip == ip, recent) >= MAX_PER_IP)):
        raise TooManyCodes("Too many codes were asked for. Try again in an hour.")
    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    session.add(VerificationCode(mobile=mobile, purpose=purpose, ip=ip, created_at=now,
                                 expires_at=now + CODE_TTL,
                                 code_hash=_digest(secret, mobile, purpose, code)))
    if send:
        member = session.scalars(select(Member).where(Member.mobile == mobile)).first()
        outbox.verification_code(session, mobile, code, int(CODE_TTL.total_seconds() // 60),
                                 member, now)


def check_code(session: Session, *, mobile: str, purpose: str, code: str, now: datetime,
               secret: str) -> int:
    """Count a try of the latest code for (mobile, purpose); CodeRefused unless `code` is
    it. Returns the code's id for `consume_code`.

    The try is counted in a unit of its own, before the use case's unit opens: a wrong
    code is then refused and its use case rolled back, and the count must survive that
    rollback (MAX_ATTEMPTS bounds guessing). So this is never called inside a unit.
    """
    assert not in_unit_of_work(session), "a code's try is counted in its own unit"
    mobile = clean_mobile(mobile)
    typed = normalize_digits((code or "").strip())
    with unit_of_work(session, SYSTEM):
        row = session.scalars(
            select(VerificationCode).where(VerificationCode.mobile == mobile,
                                           VerificationCode.purpose == purpose)
            .order_by(VerificationCode.id.desc()).limit(1)).first()
        if row is None or row.consumed_at is not None:
            raise CodeRefused("Ask for a code first.")
        if row.expires_at <= now:
            raise CodeRefused("The code has expired. Ask for a new one.")
        counted = session.execute(
            update(VerificationCode)
            .where(VerificationCode.id == row.id, VerificationCode.consumed_at.is_(None),
                   VerificationCode.attempts < MAX_ATTEMPTS)
            .values(attempts=VerificationCode.attempts + 1)
            .execution_options(synchronize_session=False)).rowcount
        if counted != 1:
            raise CodeRefused("Too many wrong codes. Ask for a new one.")
        code_id, code_hash = row.id, row.code_hash
    right = typed.isascii() and hmac.compare_digest(
        _digest(secret, mobile, purpose, typed), code_hash)
    if not right:
        raise CodeRefused("The code is not right.")
    return code_id


def consume_code(session: Session, code_id: int, now: datetime) -> None:
    """Mark a checked code used, in the caller's unit: it commits together with what the
    code allowed (a new member, a new password) or rolls both back. The conditional
    UPDATE makes a code usable once even by two requests at the same time."""
    used = session.execute(
        update(VerificationCode)
        .where(VerificationCode.id == code_id, VerificationCode.consumed_at.is_(None))
        .values(consumed_at=now).execution_options(synchronize_session=False)).rowcount
    if used != 1:
        raise CodeRefused("Ask for a code first.")
