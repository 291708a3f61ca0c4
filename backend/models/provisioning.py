"""Card batches with their serial counters (C1, C2) and terminal enrolment tokens (O2)."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, UTCDateTime, utc_now


class CardSerialCounter(Base):
    """The next free serial under one issuer prefix.

    Batches take their serials from this row with a single `UPDATE … RETURNING`, which
    holds the row's write lock until the batch's transaction commits: two concurrent
    batches get disjoint, contiguous ranges and no serial is ever handed out twice.
    """

    __tablename__ = "card_serial_counter"

    prefix: Mapped[str] = mapped_column(String(6), primary_key=True)
    next_serial: Mapped[int]

    __table_args__ = (
        CheckConstraint("next_serial >= 1", name="next_serial_positive"),
        CheckConstraint("length(prefix) = 6", name="prefix_length"),
    )


class CardBatch(Base):
    """A run of card numbers sent to the printing house: serials first_serial … +count-1."""

    __tablename__ = "card_batch"

    id: Mapped[int] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(String(6))
    first_serial: Mapped[int]
    count: Mapped[int]
    label: Mapped[str] = mapped_column(String(120), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    __table_args__ = (
        CheckConstraint("count > 0", name="count_positive"),
        CheckConstraint("first_serial >= 1", name="first_serial_positive"),
    )

    @property
    def last_serial(self) -> int:
        return self.first_serial + self.count - 1


class EnrolmentToken(Base):
    """A one-time token in a provisioning QR code (O2).

    The terminal exchanges it once, within its lifetime, for freshly generated
    credentials; only the token's SHA-256 is stored, and the device's secrets are created
    at the exchange so none of them is ever kept in clear.
    """

    __tablename__ = "enrolment_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    device_id: Mapped[str] = mapped_column(String(32))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    name: Mapped[str] = mapped_column(String(120), default="")
    lang: Mapped[str] = mapped_column(String(2), default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
