import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from backend import ledger
from backend.errors import InsufficientBalance
from backend.extensions import db as flask_db
from backend.models import LedgerEntry, LedgerTransaction, Member
from tests import factories

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def post(session, member, key, credit=0, points=0):
    return ledger.post(
        session, member=ledger.lock_member(session, member.id), idempotency_key=key,
        kind="grant", movements=[ledger.Movement("credit", credit),
                                 ledger.Movement("points", points)],
        reason="test", now=NOW,
    )


def test_balance_is_the_sum_of_entries_and_the_cache_agrees(db):
    member = factories.member(db)
    post(db, member, "a", credit=10_000, points=5)
    post(db, member, "b", credit=-4_000)
    assert ledger.balance_from_entries(db, member.id, "credit") == 6_000
    assert ledger.balance_from_entries(db, member.id, "points") == 5
    db.refresh(member)
    assert (member.credit_balance_rials, member.points_balance) == (6_000, 5)


def test_same_key_posts_once(db):
    member = factories.member(db)
    first = post(db, member, "once", credit=10_000)
    second = post(db, member, "once", credit=10_000)
    assert first.id == second.id
    assert ledger.balance_from_entries(db, member.id, "credit") == 10_000
    assert db.scalar(select(func.count()).select_from(LedgerTransaction)
                     .where(LedgerTransaction.idempotency_key == "once")) == 1


def test_overdraft_is_refused_and_writes_nothing(db):
    member = factories.member(db, credit_rials=1_000)
    entries_before = db.scalar(select(func.count()).select_from(LedgerEntry))
    with pytest.raises(InsufficientBalance):
        post(db, member, "too-much", credit=-1_001)
    assert db.scalar(select(func.count()).select_from(LedgerEntry)) == entries_before
    assert ledger.find_transaction(db, "too-much") is None
    assert db.get(Member, member.id).credit_balance_rials == 1_000


def test_zero_movements_leave_no_entries(db):
    member = factories.member(db)
    transaction = post(db, member, "zero", credit=0, points=3)
    assert [(e.account, e.amount) for e in transaction.entries] == [("points", 3)]


def test_concurrent_spends_never_overdraw(tmp_path_factory, databases, app):
    """Eight threads each spend 30,000 of a 100,000 balance, on separate connections:
    exactly three succeed, whichever database serialises them."""
    from tests.conftest import build_app

    live = build_app(tmp_path_factory, databases, app.database_kind)
    with live.app_context():
        session = flask_db.session
        member = factories.member(session, credit_rials=100_000)
        session.commit()
        member_id = member.id

    outcomes: list[str] = []
    barrier = threading.Barrier(8)

    def spend(index: int):
        with live.app_context():
            session = flask_db.session
            barrier.wait()
            try:
                locked = ledger.lock_member(session, member_id)
                ledger.post(session, member=locked, idempotency_key=f"spend-{index}",
                            kind="spend", movements=[ledger.Movement("credit", -30_000)],
                            reason="race", now=NOW)
                session.commit()
                outcomes.append("ok")
            except InsufficientBalance:
                session.rollback()
                outcomes.append("refused")

    threads = [threading.Thread(target=spend, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["ok"] * 3 + ["refused"] * 5
    with live.app_context():
        session = flask_db.session
        assert ledger.balance_from_entries(session, member_id, "credit") == 10_000
        assert session.get(Member, member_id).credit_balance_rials == 10_000


def test_a_movement_may_draw_on_credit_the_same_transaction_brings_in(db):
    """A refund gives spent credit back and takes earned credit away in one transaction;
    when the member holds less than what is taken, the credit given back covers it."""
    member = factories.member(db, credit_rials=1_000)
    transaction = ledger.post(
        db, member=ledger.lock_member(db, member.id), idempotency_key="refund-like",
        kind="refund", reason="test", now=NOW,
        movements=[ledger.Movement("credit", 5_000),
                   ledger.Movement("credit", -4_500, clawback=True)],
    )
    assert [entry.amount for entry in transaction.entries] == [5_000, -4_500]
    assert ledger.balance_from_entries(db, member.id, "credit") == 1_500
    assert ledger.credit_in_lots(db, member.id) == 1_500
    assert db.get(Member, member.id).credit_balance_rials == 1_500


def test_amounts_past_32_bits_are_stored_exactly(db):
    """A jeweller's member passes 2**31 rials (about 215 million toman) quickly."""
    member = factories.member(db)
    post(db, member, "big", credit=5_000_000_000_000)
    post(db, member, "bigger", credit=4_000_000_000_000)
    assert ledger.balance_from_entries(db, member.id, "credit") == 9_000_000_000_000
    db.expire_all()
    assert db.get(Member, member.id).credit_balance_rials == 9_000_000_000_000


def test_lots_loaded_in_the_transaction_stay_in_step_with_their_rows(db):
    """A posting writes its lots with Core statements; lot objects the session loaded
    before must show what the rows hold, or a second spend in the same transaction would
    plan against stale amounts."""
    from backend.models import CreditAllocation, CreditLot

    member = factories.member(db, credit_rials=10_000)
    lot = db.scalars(select(CreditLot).where(CreditLot.member_id == member.id)).one()
    post(db, member, "spend-1", credit=-3_000)
    assert lot.remaining_rials == 7_000
    assert db.scalar(select(CreditLot.__table__.c.remaining_rials)
                     .where(CreditLot.__table__.c.id == lot.id)) == 7_000
    post(db, member, "spend-2", credit=-7_000)
    assert lot.remaining_rials == 0
    with pytest.raises(InsufficientBalance):
        post(db, member, "spend-3", credit=-1)
    assert db.scalar(select(func.sum(CreditAllocation.amount_rials))
                     .where(CreditAllocation.lot_id == lot.id)) == 10_000
    assert ledger.credit_in_lots(db, member.id) == 0
    assert db.get(Member, member.id).credit_balance_rials == 0


def test_spendable_credit_sums_only_unexpired_lots_valid_at_the_branch(db):
    from datetime import timedelta

    member = factories.member(db)
    here, there = factories.branch(db), factories.branch(db)
    locked = ledger.lock_member(db, member.id)
    ledger.post(db, member=locked, idempotency_key="lots", kind="grant", reason="test",
                now=NOW, movements=[
                    ledger.Movement("credit", 1_000),  # everywhere, never expires
                    ledger.Movement("credit", 200, branch_id=here.id),
                    ledger.Movement("credit", 30, branch_id=there.id),
                    ledger.Movement("credit", 4, expires_at=NOW + timedelta(days=1))])
    assert ledger.spendable_credit(db, member.id, NOW) == 1_234
    assert ledger.spendable_credit(db, member.id, NOW, here.id) == 1_204
    assert ledger.spendable_credit(db, member.id, NOW + timedelta(days=2), there.id) == 1_030
