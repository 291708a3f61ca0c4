"""The summary tables kept by triggers (migration 0024) equal the raw aggregation of the
purchases after inserts, refunds (partial and full), refund reversals and deletes."""

import random

from sqlalchemy import delete, select

from backend.models import Purchase
from backend.services.reports import periods, summaries
from tests.unit.backend.services.reports.conftest import noon, record_purchase


def test_the_summary_equals_the_purchases_after_refunds_and_deletes(paper, db):
    assert summaries.summary_member_months(db) == summaries.raw_member_months(db)
    purchases = db.scalars(select(Purchase).order_by(Purchase.id)).all()
    purchases[0].refunded_amount_rials = purchases[0].amount_rials // 2     # partial
    purchases[1].refunded_amount_rials = purchases[1].amount_rials          # full
    db.flush()
    assert summaries.summary_member_months(db) == summaries.raw_member_months(db)
    refunded_in_full = db.scalars(select(Purchase).where(
        Purchase.refunded_amount_rials == Purchase.amount_rials)).first()
    refunded_in_full.refunded_amount_rials = 0                              # reversed
    db.execute(delete(Purchase).where(Purchase.id == purchases[2].id))
    db.flush()
    assert summaries.summary_member_months(db) == summaries.raw_member_months(db)
    # m1 bought twice in Aban at branch X: one row of two purchases.
    aban = periods.local_midnight_utc(periods.month_start(noon("1405/08/02").date()))
    row = [item for item in summaries.summary_member_months(db)
           if item[0] == paper.members["m1"].id and item[1] == aban]
    assert row == [(paper.members["m1"].id, aban, paper.branch_x.id, 2, 4_000_000, 100_000,
                    150_000, 0, 400)]


def test_random_purchases_and_refunds_keep_the_summary_equal(paper, db):
    # A cheap property test: a seeded random sequence of inserts and refund changes.
    rng = random.Random(19)
    members = [member for name, member in paper.members.items() if name != "gift"]
    days = [f"1405/{month:02d}/{day:02d}" for month in (6, 7, 8, 9) for day in (1, 15, 30)]
    made = []
    for _ in range(60):
        if made and rng.random() < 0.4:
            purchase = rng.choice(made)
            purchase.refunded_amount_rials = rng.choice(
                [0, purchase.amount_rials // 3, purchase.amount_rials])
        else:
            made.append(record_purchase(
                db, rng.choice(members), noon(rng.choice(days)), rng.randrange(1, 50) * 10_000,
                rng.choice([paper.branch_x, paper.branch_y]).id, points=rng.randrange(5),
                credit_earned=rng.randrange(3) * 1_000))
        db.flush()
    assert summaries.summary_member_months(db) == summaries.raw_member_months(db)


def test_a_whole_jalali_month_is_told_from_other_periods():
    aban = periods.Period(periods.month_start(noon("1405/08/10").date()),
                          periods.next_month_start(noon("1405/08/10").date())
                          - periods.timedelta(days=1))
    assert summaries.is_whole_month(aban)
    assert not summaries.is_whole_month(periods.Period(aban.first, aban.last
                                                       - periods.timedelta(days=1)))
