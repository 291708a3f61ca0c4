"""Members signing in to the portal (P1) with their mobile and a password.

Attempts are slowed like the staff's (backend.services.throttle: per account and
address), with the account recorded as `member:<mobile>`. A portal session carries a
fingerprint of the password hash and the member's session version, so changing the
password or signing out (`end_sessions`) ends every other session — a copied cookie too.

A member acting for themselves leaves no audit row (unit_of_work.is_staff): the use
cases here run in a unit of work for their transaction only.
"""

import hashlib
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from backend.errors import BadRequest
from backend.models import Member, utc_now
from backend.services import api_tokens, staff, throttle
from backend.unit_of_work import SYSTEM, Actor, unit_of_work
from backend.validators import normalize_mobile

MIN_PASSWORD_LENGTH = 8


def account_name(mobile: str) -> str:
    return f"member:{mobile}"


def fingerprint(member: Member) -> str:
    material = f"{member.session_version or 0}:{member.password_hash or ''}"
    return hashlib.sha256(material.encode()).hexdigest()[:16]


def end_sessions(session: Session, member_id: int, *, actor: Actor = SYSTEM) -> None:
    """Sign the member out of every portal session (signing out ends them all)."""
    with unit_of_work(session, actor):
        member = session.get(Member, member_id)
        if member is not None:
            member.session_version = (member.session_version or 0) + 1


def authenticate(session: Session, mobile: str, password: str, *, ip: str,
                 now: datetime) -> Member | None:
    try:
        mobile = normalize_mobile(mobile)
    except ValueError:
        mobile = mobile.strip()[:20]
    account = account_name(mobile)
    attempt = throttle.begin(session, account, ip, now)
    member = session.scalars(select(Member).where(Member.mobile == mobile,
                                                  Member.is_gift_account.is_(False))).first()
    stored = member.password_hash if member is not None and member.password_hash else None
    valid = check_password_hash(stored or staff._DUMMY_HASH, password)
    ok = stored is not None and valid
    # The outcome is the only write, in the throttle's own unit.
    throttle.finish(attempt, ok)
    return member if ok else None


def set_password(session: Session, member_id: int, password: str,
                 current_password: str | None = None, *, actor: Actor = SYSTEM) -> Member:
    """Set a member's portal password; with `current_password`, it must match first.
    One unit of work; joins the caller's (a profile saved with a new password)."""
    with unit_of_work(session, actor):
        return _set_password(session, member_id, password, current_password)


def _set_password(session: Session, member_id: int, password: str,
                  current_password: str | None) -> Member:
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
    return member
