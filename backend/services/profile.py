"""The member's own profile in the portal (P2) and the club's reward for completing it.

The reward is given once per member, ever: its ledger transaction is keyed by the
member (`profile-reward:<id>`), so a second save, a repeated request or a profile
emptied and filled again posts nothing more.
"""

from datetime import date, datetime

from sqlalchemy.orm import Session

from backend import ledger
from backend.errors import BadRequest
from backend.models import Member, the_club
from backend.notifications import outbox
from backend.services import member_auth
from backend.unit_of_work import SYSTEM, Actor, unit_of_work
from backend.validators import parse_gender

# What "complete" means: what birthday offers and the club's reports need.
REQUIRED_FOR_REWARD = ("birth_date", "city", "gender")


def is_complete(member: Member) -> bool:
    return all(getattr(member, name) for name in REQUIRED_FOR_REWARD)


def reward_key(member_id: int) -> str:
    return f"profile-reward:{member_id}"


def update_own_profile(session: Session, *, member_id: int, email: str,
                       promotional_opt_out: bool, message_language: str,
                       birth_date: date | None, city: str, gender: str,
                       now: datetime, new_password: str = "", current_password: str = "",
                       actor: Actor = SYSTEM) -> tuple[Member, int]:
    """Save the member's profile (and a new password when given: one use case, so a
    refused profile keeps the old password and the other way round); give the club's
    reward the first time it is complete. Returns (member, credit rials or points given
    now: 0 when none). One unit of work."""
    with unit_of_work(session, actor):
        if new_password:
            member_auth.set_password(session, member_id, new_password,
                                     current_password=current_password)
        return _save(session, member_id=member_id, email=email,
                     promotional_opt_out=promotional_opt_out,
                     message_language=message_language, birth_date=birth_date, city=city,
                     gender=gender, now=now)


def _save(session: Session, *, member_id: int, email: str, promotional_opt_out: bool,
          message_language: str, birth_date: date | None, city: str, gender: str,
          now: datetime) -> tuple[Member, int]:
    try:
        parse_gender(gender)
    except ValueError:
        raise BadRequest("gender", "Not a valid choice.") from None
    if birth_date is not None and not (date(1900, 1, 1) <= birth_date <= now.date()):
        raise BadRequest("birth_date", "Enter a date in the past.")
    if len(city) > 64:
        raise BadRequest("city", "At most 64 characters.")
    member = ledger.lock_member(session, member_id)
    member.email = email
    member.promotional_opt_out = promotional_opt_out
    member.message_language = message_language
    member.birth_date = birth_date
    member.city = city
    member.gender = gender
    given = 0
    club = the_club(session)
    if (is_complete(member) and club.profile_reward_kind in ("credit", "points")
            and club.profile_reward_value > 0 and not member.is_gift_account
            and ledger.find_transaction(session, reward_key(member.id)) is None):
        account = club.profile_reward_kind
        given = club.profile_reward_value
        ledger.post(session, member=member, idempotency_key=reward_key(member.id),
                    kind="profile-reward",
                    movements=[ledger.Movement(account, given)],
                    reason="reward for completing the profile", now=now, key_checked=True)
        if account == "credit":
            outbox.credit_increase(session, member, given, reward_key(member.id), now)
    return member, given


def reward_given(session: Session, member_id: int) -> bool:
    return ledger.find_transaction(session, reward_key(member_id)) is not None
