"""Shared by the services' transaction and audit tests (issue 20)."""

import pytest
from sqlalchemy import select

from backend.models import AuditLog
from backend.unit_of_work import Actor
from tests import factories


@pytest.fixture
def audit_rows(db):
    """The audit rows of one action, oldest first."""
    def rows(action: str) -> list[AuditLog]:
        return list(db.scalars(select(AuditLog).where(AuditLog.action == action)
                               .order_by(AuditLog.id)))
    return rows


@pytest.fixture
def staff(db) -> Actor:
    """A staff user at the panel, in a club with transfers allowed."""
    factories.club(db, max_transfer_rials=1_000_000, max_transfer_per_day_rials=2_000_000)
    factories.tier(db)
    user = factories.staff_user(db)
    return Actor(user.id, "10.0.0.9", "panel")
