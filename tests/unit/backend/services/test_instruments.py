"""Cheques and instalments (L13, issue 18 item 4): amounts to the rial, Jalali schedules,
status changes with their history, refusals that write nothing."""

from datetime import date, timedelta

import jdatetime
import pytest
from sqlalchemy import func, select

from backend.errors import BadRequest, Forbidden, NotFound
from backend.models import InstalmentPlan, InstrumentEvent, PaymentInstrument
from backend.services import instruments
from backend.unit_of_work import SYSTEM, Actor
from tests import factories
from tests.conftest import NOW  # Saturday 30 Aban 1405, 13:00 Tehran


def jalali(year, month, day) -> date:
    return jdatetime.date(year, month, day).togregorian()


@pytest.fixture
def shop(db):
    factories.club(db)
    branch = factories.branch(db)
    other = factories.branch(db)
    member = factories.member(db, home_branch_id=branch.id)
    staff = factories.staff_user(db, username="cashier", role="operator", branch_id=branch.id)
    db.commit()
    return db, branch, other, member, staff


def counts(db) -> tuple[int, int, int]:
    return (db.scalar(select(func.count(PaymentInstrument.id))),
            db.scalar(select(func.count(InstalmentPlan.id))),
            db.scalar(select(func.count(InstrumentEvent.id))))


def test_a_cheque_is_recorded_with_its_first_history_line(shop):
    db, branch, _other, member, staff = shop
    cheque = instruments.record_cheque(
        db, member_id=member.id, bank="mellat", number="۱۲۳۴۵۶۷۸۹۰۱۲۳۴۵۶",
        due_date=jalali(1405, 9, 15), amount_rials=25_000_000, now=NOW, branch_id=branch.id,
        actor=Actor(staff.id), note="خرید مبلمان")
    assert (cheque.kind, cheque.bank, cheque.reference, cheque.status) == \
        ("cheque", "mellat", "1234567890123456", "pending")
    assert cheque.due_date == date(2026, 12, 6)
    [event] = instruments.history(db, cheque.id)
    assert (event.before_status, event.after_status, event.staff_user_id, event.at) == \
        (None, "pending", staff.id, NOW)


@pytest.mark.parametrize("fields, field", [
    ({"bank": "nowhere"}, "bank"),
    ({"number": "12ab"}, "number"),
    ({"number": "1" * 21}, "number"),
    ({"amount_rials": 0}, "amount"),
    ({"amount_rials": 10.5}, "amount"),
    ({"member_id": 10**6}, "member"),
    ({"branch_id": 10**6}, "branch"),
    ({"purchase_id": 10**6}, "purchase"),
    ({"note": "x" * 501}, "note"),
])
def test_a_bad_cheque_is_refused_and_nothing_is_written(shop, fields, field):
    db, branch, _other, member, _staff = shop
    before = counts(db)
    values = {"member_id": member.id, "bank": "melli", "number": "1001",
              "due_date": date(2026, 12, 1), "amount_rials": 1_000_000, "branch_id": branch.id,
              **fields}
    with pytest.raises(BadRequest) as error:
        instruments.record_cheque(db, actor=SYSTEM, now=NOW, **values)
    assert error.value.field == field
    db.rollback()
    assert counts(db) == before


def test_the_same_cheque_cannot_be_recorded_twice_unless_cancelled(shop):
    db, branch, _other, member, _staff = shop
    first = instruments.record_cheque(db, actor=SYSTEM,
                                      member_id=member.id, bank="melli", number="77",
                                      due_date=date(2026, 12, 1), amount_rials=5, now=NOW)
    with pytest.raises(BadRequest, match="already recorded"):
        instruments.record_cheque(db, actor=SYSTEM, member_id=member.id, bank="melli", number="۷۷",
                                  due_date=date(2026, 12, 1), amount_rials=5, now=NOW)
    db.rollback()
    instruments.change_status(db, actor=SYSTEM, instrument_id=first.id, status="cancelled", now=NOW)
    again = instruments.record_cheque(db, actor=SYSTEM,
                                      member_id=member.id, bank="melli", number="77",
                                      due_date=date(2026, 12, 1), amount_rials=5, now=NOW)
    assert again.id != first.id
    # another bank's cheque may carry the same number
    instruments.record_cheque(db, actor=SYSTEM, member_id=member.id, bank="sepah", number="77",
                              due_date=date(2026, 12, 1), amount_rials=5, now=NOW)


def test_split_amounts_add_up_to_the_rial_and_the_last_takes_the_remainder():
    assert instruments.split_amounts(10_000_000, 3) == [3_333_333, 3_333_333, 3_333_334]
    assert instruments.split_amounts(7, 7) == [1] * 7
    assert instruments.split_amounts(100, 1) == [100]
    for total, count in ((1_234_567_891, 12), (999_999, 120), (5, 4)):
        parts = instruments.split_amounts(total, count)
        assert sum(parts) == total and len(parts) == count
        assert parts[-1] - parts[0] < count


def test_a_monthly_plan_keeps_the_jalali_day_and_clamps_to_short_months(shop):
    db, branch, _other, member, staff = shop
    result = instruments.create_plan(
        db, member_id=member.id, total_rials=10_000_000, count=8, schedule="monthly",
        first_due=jalali(1405, 5, 31), now=NOW, branch_id=branch.id, actor=Actor(staff.id))
    dates = [jdatetime.date.fromgregorian(date=row.due_date) for row in result.instalments]
    # Mordad 31, Shahrivar 31, Mehr 30 (a 30-day month), …, Esfand 29 (1405 is not leap)
    assert [(d.year, d.month, d.day) for d in dates] == [
        (1405, 5, 31), (1405, 6, 31), (1405, 7, 30), (1405, 8, 30), (1405, 9, 30),
        (1405, 10, 30), (1405, 11, 30), (1405, 12, 29)]
    assert [row.amount_rials for row in result.instalments] == [1_250_000] * 8
    assert [row.sequence for row in result.instalments] == list(range(1, 9))
    assert {row.plan_id for row in result.instalments} == {result.plan.id}
    assert sum(row.amount_rials for row in result.instalments) == result.plan.total_rials
    assert db.scalar(select(func.count(InstrumentEvent.id))) == 8


def test_a_plan_every_k_days_crosses_the_year(shop):
    db, _branch, _other, member, _staff = shop
    result = instruments.create_plan(
        db, actor=SYSTEM, member_id=member.id, total_rials=1_000_001, count=3, schedule="days",
        interval_days=45, first_due=jalali(1405, 12, 1), now=NOW)
    assert [row.due_date for row in result.instalments] == [
        jalali(1405, 12, 1), jalali(1405, 12, 1) + timedelta(days=45),
        jalali(1405, 12, 1) + timedelta(days=90)]
    assert [row.amount_rials for row in result.instalments] == [333_333, 333_333, 333_335]


@pytest.mark.parametrize("fields, field", [
    ({"count": 0}, "count"),
    ({"count": 121}, "count"),
    ({"count": 11, "total_rials": 10}, "count"),
    ({"total_rials": -5}, "total"),
    ({"schedule": "weekly"}, "schedule"),
    ({"schedule": "days", "interval_days": None}, "interval_days"),
    ({"schedule": "days", "interval_days": 367}, "interval_days"),
    ({"member_id": 10**6}, "member"),
])
def test_a_bad_plan_writes_no_instalment(shop, fields, field):
    db, _branch, _other, member, _staff = shop
    before = counts(db)
    values = {"member_id": member.id, "total_rials": 9_000_000, "count": 3,
              "schedule": "monthly", "first_due": date(2026, 12, 1), **fields}
    with pytest.raises(BadRequest) as error:
        instruments.create_plan(db, actor=SYSTEM, now=NOW, **values)
    assert error.value.field == field
    db.rollback()
    assert counts(db) == before


def test_status_changes_follow_the_kind_and_leave_a_history(shop):
    db, branch, _other, member, staff = shop
    cheque = instruments.record_cheque(db, actor=SYSTEM,
                                       member_id=member.id, bank="saman", number="5",
                                       due_date=date(2026, 11, 1), amount_rials=3_000_000,
                                       now=NOW, branch_id=branch.id)
    later = NOW + timedelta(days=2)
    instruments.change_status(db, instrument_id=cheque.id, status="bounced", now=NOW,
                              actor=Actor(staff.id), note="کسری موجودی")
    instruments.change_status(db, instrument_id=cheque.id, status="cleared", now=later,
                              actor=Actor(staff.id))
    assert [(e.before_status, e.after_status, e.note) for e in
            instruments.history(db, cheque.id)] == [
        (None, "pending", ""), ("pending", "bounced", "کسری موجودی"),
        ("bounced", "cleared", "")]
    assert cheque.settled_at == later
    for refused in ("bounced", "pending", "paid", "cancelled"):
        with pytest.raises(BadRequest, match="not possible"):
            instruments.change_status(db, actor=SYSTEM,
                                      instrument_id=cheque.id, status=refused, now=later)
        db.rollback()
    assert len(instruments.history(db, cheque.id)) == 3

    [instalment] = instruments.create_plan(
        db, actor=SYSTEM, member_id=member.id, total_rials=100, count=1, schedule="monthly",
        first_due=date(2026, 12, 1), now=NOW).instalments
    for refused in ("cleared", "bounced"):
        with pytest.raises(BadRequest):
            instruments.change_status(db, actor=SYSTEM,
                                      instrument_id=instalment.id, status=refused, now=NOW)
        db.rollback()
    instruments.change_status(db, actor=SYSTEM, instrument_id=instalment.id, status="paid", now=NOW)
    assert db.get(PaymentInstrument, instalment.id).status == "paid"


def test_an_operator_changes_only_their_branch_s_rows(shop):
    db, branch, other, member, _staff = shop
    there = instruments.record_cheque(db, actor=SYSTEM, member_id=member.id, bank="dey", number="9",
                                      due_date=date(2026, 12, 1), amount_rials=10, now=NOW,
                                      branch_id=other.id)
    with pytest.raises(Forbidden):
        instruments.change_status(db, actor=SYSTEM,
                                  instrument_id=there.id, status="cleared", now=NOW,
                                  branch_scope=branch.id)
    db.rollback()
    assert db.get(PaymentInstrument, there.id).status == "pending"
    with pytest.raises(NotFound):
        instruments.change_status(db, actor=SYSTEM, instrument_id=10**6, status="cleared", now=NOW)
    with pytest.raises(BadRequest):
        instruments.change_status(db, actor=SYSTEM, instrument_id=there.id, status="lost", now=NOW)


def test_overdue_lists_pending_rows_past_their_day(shop):
    db, _branch, _other, member, _staff = shop
    late = instruments.record_cheque(db, actor=SYSTEM, member_id=member.id, bank="sina", number="1",
                                     due_date=date(2026, 11, 1), amount_rials=5_000_000,
                                     now=NOW)
    instruments.create_plan(db, actor=SYSTEM, member_id=member.id, total_rials=1_000_000, count=1,
                            schedule="monthly", first_due=date(2026, 12, 1), now=NOW)
    assert [row.id for row in instruments.overdue(db, date(2026, 11, 21))] == [late.id]
    instruments.change_status(db, actor=SYSTEM, instrument_id=late.id, status="cleared", now=NOW)
    assert instruments.overdue(db, date(2026, 11, 21)) == []


def test_a_resubmitted_plan_form_makes_no_second_plan(shop):
    db, _branch, _other, member, _staff = shop
    values = {"member_id": member.id, "total_rials": 1_000, "count": 2, "schedule": "monthly",
              "first_due": date(2026, 12, 1), "now": NOW, "request_key": "panel:abc"}
    first = instruments.create_plan(db, actor=SYSTEM, **values)
    before = counts(db)
    again = instruments.create_plan(db, actor=SYSTEM, **values)
    assert again.plan.id == first.plan.id
    assert [row.id for row in again.instalments] == [row.id for row in first.instalments]
    assert counts(db) == before
    other = factories.member(db)
    with pytest.raises(BadRequest):
        instruments.create_plan(db, actor=SYSTEM, **{**values, "member_id": other.id})


def test_the_database_keeps_one_live_record_per_cheque(shop):
    """Two requests recording one cheque at the same moment both pass the service's
    check; the partial unique index refuses the second."""
    from sqlalchemy.exc import IntegrityError

    db, _branch, _other, member, _staff = shop
    fields = {"member_id": member.id, "kind": "cheque", "bank": "melli", "reference": "88",
              "amount_rials": 1, "due_date": date(2026, 12, 1)}
    db.add(PaymentInstrument(**fields))
    db.flush()
    with pytest.raises(IntegrityError):
        with db.begin_nested():
            db.add(PaymentInstrument(**fields))
            db.flush()
    db.add(PaymentInstrument(**{**fields, "status": "cancelled"}))  # cancelled ones may repeat
    db.add(PaymentInstrument(**{**fields, "kind": "instalment", "bank": "", "reference": ""}))
    db.flush()
