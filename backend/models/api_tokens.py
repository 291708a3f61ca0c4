"""Bearer tokens of the JSON API (O5). Only a SHA-256 of each token is stored, so a
leaked database or backup holds no usable token."""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import Base, UTCDateTime, utc_now
from backend.models.club import StaffUser
from backend.models.members import Member


class ApiToken(Base):
    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    # staff: signed in with username/password; member: mobile/password;
    # integration: made by a staff user in the panel, long-lived, acting as that user.
    kind: Mapped[str] = mapped_column(String(12))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The first characters, so a user can tell their tokens apart in the panel.
    prefix: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(80), default="")
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), index=True)
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    # None: no expiry (integration tokens may choose it); revocation still ends it.
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    staff_user: Mapped[StaffUser | None] = relationship()
    member: Mapped[Member | None] = relationship()

    __table_args__ = (
        CheckConstraint("kind IN ('staff', 'member', 'integration')", name="kind_known"),
        CheckConstraint("(member_id IS NULL) <> (staff_user_id IS NULL)", name="one_owner"),
        CheckConstraint("(kind = 'member') = (member_id IS NOT NULL)", name="owner_matches"),
    )
