"""SQLAlchemy 2.0 models. Every schema change comes with an Alembic migration."""

from backend.models.base import Base, UTCDateTime, utc_now
from backend.models.club import Branch, Club, StaffUser, Tier
from backend.models.devices import Device, TerminalRequest
from backend.models.ledger import LedgerEntry, LedgerTransaction, Purchase
from backend.models.members import Card, Member

__all__ = [
    "Base",
    "Branch",
    "Card",
    "Club",
    "Device",
    "LedgerEntry",
    "LedgerTransaction",
    "Member",
    "Purchase",
    "StaffUser",
    "TerminalRequest",
    "Tier",
    "UTCDateTime",
    "utc_now",
]
