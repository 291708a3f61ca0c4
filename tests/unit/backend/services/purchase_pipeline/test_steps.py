"""The steps in sequence (`purchase_pipeline.run`): a purchase writes its member once,
with Core statements and no unit-of-work flush, and the rows say what the reply says."""

from datetime import UTC, datetime

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from backend import ledger
from backend.models import Member, Message, Purchase
from backend.services import purchase_pipeline
from tests import factories

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def test_a_purchase_writes_its_member_in_one_update_and_flushes_nothing(db):
    factories.club(db)
    branch = factories.branch(db)
    member = factories.member(db, credit_rials=50_000)
    db.commit()
    flushes, member_updates = [], []

    def count_flush(*_args):
        flushes.append(1)

    def count_member_update(_connection, _cursor, statement, *_rest):
        # The lock (ledger.lock_member) is not a write of the member's figures.
        if statement.startswith("UPDATE member SET") and "lock_version" not in statement:
            member_updates.append(statement)

    bind = db.get_bind()
    event.listen(Session, "before_flush", count_flush)
    event.listen(bind, "before_cursor_execute", count_member_update)
    try:
        locked = ledger.lock_member(db, member.id)
        result = purchase_pipeline.run(
            db, member=locked, card=locked.cards[0], branch_id=branch.id, device_id=None,
            idempotency_key="steps:1", amount_rials=200_000, use_credit_rials=20_000,
            offline=False, now=NOW, key_is_new=True)
    finally:
        event.remove(Session, "before_flush", count_flush)
        event.remove(bind, "before_cursor_execute", count_member_update)
    assert flushes == []
    assert len(member_updates) == 1, member_updates
    db.commit()
    row = db.execute(select(Member.credit_balance_rials, Member.points_balance,
                            Member.total_spend_rials, Member.purchase_count)
                     .where(Member.id == member.id)).one()
    purchase = db.get(Purchase, result.purchase.id)
    assert purchase.credit_used_rials == 20_000
    assert row.credit_balance_rials == 50_000 - 20_000 + purchase.credit_earned_rials
    assert row.points_balance == purchase.points_earned
    assert (row.total_spend_rials, row.purchase_count) == (purchase.payable_rials, 1)
    assert row.credit_balance_rials == ledger.balance_from_entries(db, member.id, "credit")
    thanks = db.scalars(select(Message).where(Message.dedupe_key == f"purchase:{purchase.id}")
                        ).one()
    assert thanks.params["credit_balance"] == row.credit_balance_rials
