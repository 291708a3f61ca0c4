"""Rules from memory, never stale (issue 19).

The club's settings, its tiers and its active offers are read on every purchase and
change only when staff edit them. A process keeps them parsed, per database, with the
`rules_version` number they were read under; each purchase reads that one number inside
its own transaction and reloads only when it changed. Database triggers (migration 0023)
change the number in the same transaction as any edit of those tables, so the very next
sale after a committed edit prices with it, in every process.
"""

import threading
import weakref
from dataclasses import dataclass

from sqlalchemy import Row, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from backend import engine
from backend.models import Club, Offer, RulesVersion, Tier
from backend.models.club import CLUB_ID

_CLUB = Club.__table__
_TIERS = Tier.__table__
_OFFERS = Offer.__table__
# Built once: the version is read on every purchase (docs/hot-path.md).
_VERSION = select(RulesVersion.__table__.c.version).where(RulesVersion.__table__.c.id == 1)
_LOAD_CLUB = select(_CLUB).where(_CLUB.c.id == CLUB_ID)
_LOAD_TIERS = select(_TIERS).order_by(_TIERS.c.rank)
_LOAD_OFFERS = select(_OFFERS).where(_OFFERS.c.is_active).order_by(_OFFERS.c.id)


def tier_rules(tier, gift_account: bool = False) -> engine.TierRules:
    """The engine's rules of a tier (a Tier, or a row of its table)."""
    if gift_account:
        # Gift-card holder accounts spend their credit but earn nothing (C4).
        return engine.TierRules(0, 0, 0, 1, tier.max_credit_per_invoice_rials,
                                tier.max_credit_per_day_rials, tier.code)
    return engine.TierRules(
        credit_percent_bp=tier.credit_percent_bp,
        discount_percent_bp=tier.discount_percent_bp,
        points_per_step=tier.points_per_step,
        point_step_rials=tier.point_step_rials,
        max_credit_per_invoice_rials=tier.max_credit_per_invoice_rials,
        max_credit_per_day_rials=tier.max_credit_per_day_rials,
        code=tier.code,
    )


def club_rules(club) -> engine.ClubRules:
    return engine.ClubRules(
        weekday_points_percent=tuple(club.weekday_points_percent),
        instant_cashback=club.instant_cashback,
    )


def engine_offer(row) -> engine.Offer:
    """The engine's offer from an Offer or a row of its table."""
    return engine.Offer(
        id=row.id, name=row.name, reward_kind=row.reward_kind, reward_value=row.reward_value,
        priority=row.priority, exclusive=row.exclusive,
        max_uses_per_member=row.max_uses_per_member,
        reward_expiry_days=row.reward_expiry_days,
        min_days_since_last_visit=row.min_days_since_last_visit,
        min_visit_number=row.min_visit_number, max_visit_number=row.max_visit_number,
        min_amount_rials=row.min_amount_rials,
        birthday_window_days=row.birthday_window_days,
        anniversary_window_days=row.anniversary_window_days,
        starts_at=row.starts_at, ends_at=row.ends_at,
        tier_codes=frozenset(code for code in row.tier_codes.split(",") if code),
        first_purchase_only=row.first_purchase_only,
        weekdays=frozenset(row.weekdays or ()),
        from_minute=row.from_minute, until_minute=row.until_minute,
    )


@dataclass(frozen=True)
class Rules:
    """What pricing reads of the club, parsed once per version. Rows, not ORM objects:
    they are shared by every session of the process and nothing changes them."""

    version: int
    club: Row  # the club table's row: the same attribute names as Club
    club_rules: engine.ClubRules
    tiers: tuple[Row, ...]  # by rank
    thresholds: tuple[engine.TierThreshold, ...]
    offers: tuple[engine.Offer, ...]
    # Whether an active offer limits its uses per member (the use counts are read then).
    offers_limit_uses: bool

    def tier(self, tier_id: int) -> Row:
        return self._tiers_by_id[tier_id]

    def tier_rules(self, tier_id: int, gift_account: bool) -> engine.TierRules:
        return self._tier_rules[tier_id, gift_account]

    def __post_init__(self):
        # Derived lookups, built once per version (the dataclass stays frozen to callers).
        object.__setattr__(self, "_tiers_by_id", {tier.id: tier for tier in self.tiers})
        object.__setattr__(self, "_tier_rules", {
            (tier.id, gift): tier_rules(tier, gift)
            for tier in self.tiers for gift in (False, True)})


# Per database (its engine): a process may talk to several (tests, the bench).
_cache: "weakref.WeakKeyDictionary[Engine, Rules]" = weakref.WeakKeyDictionary()
_cache_lock = threading.Lock()


def current(session: Session) -> Rules:
    """The rules as of this transaction: one SELECT of the version, and the rules read
    again (club, tiers, offers) only when it is not the one they were kept under.

    The version is read first: an edit committed between it and the reload gives newer
    rules under the older number, which the next purchase reloads — never older rules
    under a newer number."""
    version = session.execute(_VERSION).scalar_one()
    database = session.get_bind().engine
    kept = _cache.get(database)
    if kept is None or kept.version != version:
        kept = load(session, version)
        with _cache_lock:
            _cache[database] = kept
    return kept


def load(session: Session, version: int) -> Rules:
    club = session.execute(_LOAD_CLUB).one()
    tiers = tuple(session.execute(_LOAD_TIERS))
    offers = tuple(engine_offer(row) for row in session.execute(_LOAD_OFFERS))
    return Rules(
        version=version, club=club, club_rules=club_rules(club), tiers=tiers,
        thresholds=tuple(
            engine.TierThreshold(code=row.code, rank=row.rank,
                                 min_spend_rials=row.min_spend_rials,
                                 min_purchases=row.min_purchases, mode=row.qualify_mode)
            for row in tiers),
        offers=offers,
        offers_limit_uses=any(offer.max_uses_per_member is not None for offer in offers),
    )


def forget() -> None:
    """Drop every kept rule set (tests that rebuild a database under one engine)."""
    with _cache_lock:
        _cache.clear()
