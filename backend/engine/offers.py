"""Offers and campaigns (L9): which apply to a purchase, in what order, with what reward.

Order: eligible offers sorted by (priority, id), lowest first. Walking that list, an
exclusive offer applies only if nothing was applied before it, and then ends the walk;
stackable offers apply one after another, each on the amount still due after the ones
before it. An offer whose per-member usage limit is reached is not eligible.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from backend.engine.calendar import days_from_jalali_anniversary, iranian_weekday, local

BASIS_POINTS = 10_000
MINUTES_PER_DAY = 24 * 60
REWARD_KINDS = ("percent_discount", "fixed_discount", "bonus_points", "bonus_credit",
                "gift_credit")


@dataclass(frozen=True)
class OfferContext:
    now: datetime
    amount_rials: int
    tier_code: str
    visit_number: int  # this purchase is the member's Nth
    last_visit_at: datetime | None
    birth_date: date | None
    wedding_date: date | None
    offer_uses: Mapping[int, int]


@dataclass(frozen=True)
class AppliedOffer:
    offer_id: int
    name: str
    discount_rials: int = 0
    points: int = 0
    credit_rials: int = 0
    credit_expiry_days: int | None = None


@dataclass(frozen=True)
class Offer:
    id: int
    name: str
    reward_kind: str
    reward_value: int
    priority: int = 100
    exclusive: bool = False
    max_uses_per_member: int | None = None
    reward_expiry_days: int | None = None  # gift_credit only
    # Conditions; None (or empty) means "no condition".
    min_days_since_last_visit: int | None = None
    min_visit_number: int | None = None
    max_visit_number: int | None = None
    min_amount_rials: int | None = None
    birthday_window_days: int | None = None
    anniversary_window_days: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    tier_codes: frozenset[str] = frozenset()
    first_purchase_only: bool = False
    # L7: Iranian weekdays (0 = Saturday … 6 = Friday; empty: every day) and a daily
    # window in Tehran minutes after midnight, from inclusive, until exclusive; a window
    # with until <= from runs past midnight (22:00–02:00). A window past midnight belongs
    # to the weekday it starts on: Thursday 22:00–02:00 covers Friday 01:00.
    weekdays: frozenset[int] = frozenset()
    from_minute: int | None = None
    until_minute: int | None = None

    def __post_init__(self):
        assert self.reward_kind in REWARD_KINDS, self.reward_kind
        assert all(0 <= day <= 6 for day in self.weekdays)
        assert (self.from_minute is None) == (self.until_minute is None)
        assert self.from_minute is None or 0 <= self.from_minute < MINUTES_PER_DAY
        assert self.until_minute is None or 0 <= self.until_minute < MINUTES_PER_DAY
        assert self.reward_value >= 0
        if self.reward_kind == "percent_discount":
            assert self.reward_value <= BASIS_POINTS
        if self.reward_kind == "gift_credit":
            assert self.reward_expiry_days is not None and self.reward_expiry_days > 0

    def is_eligible(self, context: OfferContext) -> bool:
        if self.max_uses_per_member is not None and (
            context.offer_uses.get(self.id, 0) >= self.max_uses_per_member
        ):
            return False
        if self.starts_at is not None and context.now < self.starts_at:
            return False
        if self.ends_at is not None and context.now >= self.ends_at:
            return False
        if self.tier_codes and context.tier_code not in self.tier_codes:
            return False
        if not self.runs_at(context.now):
            return False
        if self.first_purchase_only and context.visit_number != 1:
            return False
        if self.min_visit_number is not None and context.visit_number < self.min_visit_number:
            return False
        if self.max_visit_number is not None and context.visit_number > self.max_visit_number:
            return False
        if self.min_amount_rials is not None and context.amount_rials < self.min_amount_rials:
            return False
        if self.min_days_since_last_visit is not None:
            if context.last_visit_at is None:
                return False
            gap = (local(context.now).date() - local(context.last_visit_at).date()).days
            if gap < self.min_days_since_last_visit:
                return False
        if self.birthday_window_days is not None and (
            context.birth_date is None
            or days_from_jalali_anniversary(context.birth_date, context.now)
            > self.birthday_window_days
        ):
            return False
        if self.anniversary_window_days is not None and (
            context.wedding_date is None
            or days_from_jalali_anniversary(context.wedding_date, context.now)
            > self.anniversary_window_days
        ):
            return False
        return True

    def runs_at(self, now: datetime) -> bool:
        """Whether `now` (Tehran local time) falls on the offer's weekdays and hours."""
        moment = local(now)
        minute = moment.hour * 60 + moment.minute
        weekday = iranian_weekday(moment)
        if self.from_minute is None:
            return not self.weekdays or weekday in self.weekdays
        start, end = self.from_minute, self.until_minute
        if start < end:
            return start <= minute < end and (not self.weekdays or weekday in self.weekdays)
        # Past midnight: the evening part is today's, the small hours yesterday's.
        if minute >= start:
            return not self.weekdays or weekday in self.weekdays
        if minute < end:
            return not self.weekdays or (weekday - 1) % 7 in self.weekdays
        return False

    def reward(self, due_rials: int) -> AppliedOffer:
        """The reward on a purchase with `due_rials` still to pay."""
        kind, value = self.reward_kind, self.reward_value
        if kind == "percent_discount":
            discount = due_rials * value // BASIS_POINTS
            return AppliedOffer(self.id, self.name, discount_rials=discount)
        if kind == "fixed_discount":
            return AppliedOffer(self.id, self.name, discount_rials=min(value, due_rials))
        if kind == "bonus_points":
            return AppliedOffer(self.id, self.name, points=value)
        if kind == "bonus_credit":
            return AppliedOffer(self.id, self.name, credit_rials=value)
        return AppliedOffer(self.id, self.name, credit_rials=value,
                            credit_expiry_days=self.reward_expiry_days)


def choose_offers(offers: Iterable[Offer], context: OfferContext) -> list[Offer]:
    """The offers that apply, in the order they apply."""
    chosen: list[Offer] = []
    for offer in sorted(offers, key=lambda candidate: (candidate.priority, candidate.id)):
        if not offer.is_eligible(context):
            continue
        if offer.exclusive:
            if chosen:
                continue
            return [offer]
        chosen.append(offer)
    return chosen
