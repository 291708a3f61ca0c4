"""Refunds run in the unit of work of the use case that makes them (issue 20): a refused
refund leaves no refund, no ledger movement and no audit row; a done one exactly its
refund and one audit row (a staff user at the panel)."""

import pytest
from sqlalchemy import func, select

from backend.errors import DomainError
from backend.models import AuditLog, LedgerTransaction, Refund
from backend.services import counter
from backend.unit_of_work import SYSTEM, Actor
from tests import factories
from tests.conftest import NOW


def count(db, model) -> int:
    return db.scalar(select(func.count()).select_from(model))


@pytest.fixture
def sale(db):
    factories.club(db)
    branch, member = factories.branch(db), factories.member(db)
    admin = factories.staff_user(db)
    purchase = counter.record_purchase(db, actor=SYSTEM, member_id=member.id,
                                       branch_id=branch.id, amount_rials=200_000,
                                       use_credit_rials=0, request_key="refund-unit-sale-01",
                                       now=NOW).purchase
    return purchase, Actor(admin.id, "10.0.0.9")


def refund(db, purchase, actor, amount_rials, key):
    return counter.refund(db, actor=actor, purchase_id=purchase.id, amount_rials=amount_rials,
                          request_key=key, staff_user_id=actor.staff_user_id, now=NOW)


def test_a_refused_refund_leaves_nothing(db, sale):
    purchase, admin = sale
    transactions = count(db, LedgerTransaction)
    with pytest.raises(DomainError):
        refund(db, purchase, admin, purchase.amount_rials + 1, "refund-unit-too-much-01")
    assert count(db, Refund) == count(db, AuditLog) == 0
    assert count(db, LedgerTransaction) == transactions


def test_a_refund_leaves_its_refund_and_one_audit_row(db, sale):
    purchase, admin = sale
    refund(db, purchase, admin, 50_000, "refund-unit-part-01")
    db.rollback()  # committed by the use case itself
    [row] = db.scalars(select(Refund)).all()
    assert row.amount_rials == 50_000
    [audited] = db.scalars(select(AuditLog)).all()
    assert (audited.action, audited.entity, audited.entity_id, audited.details) == (
        "refund_purchase", "purchase", str(purchase.id), {"amount_rials": 50_000})
