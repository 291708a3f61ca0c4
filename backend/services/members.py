"""Members joining the club, with referral rewards (L10)."""

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import ledger
from backend.errors import BadRequest
from backend.models import Card, Member, MemberField, Tier, the_club
from backend.notifications import outbox
from backend.services import cards
from backend.unit_of_work import Actor, is_staff, unit_of_work
from backend.validators import (
    normalize_mobile,
    parse_gender,
    parse_jalali_or_gregorian_date,
    parse_national_code,
    parse_weight,
)
from card_spec import CardNumberError, normalize_digits, parse_card_number

MAX_REFERRAL_DEPTH = 1000  # bounds the cycle check; chains are far shorter in practice


def register_member(
    session: Session,
    *,
    actor: Actor,
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
    profile: dict | None = None,
    custom_fields: dict | None = None,
    notify: bool = False,
    password_hash: str | None = None,
) -> Member:
    """Enrol a member with a card; pay the club's welcome credit and the referrer's join
    bonus. `profile` holds the other M1 fields (PROFILE_FIELDS), `custom_fields` the
    admin-defined ones by key. `notify` queues the login details by SMS (M2);
    `password_hash` sets the portal password chosen when joining online. One
    transaction; audited when a staff user enrols the member."""
    with unit_of_work(session, actor) as work:
        member = _register_member(
            session, first_name=first_name, last_name=last_name, mobile=mobile,
            card_number=card_number, now=now, national_code=national_code,
            birth_date=birth_date, wedding_date=wedding_date,
            referrer_card_or_mobile=referrer_card_or_mobile, branch_id=branch_id,
            profile=profile, custom_fields=custom_fields, notify=notify,
            password_hash=password_hash)
        if is_staff(work.actor):
            work.audit("create_member", "member", "",
                       {"mobile": mobile, "card": card_number[-4:]})
    return member


def _checked_identity(session: Session, first_name: str, last_name: str, mobile: str,
                      national_code: str | None, member_id: int | None = None):
    """A new member's (or member `member_id`'s edited) names, mobile and national code,
    checked: both names given, a valid mobile and national code that no other member
    has. Returns the mobile and national code in their stored forms."""
    if not first_name.strip() or not last_name.strip():
        raise BadRequest("name", "first and last name are required")
    try:
        mobile = normalize_mobile(mobile)
    except ValueError as error:
        raise BadRequest("mobile", str(error)) from None
    others = [Member.id != member_id] if member_id is not None else []
    if session.scalars(select(Member.id).where(Member.mobile == mobile, *others)).first():
        raise BadRequest("mobile", "a member with this mobile number exists")
    if national_code:
        try:
            national_code = parse_national_code(national_code)
        except ValueError as error:
            raise BadRequest("national_code", str(error)) from None
        if session.scalars(select(Member.id).where(Member.national_code == national_code,
                                                   *others)).first():
            raise BadRequest("national_code", "a member with this national code exists")
    return mobile, national_code


def _register_member(session: Session, *, first_name: str, last_name: str, mobile: str,
                     card_number: str, now: datetime, national_code: str | None,
                     birth_date: date | None, wedding_date: date | None,
                     referrer_card_or_mobile: str | None, branch_id: int | None,
                     profile: dict | None, custom_fields: dict | None, notify: bool,
                     password_hash: str | None) -> Member:
    mobile, national_code = _checked_identity(session, first_name, last_name, mobile,
                                              national_code)
    try:
        number = parse_card_number(card_number)
    except CardNumberError as error:
        raise BadRequest("card", str(error)) from None
    card = cards.card_to_assign(session, number, field="card")
    referrer = find_referrer(session, referrer_card_or_mobile) if referrer_card_or_mobile else None
    extra = check_profile(profile or {})
    custom = check_custom_fields(session, custom_fields or {})
    lowest = session.scalars(select(Tier).order_by(Tier.rank).limit(1)).one()
    member = Member(first_name=first_name.strip(), last_name=last_name.strip(), mobile=mobile,
                    national_code=national_code or None, birth_date=birth_date,
                    wedding_date=wedding_date, tier_id=lowest.id, home_branch_id=branch_id,
                    referrer_id=referrer.id if referrer else None, joined_at=now,
                    custom_fields=custom, password_hash=password_hash, **extra)
    session.add(member)
    session.flush()
    cards.assign(card, member.id, now)
    club = the_club(session)
    if club.welcome_credit_rials:
        ledger.post(session, member=ledger.lock_member(session, member.id),
                    idempotency_key=f"welcome:{member.id}", kind="welcome",
                    movements=[ledger.Movement("credit", club.welcome_credit_rials)],
                    reason="welcome bonus", now=now)
    if referrer is not None and club.referral_join_bonus_rials:
        sponsor = ledger.lock_member(session, referrer.id)
        ledger.post(session, member=sponsor,
                    idempotency_key=f"referral-join:{member.id}", kind="referral",
                    movements=[ledger.Movement("credit", club.referral_join_bonus_rials)],
                    reason=f"member {member.id} joined", now=now)
        outbox.credit_increase(session, sponsor, club.referral_join_bonus_rials,
                               f"referral-join:{member.id}", now)
    if notify:
        outbox.welcome(session, member, number, now)
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


def set_referrer(session: Session, *, actor: Actor, member_id: int, referrer_id: int) -> None:
    """Attach a referrer later, refusing self-referral and cycles."""
    with unit_of_work(session, actor):
        _set_referrer(session, member_id=member_id, referrer_id=referrer_id)


def _set_referrer(session: Session, *, member_id: int, referrer_id: int) -> None:
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


# M1 fields besides names, mobile, card, national code, dates and referrer.
PROFILE_FIELDS = ("gender", "province", "city", "neighbourhood", "address", "email",
                  "home_phone", "work_phone", "father_name", "job", "weight_kg",
                  "favourite_colour", "promotional_opt_out", "notes")


def check_profile(profile: dict) -> dict:
    unknown = set(profile) - set(PROFILE_FIELDS)
    assert not unknown, f"unknown profile fields {unknown}"
    try:
        parse_gender(profile.get("gender", ""))
    except ValueError as error:
        raise BadRequest("gender", str(error)) from None
    weight = profile.get("weight_kg")
    # Callers pass the parsed int (or None): text here is a caller's bug, refused as such.
    if weight is not None:
        try:
            parse_weight(weight if type(weight) is int else None)
        except ValueError as error:
            raise BadRequest("weight_kg", str(error)) from None
    return {key: value for key, value in profile.items()}


def check_custom_fields(session: Session, values: dict) -> dict:
    """Validate values of the admin-defined fields; unknown keys are refused."""
    fields = {field.key: field for field in session.scalars(
        select(MemberField).where(MemberField.is_active))}
    cleaned = {}
    for key, raw in values.items():
        field = fields.get(key)
        if field is None:
            raise BadRequest(f"custom_{key}", "This field does not exist.")
        text = clean_custom_value(field, raw)
        if text:
            cleaned[key] = text
    for key, field in fields.items():
        if field.required and key not in cleaned:
            raise BadRequest(f"custom_{key}", "This field is required.")
    return cleaned


def clean_custom_value(field: MemberField, raw) -> str:
    """One admin-defined field's value as stored ("" for none); the member form and the
    member import share it. Raises BadRequest naming `custom_<key>`."""
    key = field.key
    text = str(raw or "").strip()
    if not text:
        return ""
    if len(text) > 200:
        raise BadRequest(f"custom_{key}", "At most 200 characters.")
    if field.kind == "number":
        digits = normalize_digits(text)
        if not digits.lstrip("-").isdigit():
            raise BadRequest(f"custom_{key}", "Enter a whole number.")
        text = digits
    elif field.kind == "date":
        try:
            text = parse_jalali_or_gregorian_date(text).isoformat()
        except ValueError:
            raise BadRequest(f"custom_{key}", "Enter a date like 1405/08/30.") from None
    elif field.kind == "choice" and text not in field.choices:
        raise BadRequest(f"custom_{key}", "Choose one of the options.")
    return text


def update_member(session: Session, member_id: int, *, actor: Actor, first_name: str,
                  last_name: str, mobile: str, national_code: str | None,
                  birth_date: date | None, wedding_date: date | None, branch_id: int | None,
                  profile: dict, custom_fields: dict) -> Member:
    """Edit a member's file. Balances, cards and tier are not edited here: they move only
    through the ledger, the card lifecycle and the tier rules."""
    with unit_of_work(session, actor) as work:
        member = _update_member(
            session, member_id, first_name=first_name, last_name=last_name, mobile=mobile,
            national_code=national_code, birth_date=birth_date, wedding_date=wedding_date,
            branch_id=branch_id, profile=profile, custom_fields=custom_fields)
        if is_staff(work.actor):
            work.audit("edit_member", "member", member_id)
    return member


def _update_member(session: Session, member_id: int, *, first_name: str, last_name: str,
                  mobile: str, national_code: str | None, birth_date: date | None,
                  wedding_date: date | None, branch_id: int | None, profile: dict,
                  custom_fields: dict) -> Member:
    member = session.get(Member, member_id)
    if member is None or member.is_gift_account:
        raise BadRequest("member", "No such member.")
    mobile, national_code = _checked_identity(session, first_name, last_name, mobile,
                                              national_code, member_id=member_id)
    member.first_name, member.last_name = first_name.strip(), last_name.strip()
    member.mobile, member.national_code = mobile, national_code or None
    member.birth_date, member.wedding_date = birth_date, wedding_date
    member.home_branch_id = branch_id
    for key, value in check_profile(profile).items():
        setattr(member, key, value)
    member.custom_fields = check_custom_fields(session, custom_fields)
    return member
