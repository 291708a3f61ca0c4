"""Terminals and the requests they sent (the exactly-once record)."""

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.encryption import EncryptedText
from backend.models.base import Amount, Base, UTCDateTime, utc_now
from backend.models.club import Branch


class Device(Base):
    """A registered card-reader terminal (T6).

    `key_hex` is the HMAC key frames are signed with; the backend must read it to verify,
    so it is stored encrypted (backend/encryption.py) with a key kept outside the
    database. The MQTT password is stored only as Mosquitto's PBKDF2 hash, ready for the
    broker's password file.
    """

    __tablename__ = "device"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    name: Mapped[str] = mapped_column(String(120), default="")
    key_hex: Mapped[str] = mapped_column(EncryptedText())
    mqtt_password_hash: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16), default="active")
    lang: Mapped[str] = mapped_column(String(2), default="en")
    last_seq: Mapped[int] = mapped_column(default=0)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    firmware_version: Mapped[str | None] = mapped_column(String(32))
    # The kind of build it runs, from its state (`fwk`): "mpy" on a board, "py" from
    # sources (the simulator); a firmware update is offered only of its kind (OTA).
    firmware_kind: Mapped[str | None] = mapped_column(String(8))
    # From the retained `state` topic (PROTOCOL.md): online flag and journal depth.
    is_online: Mapped[bool] = mapped_column(default=False)
    queued_count: Mapped[int] = mapped_column(default=0)
    state_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # Issue 17: what this terminal may do with money (backend/services/terminal_policy.py).
    # A top-up creates store credit out of cash the terminal cannot prove it took, so it
    # is off until an admin turns it on with both limits; None = no limit (refunds only).
    topup_allowed: Mapped[bool] = mapped_column(default=False)
    topup_max_rials: Mapped[int | None] = mapped_column(Amount)
    topup_max_per_day_rials: Mapped[int | None] = mapped_column(Amount)
    refund_allowed: Mapped[bool] = mapped_column(default=True)
    refund_max_rials: Mapped[int | None] = mapped_column(Amount)
    refund_max_per_day_rials: Mapped[int | None] = mapped_column(Amount)
    # Issue 15: the refund PIN and window; None = the branch's.
    refund_pin_hash: Mapped[str | None] = mapped_column(String(255))
    refund_window_hours: Mapped[int | None] = mapped_column()
    # Set after too many wrong PINs: refunds are refused (PIN_WRONG) until then.
    refund_locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())

    branch: Mapped[Branch] = relationship()

    __table_args__ = (
        CheckConstraint("status IN ('active', 'revoked')", name="status_known"),
        CheckConstraint("topup_max_rials > 0", name="topup_max_positive"),
        CheckConstraint("topup_max_per_day_rials > 0", name="topup_max_per_day_positive"),
        CheckConstraint("refund_max_rials > 0", name="refund_max_positive"),
        CheckConstraint("refund_max_per_day_rials > 0", name="refund_max_per_day_positive"),
        CheckConstraint("refund_window_hours > 0", name="refund_window_positive"),
    )


class TerminalRequest(Base):
    """One answered request per (device, request id), with the exact response body.

    A repeated id gets `response_body` again byte-for-byte (PROTOCOL.md "Exactly-once"),
    refusals included, provided its semantic fields have the same `digest`; another
    request under a known id gets ID_REUSED. `code` is the answer's code (OK or the
    refusal), `offline` whether it was a journaled replay: the panel lists refused
    offline sales from these. `seq` is 0 for a refused body whose seq was not valid.
    """

    __tablename__ = "terminal_request"

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("device.id"))
    request_id: Mapped[str] = mapped_column(String(32))
    seq: Mapped[int]
    op: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    response_body: Mapped[str] = mapped_column(Text)
    # Rows stored before revision 0013 have no digest, code or offline flag.
    digest: Mapped[str | None] = mapped_column(String(64))
    code: Mapped[str | None] = mapped_column(String(24))
    offline: Mapped[bool | None] = mapped_column(Boolean)
    # What the shop needs to see of a refused sale: the card (when it was 16 digits) and
    # the amount (when it was a valid one).
    card_number: Mapped[str | None] = mapped_column(String(16))
    amount_rials: Mapped[int | None] = mapped_column(Amount)
    ledger_transaction_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_transaction.id"))

    device: Mapped[Device] = relationship()

    __table_args__ = (
        UniqueConstraint("device_id", "request_id"),
        # A terminal's requests of a day: its daily limits and its page in the panel.
        Index("ix_terminal_request_device_received", "device_id", "received_at"),
    )
