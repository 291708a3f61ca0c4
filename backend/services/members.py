"""Members joining the club, with referral rewards (L10)."""

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.errors import BadRequest
from backend.models import Card, Club, Member, Tier
from backend.validators import normalize_mobile, parse_national_code
from card_spec import CardNumberError, parse_card_number

MAX_REFERRAL_DEPTH = 1000  # bounds the cycle check; chains are far shorter in practice


def register_member(
    session: Session,
    *,
    first_name: str,
    last_name: str,
    mobile: str,
    card_number: str,
    now: datetime,
    national_code: str | None = None,
    birth_date: date | None = None,
    wedding_date: date | None = None,
    referrer_card_or_mobile: str | None = None,
    branch_id: int | None = None,
) -> Member:
    """Enrol a member with a card; pay the referrer's join bonus. One transaction."""
    if not first_name.strip() or not last_name.strip():
        raise BadRequest("name", "first and last name are required")
    try:
        mobile = normalize_mobile(mobile)
    except ValueError as error:
        raise BadRequest("mobile", str(error)) from None
    try:
        number = parse_card_number(card_number)
    except CardNumberError as error:
        raise BadRequest("card", str(error)) from None
    if national_code:
        try:
            national_code = parse_national_code(national_code)
        except ValueError as error:
            raise BadRequest("national_code", str(error)) from None
    if session.scalars(select(Member).where(Member.mobile == mobile)).first() is not None:
        raise BadRequest("mobile", "a member with this mobile number exists")
    card = session.scalars(select(Card).where(Card.number == number)).one_or_none()
    if card is not None and card.member_id is not None:
        raise BadRequest("card", "this card already belongs to a member")
    referrer = find_referrer(session, referrer_card_or_mobile) if referrer_card_or_mobile else None
    lowest = session.scalars(select(Tier).order_by(Tier.rank).limit(1)).one()
    member = Member(first_name=first_name.strip(), last_name=last_name.strip(), mobile=mobile,
                    national_code=national_code or None, birth_date=birth_date,
                    wedding_date=wedding_date, tier_id=lowest.id, home_branch_id=branch_id,
                    referrer_id=referrer.id if referrer else None, joined_at=now)
    session.add(member)
    session.flush()
    if card is None:
        card = Card(number=number, issued_at=now)
        session.add(card)
    card.member_id, card.status = member.id, "active"
    club = session.get(Club, 1)
    if referrer is not None and club.referral_join_bonus_rials:
        ledger.post(session, member=ledger.lock_member(session, referrer.id),
                    idempotency_key=f"referral-join:{member.id}", kind="referral",
                    movements=[ledger.Movement("credit", club.referral_join_bonus_rials)],
                    reason=f"member {member.id} joined", now=now)
    session.commit()
    return member


def find_referrer(session: Session, card_or_mobile: str) -> Member:
    try:
        key = parse_card_number(card_or_mobile)
        statement = select(Member).join(Card).where(Card.number == key)
    except CardNumberError:
        try:
            statement = select(Member).where(Member.mobile == normalize_mobile(card_or_mobile))
        except ValueError:
            raise BadRequest("referrer", "give the referrer's card or mobile number") from None
    referrer = session.scalars(statement).first()
    if referrer is None or referrer.is_gift_account:
        raise BadRequest("referrer", "no member with that card or mobile number")
    return referrer


def set_referrer(session: Session, *, member_id: int, referrer_id: int) -> None:
    """Attach a referrer later, refusing self-referral and cycles."""
    if member_id == referrer_id:
        raise BadRequest("referrer", "a member cannot refer themselves")
    cursor, steps = session.get(Member, referrer_id), 0
    while cursor is not None:
        if cursor.id == member_id:
            raise BadRequest("referrer", "that would make a referral cycle")
        steps += 1
        assert steps < MAX_REFERRAL_DEPTH, "referral chain too long"
        cursor = cursor.referrer
    session.get(Member, member_id).referrer_id = referrer_id
    session.commit()
