"""Loyalty programme tables: credit lots, tier changes, products, offers, refunds,
grants, transfers, cheques and instalments."""

from datetime import date, datetime

from sqlalchemy import JSON, CheckConstraint, Date, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import Amount, Base, UTCDateTime, utc_now


class CreditLot(Base):
    """A parcel of credit with its origin and expiry. Spending takes the soonest-expiring
    lots first (L4); the lots' remaining amounts always add up to the credit balance.
    `remaining_rials` moves only inside backend.ledger, next to the entries that justify it.
    """

    __tablename__ = "credit_lot"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transaction.id"))
    # Where it was earned; None means spendable at every branch (B3).
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    amount_rials: Mapped[int] = mapped_column(Amount)
    remaining_rials: Mapped[int] = mapped_column(Amount)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    __table_args__ = (
        CheckConstraint("amount_rials > 0", name="amount_positive"),
        CheckConstraint("remaining_rials BETWEEN 0 AND amount_rials", name="remaining_range"),
        Index("ix_credit_lot_member_open", "member_id", "remaining_rials"),
    )


class CreditAllocation(Base):
    """Which lot paid for which spending entry: the audit trail of lot consumption."""

    __tablename__ = "credit_allocation"

    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("ledger_entry.id"), index=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("credit_lot.id"), index=True)
    amount_rials: Mapped[int] = mapped_column(Amount)

    lot: Mapped[CreditLot] = relationship()

    __table_args__ = (CheckConstraint("amount_rials > 0", name="amount_positive"),)


class PointsLot(Base):
    """A parcel of points with its expiry (L1), the twin of `CreditLot`. Spending takes
    the soonest-expiring lots first. Points earned before lots existed (and demo or
    report seeds written as bare entries) are the member's balance minus the lots'
    remaining points: they never expire and are spent last.
    `remaining` moves only inside backend.ledger."""

    __tablename__ = "points_lot"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transaction.id"))
    amount: Mapped[int] = mapped_column(Amount)
    remaining: Mapped[int] = mapped_column(Amount)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("remaining BETWEEN 0 AND amount", name="remaining_range"),
        Index("ix_points_lot_member_open", "member_id", "remaining"),
    )


class Reward(Base):
    """The rewards catalogue (L1): N points for a product, a fixed discount (credit) or
    a gift card. `stock` None: unlimited."""

    __tablename__ = "reward"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(16))
    points_cost: Mapped[int] = mapped_column(Amount)
    # discount: the credit given; gift_card: the card's value.
    value_rials: Mapped[int] = mapped_column(Amount, default=0)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("product.id"))
    # gift_card: days the card's credit stays valid.
    valid_days: Mapped[int | None] = mapped_column()
    stock: Mapped[int | None] = mapped_column()
    is_active: Mapped[bool] = mapped_column(default=True)

    product: Mapped["Product | None"] = relationship()

    __table_args__ = (
        CheckConstraint("kind IN ('product', 'discount', 'gift_card')", name="kind_known"),
        CheckConstraint("points_cost > 0", name="points_cost_positive"),
        CheckConstraint("value_rials >= 0", name="value_not_negative"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
        CheckConstraint("valid_days IS NULL OR valid_days > 0", name="valid_days_positive"),
    )


class RewardRedemption(Base):
    """One reward taken for points: what, by whom, through which channel. A product
    redeemed in the portal waits (`to_collect`) until the counter hands it over."""

    __tablename__ = "reward_redemption"

    id: Mapped[int] = mapped_column(primary_key=True)
    reward_id: Mapped[int] = mapped_column(ForeignKey("reward.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    ledger_transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transaction.id"),
                                                       unique=True)
    points: Mapped[int] = mapped_column(Amount)
    credit_rials: Mapped[int] = mapped_column(Amount, default=0)
    channel: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), default="done")
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    gift_card_id: Mapped[int | None] = mapped_column(ForeignKey("card.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    collected_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    reward: Mapped[Reward] = relationship()

    __table_args__ = (
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("channel IN ('portal', 'counter', 'api')", name="channel_known"),
        CheckConstraint("status IN ('done', 'to_collect')", name="status_known"),
    )


class TierChange(Base):
    __tablename__ = "tier_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    from_tier_id: Mapped[int] = mapped_column(ForeignKey("tier.id"))
    to_tier_id: Mapped[int] = mapped_column(ForeignKey("tier.id"))
    reason: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)


class Product(Base):
    """A product or service with its own rewards and stock (L5)."""

    __tablename__ = "product"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    price_rials: Mapped[int] = mapped_column(Amount, default=0)
    points_per_unit: Mapped[int] = mapped_column(default=0)
    discount_percent_bp: Mapped[int] = mapped_column(default=0)
    extra_credit_per_unit_rials: Mapped[int] = mapped_column(Amount, default=0)
    # None: stock is not tracked (a service).
    stock: Mapped[int | None] = mapped_column()
    is_active: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
        CheckConstraint("discount_percent_bp BETWEEN 0 AND 10000", name="discount_range"),
    )


class PurchaseItem(Base):
    __tablename__ = "purchase_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchase.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    quantity: Mapped[int]
    unit_price_rials: Mapped[int] = mapped_column(Amount)


class Offer(Base):
    """An offer or campaign (L9); see backend.engine.offers for the semantics."""

    __tablename__ = "offer"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    is_active: Mapped[bool] = mapped_column(default=True)
    priority: Mapped[int] = mapped_column(default=100)
    exclusive: Mapped[bool] = mapped_column(default=False)
    max_uses_per_member: Mapped[int | None] = mapped_column()
    reward_kind: Mapped[str] = mapped_column(String(20))
    reward_value: Mapped[int]
    reward_expiry_days: Mapped[int | None] = mapped_column()
    min_days_since_last_visit: Mapped[int | None] = mapped_column()
    min_visit_number: Mapped[int | None] = mapped_column()
    max_visit_number: Mapped[int | None] = mapped_column()
    min_amount_rials: Mapped[int | None] = mapped_column(Amount)
    birthday_window_days: Mapped[int | None] = mapped_column()
    anniversary_window_days: Mapped[int | None] = mapped_column()
    starts_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Comma-separated tier codes; empty = every tier.
    tier_codes: Mapped[str] = mapped_column(String(255), default="")
    first_purchase_only: Mapped[bool] = mapped_column(default=False)
    # L7: Iranian weekdays it runs on (0 = Saturday … 6 = Friday; empty: every day) and a
    # daily window in Tehran minutes after midnight [from, until) (None: all day; a
    # window past midnight, e.g. 22:00–02:00, has until < from).
    weekdays: Mapped[list[int]] = mapped_column(JSON, default=list)
    from_minute: Mapped[int | None] = mapped_column()
    until_minute: Mapped[int | None] = mapped_column()

    __table_args__ = (
        CheckConstraint("from_minute IS NULL OR from_minute BETWEEN 0 AND 1439",
                        name="from_minute_range"),
        CheckConstraint("until_minute IS NULL OR until_minute BETWEEN 0 AND 1439",
                        name="until_minute_range"),
        CheckConstraint(
            "reward_kind IN ('percent_discount', 'fixed_discount', 'bonus_points', "
            "'bonus_credit', 'gift_credit')",
            name="reward_kind_known",
        ),
        CheckConstraint("reward_value >= 0", name="reward_not_negative"),
    )


class OfferRedemption(Base):
    __tablename__ = "offer_redemption"

    id: Mapped[int] = mapped_column(primary_key=True)
    offer_id: Mapped[int] = mapped_column(ForeignKey("offer.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchase.id"), index=True)
    discount_rials: Mapped[int] = mapped_column(Amount, default=0)
    points: Mapped[int] = mapped_column(Amount, default=0)
    credit_rials: Mapped[int] = mapped_column(Amount, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    __table_args__ = (Index("ix_offer_redemption_offer_member", "offer_id", "member_id"),)


class Refund(Base):
    """A full or partial refund of a purchase and what it reversed."""

    __tablename__ = "refund"

    id: Mapped[int] = mapped_column(primary_key=True)
    purchase_id: Mapped[int] = mapped_column(ForeignKey("purchase.id"), index=True)
    ledger_transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transaction.id"))
    amount_rials: Mapped[int] = mapped_column(Amount)
    # Cash the shop pays back: the refunded payable share, less earned credit or points
    # the member had already spent and so could not be taken back.
    cash_refund_rials: Mapped[int] = mapped_column(Amount)
    credit_returned_rials: Mapped[int] = mapped_column(Amount)
    credit_taken_rials: Mapped[int] = mapped_column(Amount)
    points_taken: Mapped[int] = mapped_column(Amount)
    commission_taken_rials: Mapped[int] = mapped_column(Amount, default=0)
    shortfall_rials: Mapped[int] = mapped_column(Amount, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    __table_args__ = (CheckConstraint("amount_rials > 0", name="amount_positive"),)


class CreditGrant(Base):
    """Credit given by staff to a member or a whole tier (L4), optionally expiring."""

    __tablename__ = "credit_grant"

    id: Mapped[int] = mapped_column(primary_key=True)
    reason: Mapped[str] = mapped_column(String(255))
    tier_id: Mapped[int | None] = mapped_column(ForeignKey("tier.id"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    amount_rials: Mapped[int] = mapped_column(Amount)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    member_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # The panel form's request key: a resubmitted form finds its grant instead of
    # granting twice.
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    __table_args__ = (CheckConstraint("amount_rials > 0", name="amount_positive"),)


class CreditTransfer(Base):
    __tablename__ = "credit_transfer"

    id: Mapped[int] = mapped_column(primary_key=True)
    from_member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    to_member_id: Mapped[int] = mapped_column(ForeignKey("member.id"))
    amount_rials: Mapped[int] = mapped_column(Amount)
    ledger_transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transaction.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    __table_args__ = (
        CheckConstraint("amount_rials > 0", name="amount_positive"),
        CheckConstraint("from_member_id <> to_member_id", name="not_to_self"),
    )


class InstalmentPlan(Base):
    """A total a member pays in `count` instalments (L13): each instalment is a
    PaymentInstrument row of kind "instalment" pointing here, due monthly (the same day of
    each Jalali month) or every `interval_days` days. Their amounts add up to the total."""

    __tablename__ = "instalment_plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"))
    total_rials: Mapped[int] = mapped_column(Amount)
    count: Mapped[int] = mapped_column()
    schedule: Mapped[str] = mapped_column(String(8))
    interval_days: Mapped[int | None] = mapped_column()
    first_due: Mapped[date] = mapped_column(Date())
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchase.id"))
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # The form's random key: a resubmitted form (a double tap) makes no second plan.
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)

    __table_args__ = (
        CheckConstraint("total_rials > 0", name="total_positive"),
        CheckConstraint("count BETWEEN 1 AND 120", name="count_range"),
        CheckConstraint("schedule IN ('monthly', 'days')", name="schedule_known"),
        CheckConstraint("interval_days IS NULL OR interval_days BETWEEN 1 AND 366",
                        name="interval_range"),
    )


LIVE_CHEQUE = "kind = 'cheque' AND bank != '' AND status != 'cancelled'"


class PaymentInstrument(Base):
    """A member's cheque or instalment with its due date (L13). A cheque goes from
    pending to cleared or bounced (a bounced cheque may clear later); an instalment from
    pending to paid; either may be cancelled while pending. Every change is an
    InstrumentEvent."""

    __tablename__ = "payment_instrument"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    # The cheque's number (sayadi or serial); empty for an instalment.
    reference: Mapped[str] = mapped_column(String(64), default="")
    # A cheque's bank: a code of backend.services.instruments.BANKS.
    bank: Mapped[str] = mapped_column(String(32), default="")
    amount_rials: Mapped[int] = mapped_column(Amount)
    due_date: Mapped[date] = mapped_column(Date())
    status: Mapped[str] = mapped_column(String(16), default="pending")
    note: Mapped[str] = mapped_column(Text, default="")
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"), index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("instalment_plan.id"), index=True)
    sequence: Mapped[int | None] = mapped_column()  # 1…count within its plan
    purchase_id: Mapped[int | None] = mapped_column(ForeignKey("purchase.id"))
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    __table_args__ = (
        CheckConstraint("kind IN ('cheque', 'instalment')", name="kind_known"),
        CheckConstraint("status IN ('pending', 'cleared', 'paid', 'bounced', 'cancelled')",
                        name="status_known"),
        CheckConstraint("amount_rials > 0", name="amount_positive"),
        # One live record per cheque (a cancelled record may be recorded again); rows
        # from before banks were recorded (bank '') are left out.
        Index("uq_payment_instrument_cheque", "bank", "reference", unique=True,
              sqlite_where=text(LIVE_CHEQUE), postgresql_where=text(LIVE_CHEQUE)),
    )


class InstrumentEvent(Base):
    """One line of a cheque's or instalment's history: who did what when, the status
    before and after (before is None when it was recorded)."""

    __tablename__ = "instrument_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    instrument_id: Mapped[int] = mapped_column(ForeignKey("payment_instrument.id"),
                                               index=True)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    before_status: Mapped[str | None] = mapped_column(String(16))
    after_status: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
