"""The admin's catalogue (issue 5): tiers, offers, products, branches, custom member
fields and the club's settings. One save function per kind; each validates what the
database constraints cannot say clearly, writes, and commits in one transaction."""

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import BadRequest
from backend.models import Branch, Club, Member, MemberField, Offer, Product, Reward, Tier, the_club
from backend.services.rows import existing_row, save_row
from backend.unit_of_work import Actor, unit_of_work

_CODE = re.compile(r"[a-z0-9_-]{1,32}")
_FIELD_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")
MODELS = {"tier": Tier, "offer": Offer, "product": Product, "branch": Branch,
          "member_field": MemberField, "reward": Reward}
_UNIQUE = {"tier": "code", "product": "sku", "branch": "code", "member_field": "key"}


def _unique(session: Session, kind: str, row_id: int | None, value: str) -> None:
    model, column = MODELS[kind], _UNIQUE[kind]
    statement = select(model.id).where(getattr(model, column) == value)
    if row_id is not None:
        statement = statement.where(model.id != row_id)
    if session.scalars(statement).first() is not None:
        raise BadRequest(column, "This value is already used.")


def _check(kind: str, values: dict) -> None:
    if kind in ("tier", "branch") and not _CODE.fullmatch(values.get("code", "")):
        raise BadRequest("code", "Use a–z, digits, dash and underscore.")
    if kind == "member_field":
        if not _FIELD_KEY.fullmatch(values.get("key", "")):
            raise BadRequest("key", "Start with a letter; use a–z, digits and underscore.")
        if values.get("kind") == "choice" and not values.get("choices"):
            raise BadRequest("choices", "A choice field needs its choices.")
    if kind == "offer":
        low, high = values.get("min_visit_number"), values.get("max_visit_number")
        if low is not None and high is not None and low > high:
            raise BadRequest("max_visit_number", "Must not be below the first visit number.")
        starts, ends = values.get("starts_at"), values.get("ends_at")
        if starts is not None and ends is not None and ends <= starts:
            raise BadRequest("ends_on", "The end must come after the start.")
        percent = values.get("reward_kind") == "percent_discount"
        if percent and values.get("reward_value", 0) > 10000:
            raise BadRequest("reward_value", "At most 10000 basis points (100%).")
        if values.get("reward_kind") == "gift_credit" and not values.get("reward_expiry_days"):
            raise BadRequest("reward_expiry_days", "Gift credit needs an expiry.")
    if kind == "offer" and (values.get("from_minute") is None) != (
            values.get("until_minute") is None):
        raise BadRequest("until_time", "Give both times of the happy hour, or neither.")
    if kind == "offer" and values.get("from_minute") is not None and (
            values["from_minute"] == values["until_minute"]):
        raise BadRequest("until_time", "The end must differ from the start.")
    if kind == "reward":
        if values.get("kind") in ("discount", "gift_card") and not values.get("value_rials"):
            raise BadRequest("value", "Enter an amount above zero.")
        if values.get("kind") == "product" and not values.get("product_id"):
            raise BadRequest("product_id", "Choose the product.")
    if kind == "tier" and values.get("point_step_rials", 1) <= 0:
        raise BadRequest("point_step", "Enter an amount above zero.")


def save(session: Session, kind: str, row_id: int | None, values: dict, *, actor: Actor):
    """Create (`row_id` None) or update one catalogue row of `kind`, audited
    `create_<kind>` or `edit_<kind>` with the values."""
    with unit_of_work(session, actor) as work:
        work.audit(f"{'edit' if row_id else 'create'}_{kind}", kind, row_id or "",
                   {"values": _loggable(values)})
        return _save(session, kind, row_id, values)


def _loggable(values: dict) -> dict:
    return {key: value.isoformat() if isinstance(value, datetime) else value
            for key, value in values.items()}


def _save(session: Session, kind: str, row_id: int | None, values: dict):
    model = MODELS[kind]
    _check(kind, values)
    if kind in _UNIQUE:
        _unique(session, kind, row_id, values[_UNIQUE[kind]])
    return save_row(session, model, row_id, values)


SETTINGS_FIELDS = ("name", "name_fa", "currency_display", "point_value_rials",
                   "offline_window_days", "tier_window_days", "instant_cashback",
                   "credit_cross_branch", "welcome_credit_rials", "referral_join_bonus_rials",
                   "referral_first_purchase_bonus_rials", "referral_commission_bp",
                   "max_transfer_rials", "max_transfer_per_day_rials", "contact_phone",
                   "contact_address", "social_links", "points_min_convert",
                   "points_expiry_days", "profile_reward_kind", "profile_reward_value",
                   "weekday_points_percent")


def save_settings(session: Session, values: dict, *, actor: Actor) -> Club:
    """The club's settings, audited `edit_settings` with the values."""
    with unit_of_work(session, actor) as work:
        club = _save_settings(session, values)
        work.audit("edit_settings", "club", 1, {"values": values})
        return club


def _save_settings(session: Session, values: dict) -> Club:
    unknown = set(values) - set(SETTINGS_FIELDS) - {"logo_filename"}
    assert not unknown, f"unknown settings {unknown}"
    if not values.get("name", "x").strip():
        raise BadRequest("name", "This field is required.")
    weekdays = values.get("weekday_points_percent", [100] * 7)
    if len(weekdays) != 7 or not all(type(v) is int and 0 <= v <= 1000 for v in weekdays):
        raise BadRequest("weekday_points_percent", "Between 0 and 1000 percent.")
    if values.get("profile_reward_kind", "none") not in ("none", "credit", "points"):
        raise BadRequest("profile_reward_kind", "Not a valid choice.")
    for link in (values.get("social_links") or {}).values():
        if link and not re.match(r"https?://", link):
            raise BadRequest("social_links", "Links start with https://")
    club = the_club(session)
    if club is None:
        club = Club(id=1, name=values.get("name", "Club"))
        session.add(club)
    for key, value in values.items():
        setattr(club, key, value)
    session.flush()
    return club


def deactivate(session: Session, kind: str, row_id: int, now: datetime) -> None:
    """Rows that history refers to are switched off, never deleted."""
    with unit_of_work(session):
        row = existing_row(session, MODELS[kind], row_id)
        if not hasattr(row, "is_active"):
            raise BadRequest("id", "No such row.")
        row.is_active = False


def offers_for(session: Session, member: Member, now: datetime) -> list[Offer]:
    """The offers member `member` is shown (the portal's page, the API's /me/offers):
    active, within their dates at `now`, and for the member's tier or every tier; by
    priority, as pricing tries them."""
    return [offer for offer in session.scalars(
        select(Offer).where(Offer.is_active).order_by(Offer.priority, Offer.id))
        if (offer.starts_at is None or offer.starts_at <= now)
        and (offer.ends_at is None or offer.ends_at > now)
        and (not offer.tier_codes or member.tier.code in offer.tier_codes.split(","))]
