"""Members signing in to the portal (P1) with their mobile and a password.

Attempts share the staff sign-in's table and limits (per account and per address), with
the account recorded as `member:<mobile>`. A portal session carries a fingerprint of the
password hash, so changing the password ends every other session.
"""

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from backend.errors import BadRequest
from backend.models import LoginAttempt, Member, utc_now
from backend.services import api_tokens, staff
from backend.validators import normalize_mobile

MIN_PASSWORD_LENGTH = 8


def account_name(mobile: str) -> str:
    return f"member:{mobile}"


def fingerprint(member: Member) -> str:
    return hashlib.sha256((member.password_hash or "").encode()).hexdigest()[:16]


def authenticate(session: Session, mobile: str, password: str, *, ip: str,
                 now: datetime) -> Member | None:
    try:
        mobile = normalize_mobile(mobile)
    except ValueError:
        mobile = mobile.strip()[:20]
    account = account_name(mobile)
    if (staff._recent_failures(session, LoginAttempt.username, account, now)
            >= staff.MAX_FAILURES_PER_ACCOUNT
            or staff._recent_failures(session, LoginAttempt.ip, ip, now)
            >= staff.MAX_FAILURES_PER_IP):
        raise staff.TooManyAttempts("too many failed sign-ins; wait 15 minutes and try again")
    member = session.scalars(select(Member).where(Member.mobile == mobile,
                                                  Member.is_gift_account.is_(False))).first()
    stored = member.password_hash if member is not None and member.password_hash else None
    valid = check_password_hash(stored or staff._DUMMY_HASH, password)
    ok = stored is not None and valid
    session.add(LoginAttempt(username=account, ip=ip[:45], succeeded=ok, at=now))
    session.commit()
    return member if ok else None


def set_password(session: Session, member_id: int, password: str,
                 current_password: str | None = None) -> Member:
    """Set a member's portal password; with `current_password`, it must match first."""
    member = session.get(Member, member_id)
    if member is None or member.is_gift_account:
        raise BadRequest("member", "No such member.")
    if current_password is not None and not (
            member.password_hash and check_password_hash(member.password_hash, current_password)):
        raise BadRequest("current_password", "The current password is not right.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadRequest("password", "A password has at least 8 characters.")
    member.password_hash = generate_password_hash(password)
    # A new password signs the member out of every app too, not only the portal.
    api_tokens.revoke_all_of_member(session, member.id, utc_now())
    session.commit()
    return member
