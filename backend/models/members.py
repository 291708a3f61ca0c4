"""Members and their cards."""

from datetime import date, datetime

from sqlalchemy import CheckConstraint, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import Base, UTCDateTime, utc_now
from backend.models.club import Branch, Tier


class Member(Base):
    __tablename__ = "member"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(String(64))
    last_name: Mapped[str] = mapped_column(String(64))
    # None only for gift-card holder accounts, which belong to no person yet.
    mobile: Mapped[str | None] = mapped_column(String(11), unique=True)
    national_code: Mapped[str | None] = mapped_column(String(10), unique=True)
    tier_id: Mapped[int] = mapped_column(ForeignKey("tier.id"))
    home_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    birth_date: Mapped[date | None] = mapped_column(Date())
    wedding_date: Mapped[date | None] = mapped_column(Date())
    referrer_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True)
    last_visit_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A gift card's holder account (C4): it has credit but earns nothing.
    is_gift_account: Mapped[bool] = mapped_column(default=False)
    # Cached balances, written only by backend.ledger in the same transaction as the
    # entries they sum; tests check them against the sum of entries.
    credit_balance_rials: Mapped[int] = mapped_column(default=0)
    points_balance: Mapped[int] = mapped_column(default=0)
    total_spend_rials: Mapped[int] = mapped_column(default=0)
    purchase_count: Mapped[int] = mapped_column(default=0)
    # Bumped by the ledger's lock statement: the UPDATE is what takes the row lock on
    # PostgreSQL, so concurrent spends on one member are serialised by the database.
    lock_version: Mapped[int] = mapped_column(default=0)

    tier: Mapped[Tier] = relationship()
    home_branch: Mapped[Branch | None] = relationship()
    cards: Mapped[list["Card"]] = relationship(back_populates="member")
    referrer: Mapped["Member | None"] = relationship(remote_side=[id])

    __table_args__ = (
        CheckConstraint("credit_balance_rials >= 0", name="credit_not_negative"),
        CheckConstraint("points_balance >= 0", name="points_not_negative"),
        CheckConstraint("referrer_id IS NULL OR referrer_id <> id", name="no_self_referral"),
    )

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Card(Base):
    """A 16-digit PVC card (C1, C3). Status: active or blocked (lost/stolen)."""

    __tablename__ = "card"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    member: Mapped[Member | None] = relationship(back_populates="cards")

    __table_args__ = (
        CheckConstraint("status IN ('active', 'blocked')", name="status_known"),
        CheckConstraint("length(number) = 16", name="number_length"),
    )
