"""ledger.post as plan + write: the plan decides every lot take before a row is written,
and the lot-sum invariant is checked on it at post's exit."""

import pytest
from sqlalchemy import func, select

from backend import ledger
from backend.errors import InsufficientBalance
from backend.models import CreditLot, LedgerTransaction
from tests import factories
from tests.conftest import NOW


def lots_total(db, member_id) -> int:
    return db.scalar(select(func.sum(CreditLot.remaining_rials))
                     .where(CreditLot.member_id == member_id))


def test_a_plan_that_takes_from_its_own_new_lot_keeps_lots_equal_to_the_balance(db):
    member = factories.member(db, credit_rials=10_000)
    locked = ledger.lock_member(db, member.id)
    plan = ledger._plan(db, locked, [ledger.Movement("credit", 5_000),
                                     ledger.Movement("credit", -12_000)], NOW, None)
    # 10,000 from the lot that existed, then 2,000 from the one this posting opens.
    assert [take for takes in plan.takes for _, take in takes] == [10_000, 2_000]
    assert plan.credit_change_in_lots() == -7_000
    ledger.post(db, member=locked, idempotency_key="plan-test", kind="grant",
                movements=plan.movements, reason="test", now=NOW)
    db.flush()
    assert lots_total(db, member.id) == locked.credit_balance_rials == 3_000


def test_a_refused_plan_writes_nothing(db):
    member = factories.member(db, credit_rials=1_000)
    locked = ledger.lock_member(db, member.id)
    before = db.scalar(select(func.count()).select_from(LedgerTransaction))
    with pytest.raises(InsufficientBalance):
        ledger.post(db, member=locked, idempotency_key="too-much", kind="grant",
                    movements=[ledger.Movement("credit", -2_000)], reason="test", now=NOW)
    assert db.scalar(select(func.count()).select_from(LedgerTransaction)) == before
    assert lots_total(db, member.id) == 1_000
