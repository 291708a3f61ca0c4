"""Members and their cards."""

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import Amount, Base, UTCDateTime, utc_now
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
    # M1: the rest of the member's file. Empty strings, not NULL, for "not given".
    gender: Mapped[str] = mapped_column(String(1), default="")
    province: Mapped[str] = mapped_column(String(64), default="")
    city: Mapped[str] = mapped_column(String(64), default="")
    neighbourhood: Mapped[str] = mapped_column(String(64), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    email: Mapped[str] = mapped_column(String(254), default="")
    home_phone: Mapped[str] = mapped_column(String(16), default="")
    work_phone: Mapped[str] = mapped_column(String(16), default="")
    father_name: Mapped[str] = mapped_column(String(64), default="")
    job: Mapped[str] = mapped_column(String(64), default="")
    weight_kg: Mapped[int | None] = mapped_column()
    favourite_colour: Mapped[str] = mapped_column(String(32), default="")
    # Values of the admin-defined fields (MemberField.key -> text), validated by the
    # member service against the field definitions.
    custom_fields: Mapped[dict] = mapped_column(JSON, default=dict)
    # Portal sign-in (P1); None until the member sets a password or verifies by SMS.
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # Raised when the member signs out (or sets a password): portal sessions carry it
    # (member_auth.fingerprint), so a copied cookie dies with the session it came from.
    session_version: Mapped[int] = mapped_column(default=0)
    # N2: promotional messages respect this; transactional ones ignore it.
    promotional_opt_out: Mapped[bool] = mapped_column(default=False)
    # N1: the language of the member's SMS and email; "" means the club's default.
    message_language: Mapped[str] = mapped_column(String(2), default="")
    notes: Mapped[str] = mapped_column(Text, default="")
    referrer_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True)
    last_visit_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A gift card's holder account (C4): it has credit but earns nothing.
    is_gift_account: Mapped[bool] = mapped_column(default=False)
    # Cached balances, written only by backend.ledger in the same transaction as the
    # entries they sum; tests check them against the sum of entries.
    credit_balance_rials: Mapped[int] = mapped_column(Amount, default=0)
    points_balance: Mapped[int] = mapped_column(Amount, default=0)
    total_spend_rials: Mapped[int] = mapped_column(Amount, default=0)
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
        CheckConstraint("gender IN ('', 'f', 'm')", name="gender_known"),
        CheckConstraint("weight_kg IS NULL OR weight_kg BETWEEN 1 AND 500", name="weight_range"),
    )

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Card(Base):
    """A 16-digit PVC card (C1, C3).

    Lifecycle: `issued` — printed in a batch and in stock, no member yet (`batch_id` set);
    `active` — assigned to a member (assignment at the counter activates it at once, as
    the member is holding it); `blocked` — lost, stolen or spoiled, never usable again.
    Cards printed outside Vafa (before the club's first batch) start `active` when
    assigned, with no batch."""

    __tablename__ = "card"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(16), unique=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("card_batch.id"), index=True)
    # When the card was given to its member; None while in stock.
    assigned_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    member: Mapped[Member | None] = relationship(back_populates="cards")

    __table_args__ = (
        CheckConstraint("status IN ('issued', 'active', 'blocked')", name="status_known"),
        CheckConstraint("status <> 'issued' OR member_id IS NULL", name="issued_in_stock"),
        CheckConstraint("length(number) = 16", name="number_length"),
    )


class MemberField(Base):
    """An admin-defined extra field on the member form (M1 "admin can add custom fields")."""

    __tablename__ = "member_field"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(32), unique=True)
    label: Mapped[str] = mapped_column(String(64))
    label_fa: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(8), default="text")
    # For kind "choice": the allowed values, in display order.
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(default=False)
    is_active: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)

    __table_args__ = (
        CheckConstraint("kind IN ('text', 'number', 'date', 'choice')", name="kind_known"),
    )


class MemberRequest(Base):
    """A member's message to the club and the staff's answer (P3, S1)."""

    __tablename__ = "member_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    subject: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text, default="")
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    member: Mapped[Member] = relationship()
