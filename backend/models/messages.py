"""Messages (N1–N3): the outbox, templates, campaigns, verification codes, daily job runs.

The outbox (`message`) is the only way anything reaches a member's phone or inbox: use
cases add a row in their own transaction, and the jobs process sends it later through a
provider (backend.notifications). See docs/messages.md.
"""

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.encryption import EncryptedText
from backend.models.base import Amount, Base, UTCDateTime, utc_now

MESSAGE_STATUSES = ("queued", "sending", "sent", "delivered", "failed", "cancelled")


class MessageSettings(Base):
    """The club's message settings: providers, their credentials and the SMS quota.

    One row (id 1), created by the migration, like `club`. A table of its own so the
    secrets and counters of messaging stay apart from the loyalty settings."""

    __tablename__ = "message_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    # "console" writes messages to instance/outbox/*.log (development, tests, demo).
    sms_provider: Mapped[str] = mapped_column(String(16), default="console")
    # Secrets, encrypted at rest under the instance key (backend/encryption.py).
    kavenegar_api_key: Mapped[str] = mapped_column(EncryptedText(), default="")
    # The provider's line number the SMS comes from; empty: the account's default line.
    sms_sender: Mapped[str] = mapped_column(String(20), default="")
    email_provider: Mapped[str] = mapped_column(String(16), default="console")
    smtp_host: Mapped[str] = mapped_column(String(255), default="")
    smtp_port: Mapped[int] = mapped_column(default=587)
    smtp_security: Mapped[str] = mapped_column(String(8), default="starttls")
    smtp_username: Mapped[str] = mapped_column(String(255), default="")
    smtp_password: Mapped[str] = mapped_column(EncryptedText(), default="")
    email_from: Mapped[str] = mapped_column(String(254), default="")
    # N3: SMS parts the club may send in all (what it bought from the provider), and
    # parts sent so far. The dispatcher moves `sms_used` with one conditional UPDATE.
    sms_quota: Mapped[int] = mapped_column(Amount, default=100)
    sms_used: Mapped[int] = mapped_column(Amount, default=0)
    # Parts only transactional messages may use: promotional sends stop above this line
    # so receipts and verification codes keep going when a campaign drains the quota.
    sms_promotional_reserve: Mapped[int] = mapped_column(Amount, default=10)
    # What one SMS part costs the club, for the campaign preview (0: not shown).
    sms_part_price_rials: Mapped[int] = mapped_column(Amount, default=0)
    # Members who chose no language get messages in this one.
    default_language: Mapped[str] = mapped_column(String(2), default="fa")
    # "Credit about to expire" goes this many days before the expiry.
    expiry_reminder_days: Mapped[int] = mapped_column(default=7)
    # L13: a cheque or instalment reminder goes this many days before its due date.
    instrument_reminder_days: Mapped[int] = mapped_column(default=3)
    # Automatic messages switched off by the admin (template keys).
    disabled_kinds: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Default hold-out percentage offered on the campaign form.
    holdout_percent: Mapped[int] = mapped_column(default=10)

    __table_args__ = (
        CheckConstraint("sms_provider IN ('console', 'kavenegar')", name="sms_provider_known"),
        CheckConstraint("email_provider IN ('console', 'smtp')", name="email_provider_known"),
        CheckConstraint("smtp_security IN ('none', 'starttls', 'ssl')",
                        name="smtp_security_known"),
        CheckConstraint("smtp_port BETWEEN 1 AND 65535", name="smtp_port_range"),
        CheckConstraint("sms_quota >= 0 AND sms_used >= 0 AND sms_promotional_reserve >= 0",
                        name="sms_counts_not_negative"),
        CheckConstraint("default_language IN ('fa', 'en')", name="default_language_known"),
        CheckConstraint("expiry_reminder_days BETWEEN 1 AND 60",
                        name="expiry_reminder_days_range"),
        CheckConstraint("instrument_reminder_days BETWEEN 1 AND 60",
                        name="instrument_reminder_days_range"),
        CheckConstraint("holdout_percent BETWEEN 0 AND 50", name="holdout_percent_range"),
    )


class MessageTemplate(Base):
    """An admin's text for an automatic message in one language; without a row the
    built-in text of backend.notifications.templates is used."""

    __tablename__ = "message_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(32))
    language: Mapped[str] = mapped_column(String(2))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)

    __table_args__ = (
        UniqueConstraint("key", "language"),
        CheckConstraint("language IN ('fa', 'en')", name="language_known"),
    )


class Message(Base):
    """One SMS or email in the outbox, from queued to delivered or failed.

    Automatic messages are queued with their template key and the event's values
    (`params`) — one INSERT on the hot path — and rendered by the dispatcher; campaign
    messages are queued rendered. `dedupe_key` makes enqueuing idempotent (a purchase,
    a ledger transaction, a member's birthday in a year is announced once)."""

    __tablename__ = "message"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8), default="sms")
    kind: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(16))
    # Lower goes first: codes (0), other transactional messages (1), promotional (2).
    priority: Mapped[int] = mapped_column(default=1)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaign.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(254))
    language: Mapped[str] = mapped_column(String(2), default="")
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    subject: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    parts: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # While "sending": when another dispatcher may take the row over (this one died).
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Not worth sending after this (a verification code, a birthday greeting).
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    provider: Mapped[str] = mapped_column(String(16), default="")
    provider_ref: Mapped[str] = mapped_column(String(64), default="")
    error: Mapped[str] = mapped_column(Text, default="")
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last time the provider was asked whether a sent message was delivered.
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("channel IN ('sms', 'email')", name="channel_known"),
        CheckConstraint("category IN ('transactional', 'promotional')", name="category_known"),
        CheckConstraint("status IN ('queued', 'sending', 'sent', 'delivered', 'failed', "
                        "'cancelled')", name="status_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        Index("ix_message_due", "status", "priority", "next_attempt_at"),
    )


class Campaign(Base):
    """A promotional send to a segment of members (N3), with a random hold-out group.

    Created and sent in one transaction: every eligible member gets a
    `campaign_recipient` row, held out or with the message queued for them."""

    __tablename__ = "campaign"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    channel: Mapped[str] = mapped_column(String(8), default="sms")
    # The language the text is written in: numbers and dates in it are shown in this one.
    language: Mapped[str] = mapped_column(String(2), default="fa")
    body: Mapped[str] = mapped_column(Text)
    # The segment's criteria as chosen on the form (backend.notifications.campaigns).
    segment: Mapped[dict] = mapped_column(JSON, default=dict)
    holdout_percent: Mapped[int] = mapped_column(default=10)
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offer.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="sent")
    # The form's random key: a resubmitted form finds its campaign instead of resending.
    request_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Eligible members = recipients + held out (opted-out members are never eligible).
    eligible_count: Mapped[int] = mapped_column(default=0)
    recipient_count: Mapped[int] = mapped_column(default=0)
    held_out_count: Mapped[int] = mapped_column(default=0)
    sms_parts: Mapped[int] = mapped_column(Amount, default=0)
    # What one SMS part cost when it was sent (message settings then): the campaign's
    # cost in the effectiveness report does not move when the price changes later.
    sms_part_price_rials: Mapped[int] = mapped_column(Amount, default=0)

    offer = relationship("Offer")

    __table_args__ = (
        CheckConstraint("channel IN ('sms', 'email')", name="channel_known"),
        CheckConstraint("status IN ('draft', 'sent')", name="status_known"),
        CheckConstraint("language IN ('fa', 'en')", name="language_known"),
        CheckConstraint("holdout_percent BETWEEN 0 AND 50", name="holdout_percent_range"),
    )


class CampaignRecipient(Base):
    """One eligible member of a campaign: held out (sent nothing, the control group) or
    sent `message_id`. Comparing the two groups after `campaign.sent_at` measures the
    campaign (R3)."""

    __tablename__ = "campaign_recipient"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), index=True)
    held_out: Mapped[bool] = mapped_column(default=False)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id"))

    __table_args__ = (
        UniqueConstraint("campaign_id", "member_id"),
        CheckConstraint("held_out = (message_id IS NULL)", name="held_out_has_no_message"),
    )


class VerificationCode(Base):
    """A one-time code sent by SMS (M2, P1): only its keyed hash is stored; it expires,
    allows a few attempts and is consumed once."""

    __tablename__ = "verification_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    mobile: Mapped[str] = mapped_column(String(11), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    ip: Mapped[str] = mapped_column(String(45), index=True, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(default=0)
    consumed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("purpose IN ('sign_in', 'join', 'reset')", name="purpose_known"),
        CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    )


class JobRun(Base):
    """A daily job's run for one local (Tehran) day: claimed by one jobs process at a
    time (the unique key), retaken only after its lease ran out."""

    __tablename__ = "job_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32))
    day: Mapped[date] = mapped_column(Date())
    status: Mapped[str] = mapped_column(String(8), default="running")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    lease_until: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    summary: Mapped[str] = mapped_column(String(255), default="")

    __table_args__ = (
        UniqueConstraint("name", "day"),
        CheckConstraint("status IN ('running', 'done')", name="status_known"),
    )
