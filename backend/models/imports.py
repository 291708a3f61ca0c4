"""Member imports (M3): one row per uploaded file the admin committed or discarded."""

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import Amount, Base, UTCDateTime, utc_now
from backend.models.club import StaffUser


class MemberImport(Base):
    """The outcome of one uploaded member file.

    `token` is the random name the upload was stored under between preview and commit; it
    is unique, and the row is written in the same transaction as the imported members, so
    a commit posted twice (a double click, a browser retry) imports once: the second
    finds this row, or fails on the unique token and rolls back everything it wrote.
    `rejected` keeps the refused rows with their reasons for the result file:
    {"columns": [[key, header], …], "rows": [{"row": n, "values": [...], "errors": [...]}]}.
    """

    __tablename__ = "member_import"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    staff_user_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    filename: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16))
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_imported: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    # The welcome credit each imported member was given (0: none), per the admin's choice.
    welcome_credit_rials: Mapped[int] = mapped_column(Amount, default=0)
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now, index=True)
    rejected: Mapped[dict] = mapped_column(JSON, default=dict)

    staff_user: Mapped[StaffUser | None] = relationship()

    __table_args__ = (
        CheckConstraint("status IN ('committed', 'discarded')", name="status_known"),
        CheckConstraint("rows_imported + rows_rejected <= rows_total", name="counts_add_up"),
    )
