"""Firmware builds uploaded to the panel and their rollout to terminals (issue 16, OTA).

A build is identified by the SHA-256 of its manifest's exact bytes (`manifest_sha256`):
the signed cmd `ota` names it, the terminal checks the manifest it downloads against it
and every file against the manifest. The files live in the database
(`firmware_build_files`), not on disk: a build is at most 512 KiB, every web process
(several gunicorn workers, several hosts on PostgreSQL) serves the same bytes, and a
backup of the database holds the builds the terminals may still be asked to fetch.

`firmware_rollouts` holds one row per terminal: the build last offered to it and how far
it got, from its state topic (`ota`) and its `op:"ota"` request (docs/protocol.md).
"""

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.models.base import Base, UTCDateTime, utc_now

BUILD_STATUSES = ("active", "withdrawn")
ROLLOUT_STATES = ("offered", "downloading", "installed", "trial", "running", "failed",
                  "rolled_back")


class FirmwareBuild(Base):
    __tablename__ = "firmware_builds"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[str] = mapped_column(String(24))
    kind: Mapped[str] = mapped_column(String(8))
    manifest: Mapped[str] = mapped_column(Text)
    manifest_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    total_size: Mapped[int]
    file_count: Mapped[int]
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utc_now)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"))
    note: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")

    __table_args__ = (
        UniqueConstraint("version", "kind"),
        CheckConstraint("status IN ('active', 'withdrawn')", name="status_known"),
        CheckConstraint("kind IN ('mpy', 'py')", name="kind_known"),
    )


class FirmwareBuildFile(Base):
    __tablename__ = "firmware_build_files"

    build_id: Mapped[int] = mapped_column(ForeignKey("firmware_builds.id", ondelete="CASCADE"),
                                          primary_key=True)
    path: Mapped[str] = mapped_column(String(64), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class FirmwareRollout(Base):
    __tablename__ = "firmware_rollouts"

    device_id: Mapped[str] = mapped_column(ForeignKey("device.id", ondelete="CASCADE"),
                                           primary_key=True)
    build_id: Mapped[int] = mapped_column(ForeignKey("firmware_builds.id"))
    state: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(String(200), default="")
    pct: Mapped[int | None] = mapped_column()
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    build: Mapped[FirmwareBuild] = relationship()

    __table_args__ = (
        CheckConstraint("state IN ('offered', 'downloading', 'installed', 'trial', "
                        "'running', 'failed', 'rolled_back')", name="state_known"),
    )
