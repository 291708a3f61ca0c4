"""The club itself: settings, branches, staff and tiers."""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from backend.models.base import Amount, Base, UTCDateTime, utc_now


class Club(Base):
    """The club's settings; one row (id 1) per installation."""

    __tablename__ = "club"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    name_fa: Mapped[str] = mapped_column(String(120), default="")
    # Rials one point is worth when points are converted to credit (L1).
    point_value_rials: Mapped[int] = mapped_column(Amount, default=100)
    # Offline replays older than this are refused with STALE (PROTOCOL.md).
    offline_window_days: Mapped[int] = mapped_column(default=7)
    # L7: points multiplier per Iranian weekday in percent, Saturday first.
    weekday_points_percent: Mapped[list[int]] = mapped_column(
        JSON, default=lambda: [100] * 7
    )
    # L8: the tier's credit % is given as an immediate discount instead of as credit.
    instant_cashback: Mapped[bool] = mapped_column(default=False)
    # L3: the rolling window tier thresholds are measured over.
    tier_window_days: Mapped[int] = mapped_column(default=365)
    # B3: whether credit earned at one branch can be spent at another.
    credit_cross_branch: Mapped[bool] = mapped_column(default=True)
    # L10: referral rewards.
    referral_join_bonus_rials: Mapped[int] = mapped_column(Amount, default=0)
    referral_first_purchase_bonus_rials: Mapped[int] = mapped_column(Amount, default=0)
    referral_commission_bp: Mapped[int] = mapped_column(default=0)
    # L11: credit transfer limits (0 = transfers disabled).
    max_transfer_rials: Mapped[int] = mapped_column(Amount, default=0)
    max_transfer_per_day_rials: Mapped[int] = mapped_column(Amount, default=0)
    # O4: amounts are stored in rials; the panel shows rial or toman (rial / 10).
    currency_display: Mapped[str] = mapped_column(String(5), default="rial")
    # The club's logo as stored under instance/uploads/ (validated image, renamed).
    logo_filename: Mapped[str] = mapped_column(String(64), default="")
    contact_phone: Mapped[str] = mapped_column(String(32), default="")
    contact_address: Mapped[str] = mapped_column(Text, default="")
    # P4: {"instagram": url, "telegram": url, "website": url, …}
    social_links: Mapped[dict] = mapped_column(JSON, default=dict)
    # M2: credit given to every new member on joining (0 = none).
    welcome_credit_rials: Mapped[int] = mapped_column(Amount, default=0)
    # O3: the demo club (`make run`) has known passwords; the panel says so on every page.
    is_demo: Mapped[bool] = mapped_column(default=False)
    # L1: fewest points a member may convert to credit at once (0: any), and how many
    # days earned points stay spendable (None: they never expire).
    points_min_convert: Mapped[int] = mapped_column(default=0)
    points_expiry_days: Mapped[int | None] = mapped_column()
    # P2: given once to a member who completes the profile: "none", "credit" or "points".
    profile_reward_kind: Mapped[str] = mapped_column(String(8), default="none")
    profile_reward_value: Mapped[int] = mapped_column(Amount, default=0)

    __table_args__ = (
        CheckConstraint("point_value_rials >= 0", name="point_value_not_negative"),
        CheckConstraint("offline_window_days > 0", name="offline_window_positive"),
        CheckConstraint("tier_window_days > 0", name="tier_window_positive"),
        CheckConstraint("referral_commission_bp BETWEEN 0 AND 10000", name="commission_range"),
        CheckConstraint("currency_display IN ('rial', 'toman')", name="currency_known"),
        CheckConstraint("points_min_convert >= 0", name="points_min_convert_not_negative"),
        CheckConstraint("points_expiry_days IS NULL OR points_expiry_days > 0",
                        name="points_expiry_positive"),
        CheckConstraint("profile_reward_kind IN ('none', 'credit', 'points')",
                        name="profile_reward_kind_known"),
        CheckConstraint("profile_reward_value >= 0", name="profile_reward_not_negative"),
    )


CLUB_ID = 1


class RulesVersion(Base):
    """One number that changes with every edit of the club, a tier or an offer, in the
    edit's own transaction (database triggers, migration 0023): a worker keeps those
    rules in memory and reads only this on a purchase (issue 19)."""

    __tablename__ = "rules_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)


def the_club(session: Session) -> Club | None:
    """The installation's one club row, or None before first-run set-up."""
    return session.get(Club, CLUB_ID)


class Branch(Base):
    __tablename__ = "branch"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    address: Mapped[str] = mapped_column(Text, default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # Issue 15: the refund PIN (a hash) and window of the branch's terminals, unless a
    # terminal has its own (backend/services/terminal_policy.py).
    refund_pin_hash: Mapped[str | None] = mapped_column(String(255))
    refund_window_hours: Mapped[int] = mapped_column(default=24)

    __table_args__ = (
        CheckConstraint("refund_window_hours > 0", name="refund_window_positive"),
    )


class StaffUser(Base):
    """An admin or operator login for the web panel (B2)."""

    __tablename__ = "staff_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # B2: what an operator may do beyond members and purchases of their branch (names in
    # backend.services.permissions.PERMISSIONS). Admins may do everything.
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    # O4: the panel's language for this user.
    locale: Mapped[str] = mapped_column(String(2), default="fa")
    # Bumped on sign-out, password change and deactivation; sessions carry it (the
    # Flask-Login id, backend.web.auth.load_user), so every older session dies.
    session_version: Mapped[int] = mapped_column(default=0)

    branch: Mapped[Branch | None] = relationship()

    # The session-user protocol Flask-Login expects; the id carries the session version
    # so a password change or deactivation ends every existing session.
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    __table_args__ = (
        CheckConstraint("role IN ('admin', 'operator')", name="role_known"),
        CheckConstraint("locale IN ('fa', 'en')", name="locale_known"),
    )


class Tier(Base):
    """A member group with its own earn and discount rules (L2).

    Percentages are integer basis points (500 = 5 %) so no float ever touches money.
    """

    __tablename__ = "tier"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    name_fa: Mapped[str] = mapped_column(String(64), default="")
    rank: Mapped[int] = mapped_column(default=0)
    credit_percent_bp: Mapped[int] = mapped_column(default=0)
    discount_percent_bp: Mapped[int] = mapped_column(default=0)
    points_per_step: Mapped[int] = mapped_column(default=1)
    point_step_rials: Mapped[int] = mapped_column(Amount, default=10_000)
    # L3: thresholds over the club's rolling window to belong in this tier.
    min_spend_rials: Mapped[int] = mapped_column(Amount, default=0)
    min_purchases: Mapped[int] = mapped_column(default=0)
    qualify_mode: Mapped[str] = mapped_column(String(8), default="all")
    # L6: caps on credit spent (None = no cap).
    max_credit_per_invoice_rials: Mapped[int | None] = mapped_column(Amount)
    max_credit_per_day_rials: Mapped[int | None] = mapped_column(Amount)

    __table_args__ = (
        CheckConstraint("credit_percent_bp BETWEEN 0 AND 10000", name="credit_percent_range"),
        CheckConstraint("discount_percent_bp BETWEEN 0 AND 10000", name="discount_percent_range"),
        CheckConstraint("points_per_step >= 0", name="points_per_step_not_negative"),
        CheckConstraint("point_step_rials > 0", name="point_step_positive"),
        CheckConstraint("qualify_mode IN ('all', 'any')", name="qualify_mode_known"),
    )


class AuditLog(Base):
    """Who changed what, when, from where. Append-only: the migration adds triggers that
    refuse UPDATE and DELETE, so not even a bug in the app can rewrite history."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    ip: Mapped[str] = mapped_column(String(45), default="")
    action: Mapped[str] = mapped_column(String(48))
    entity: Mapped[str] = mapped_column(String(32), default="")
    entity_id: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    staff_user: Mapped[StaffUser | None] = relationship()


class LoginAttempt(Base):
    """Sign-in attempts, kept in the database so the rate limit holds across every
    gunicorn worker (a per-process counter would multiply the allowance)."""

    __tablename__ = "login_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)
    username: Mapped[str] = mapped_column(String(64), index=True)
    ip: Mapped[str] = mapped_column(String(45), index=True)
    succeeded: Mapped[bool] = mapped_column(default=False)
