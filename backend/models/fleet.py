"""What a terminal last said about itself, its remote config and its last logs (issue 16).

One row per terminal, apart from `device` (which other features extend): the health
fields of its retained `state` message, the config the panel wants it to have (`pending`,
with its version) next to the version it confirmed (`applied_version`), the signature
failures the worker saw from it, and the last log lines it sent back.
"""

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.models.base import Base, UTCDateTime


class TerminalHealth(Base):
    __tablename__ = "terminal_health"

    device_id: Mapped[str] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"),
                                           primary_key=True)
    reported_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    uptime_s: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    free_heap: Mapped[int | None] = mapped_column()
    rssi: Mapped[int | None] = mapped_column()
    oldest_queued_s: Mapped[int | None] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"))
    set_aside: Mapped[int] = mapped_column(default=0)
    clock_synced: Mapped[bool | None] = mapped_column()
    paper_ok: Mapped[bool | None] = mapped_column()
    printer_error: Mapped[str | None] = mapped_column(String(60))
    bad_signatures_seen: Mapped[int] = mapped_column(default=0)  # by the terminal
    crashes: Mapped[int] = mapped_column(default=0)
    applied_version: Mapped[int] = mapped_column(default=0)
    config_error: Mapped[str | None] = mapped_column(String(80))
    # The panel's side: the settings to deliver, their version, when last sent.
    pending: Mapped[dict | None] = mapped_column(JSON)
    pending_version: Mapped[int] = mapped_column(default=0)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Frames from this terminal that failed the backend's signature check (wrong key).
    bad_signatures: Mapped[int] = mapped_column(default=0)
    bad_signature_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The last log lines the terminal sent back (cmd "logs"), and when asked.
    log_lines: Mapped[list | None] = mapped_column(JSON)
    logs_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    logs_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
