"""The ledger: append-only money and points movements, and the purchases behind them."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import Amount, Base, UTCDateTime, utc_now
from backend.models.members import Member

ACCOUNTS = ("credit", "points")


class LedgerTransaction(Base):
    """A group of entries that commit together, unique by its idempotency key."""

    __tablename__ = "ledger_transaction"

    id: Mapped[int] = mapped_column(primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    reason: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    entries: Mapped[list["LedgerEntry"]] = relationship(back_populates="transaction")


class LedgerEntry(Base):
    """One signed movement on one of a member's accounts. Never updated, never deleted."""

    __tablename__ = "ledger_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transaction.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    account: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int] = mapped_column(Amount)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    transaction: Mapped[LedgerTransaction] = relationship(back_populates="entries")

    __table_args__ = (
        CheckConstraint("account IN ('credit', 'points')", name="account_known"),
        CheckConstraint("amount <> 0", name="amount_not_zero"),
    )


class Purchase(Base):
    """A purchase as priced by the engine; its balance effects are ledger entries."""

    __tablename__ = "purchase"

    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    card_id: Mapped[int] = mapped_column(ForeignKey("card.id"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    device_id: Mapped[str | None] = mapped_column(ForeignKey("device.id"))
    ledger_transaction_id: Mapped[int] = mapped_column(ForeignKey("ledger_transaction.id"))
    amount_rials: Mapped[int] = mapped_column(Amount)
    discount_rials: Mapped[int] = mapped_column(Amount)
    credit_used_rials: Mapped[int] = mapped_column(Amount)
    payable_rials: Mapped[int] = mapped_column(Amount)
    credit_earned_rials: Mapped[int] = mapped_column(Amount)
    points_earned: Mapped[int] = mapped_column(Amount)
    offline: Mapped[bool] = mapped_column(default=False)
    # Referrer's commission on this purchase (L10), reversed in proportion on refunds.
    commission_member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"))
    commission_rials: Mapped[int] = mapped_column(Amount, default=0)
    refunded_amount_rials: Mapped[int] = mapped_column(Amount, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    member: Mapped[Member] = relationship(foreign_keys=[member_id])

    __table_args__ = (
        CheckConstraint("amount_rials > 0", name="amount_positive"),
        CheckConstraint(
            "payable_rials = amount_rials - discount_rials - credit_used_rials",
            name="payable_adds_up",
        ),
        CheckConstraint("payable_rials >= 0", name="payable_not_negative"),
        CheckConstraint(
            "refunded_amount_rials BETWEEN 0 AND amount_rials", name="refund_within_amount"
        ),
    )
