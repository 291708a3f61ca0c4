"""A member's own account in the portal (M2, P1): joining online with an SMS code,
signing in with a code instead of a password, and a forgotten password.

Each `start_*` sends a code (backend.services.verification); each `complete_*` checks
it (the try counted in a unit of its own, kept when the use case is refused) and then
uses it up in one unit of work with its change, so a code is used up exactly when the
member was created or the password changed. Signing in and resetting by code answer
the same whether the number is a member's or not, and send an SMS only to members.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from backend.errors import BadRequest
from backend.models import Member
from backend.services import api_tokens, cards, member_auth, members, verification
from backend.unit_of_work import SYSTEM, Actor, unit_of_work
from card_spec import make_card_number


def _member_by_mobile(session: Session, mobile: str) -> Member | None:
    return session.scalars(select(Member).where(Member.mobile == mobile,
                                                Member.is_gift_account.is_(False))).first()


def _check_password(password: str) -> None:
    if len(password or "") < member_auth.MIN_PASSWORD_LENGTH:
        raise BadRequest("password", "A password has at least 8 characters.")


def start_join(session: Session, *, first_name: str, last_name: str, mobile: str, ip: str,
               now: datetime, secret: str) -> str:
    """Check the details and send a code to the mobile; returns the normalised mobile."""
    if not (first_name or "").strip() or not (last_name or "").strip():
        raise BadRequest("name", "First and last name are required")
    mobile = verification.clean_mobile(mobile)
    with unit_of_work(session, SYSTEM):
        if session.scalars(select(Member.id).where(Member.mobile == mobile)).first():
            raise BadRequest("mobile", "This mobile number is already a member: sign in.")
        verification.request_code(session, mobile=mobile, purpose="join", ip=ip, now=now,
                                  secret=secret)
    return mobile


def complete_join(session: Session, *, actor: Actor, first_name: str, last_name: str, mobile: str,
                  code: str, password: str, referrer_id: int | None, now: datetime,
                  secret: str, card_prefix: str) -> Member:
    """Create the member with a digital card once the code is right: welcome credit,
    the referrer's bonus and the login details by SMS come with it (register_member).

    The card's serial comes from the same counter as printed batches, so a digital card
    can never share a number with a plastic one."""
    _check_password(password)
    code_id = verification.check_code(session, mobile=mobile, purpose="join", code=code,
                                      now=now, secret=secret)
    # One unit with the code's use: a refused join leaves the code unused.
    with unit_of_work(session, actor):
        verification.consume_code(session, code_id, now)
        number = make_card_number(card_prefix, cards.allocate_serials(session, card_prefix, 1))
        referrer = session.get(Member, referrer_id) if referrer_id else None
        usable = referrer is not None and referrer.mobile and not referrer.is_gift_account
        return members.register_member(
            session, actor=actor, first_name=first_name, last_name=last_name, mobile=mobile,
            card_number=number, now=now,
            referrer_card_or_mobile=referrer.mobile if usable else None,
            notify=True, password_hash=generate_password_hash(password))


def start_sign_in(session: Session, *, mobile: str, ip: str, now: datetime,
                  secret: str, purpose: str = "sign_in") -> str:
    """Send a sign-in (or password reset) code if the number is a member's."""
    mobile = verification.clean_mobile(mobile)
    with unit_of_work(session, SYSTEM):
        member = _member_by_mobile(session, mobile)
        verification.request_code(session, mobile=mobile, purpose=purpose, ip=ip, now=now,
                                  secret=secret, send=member is not None)
    return mobile


def complete_sign_in(session: Session, *, mobile: str, code: str, now: datetime,
                     secret: str, actor: Actor = SYSTEM) -> Member:
    code_id = verification.check_code(session, mobile=mobile, purpose="sign_in", code=code,
                                      now=now, secret=secret)
    with unit_of_work(session, actor):
        member = _member_by_mobile(session, verification.clean_mobile(mobile))
        if member is None:  # no code was ever sent to a number without a member
            raise verification.CodeRefused("The code is not right.")
        verification.consume_code(session, code_id, now)
        return member


def complete_reset(session: Session, *, mobile: str, code: str, password: str,
                   now: datetime, secret: str, actor: Actor = SYSTEM) -> Member:
    """Set a new password with a reset code; the old sessions end (fingerprint)."""
    _check_password(password)
    code_id = verification.check_code(session, mobile=mobile, purpose="reset", code=code,
                                      now=now, secret=secret)
    with unit_of_work(session, actor):
        member = _member_by_mobile(session, verification.clean_mobile(mobile))
        if member is None:
            raise verification.CodeRefused("The code is not right.")
        verification.consume_code(session, code_id, now)
        member.password_hash = generate_password_hash(password)
        api_tokens.revoke_all_of_member(session, member.id, now)
        return member
