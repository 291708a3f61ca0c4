"""What members owe (backend/services/reports/due.py), on a day a reader can check: as of
Wednesday 2026-11-25 in Tehran (4 Azar 1405) the Iranian week runs Saturday 11-21 to
Friday 11-27 and the Jalali month Azar 11-22 to 12-21. Amounts in rials."""

from datetime import UTC, date, datetime

import pytest

from backend.models import PaymentInstrument
from backend.services.reports import due, periods
from backend.services.reports.sql import Filters
from tests import factories

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # 12:30 in Tehran


@pytest.fixture
def owed(db):
    north, south = factories.branch(db, name="North"), factories.branch(db, name="South")
    sara = factories.member(db, first_name="Sara", last_name="Ahmadi", home_branch_id=north.id)
    reza = factories.member(db, first_name="Reza", last_name="Karimi", home_branch_id=south.id)

    def owe(member, branch, amount_rials, due_date, kind="cheque", status="pending", **fields):
        db.add(PaymentInstrument(member_id=member.id, branch_id=branch.id, kind=kind,
                                 amount_rials=amount_rials, due_date=due_date, status=status,
                                 **fields))

    owe(sara, north, 1_000_000, date(2026, 11, 20), reference="1001")   # overdue
    owe(sara, north, 2_000_000, date(2026, 11, 26), kind="instalment", sequence=2)  # week
    owe(sara, north, 4_000_000, date(2026, 12, 10), reference="1002")   # this month
    owe(sara, north, 8_000_000, date(2027, 1, 5), reference="1003")     # later
    owe(reza, south, 300_000, date(2026, 11, 1), status="bounced", reference="2001")
    owe(reza, south, 9_999_999, date(2026, 11, 24), status="cleared")  # paid: not owed
    owe(reza, south, 500_000, date(2026, 11, 27))                      # week, south
    db.flush()
    return north, south, sara, reza


def filters(**fields) -> Filters:
    return Filters(periods.month_of(date(2026, 11, 25)), now=NOW, **fields)


def test_the_calendar_of_the_example_is_the_one_stated():
    today = due.today_of(filters())
    assert today == date(2026, 11, 25)
    assert (periods.week_of(today).first, periods.week_of(today).last) == (
        date(2026, 11, 21), date(2026, 11, 27))
    assert periods.month_of(today).last == date(2026, 12, 21)


def test_summary_per_branch_and_for_every_branch(db, owed):
    rows = {row["branch"]: row for row in due.summary(db, filters()).rows}
    keys = ("overdue_count", "overdue", "week", "month", "bounced", "owed")
    assert {key: rows["North"][key] for key in keys} == {
        "overdue_count": 1, "overdue": 1_000_000, "week": 2_000_000,
        "month": 6_000_000, "bounced": 0, "owed": 15_000_000}
    assert {key: rows["South"][key] for key in keys} == {
        "overdue_count": 0, "overdue": 0, "week": 500_000, "month": 500_000,
        "bounced": 300_000, "owed": 800_000}
    every = rows["Every branch"]
    assert (every["kind"], every["owed"], every["week"]) == ("msgid", 15_800_000, 2_500_000)


def test_a_branch_filter_leaves_one_row_without_a_total(db, owed):
    north, *_ = owed
    rows = due.summary(db, filters(branch_id=north.id)).rows
    assert [(row["branch"], row["owed"]) for row in rows] == [("North", 15_000_000)]


def test_items_due_by_month_end_oldest_first_with_days_late(db, owed):
    table = due.items(db, filters())
    listed = [(row["due"], row["name"], row["amount"], row["days_late"], row["status"])
              for row in table.rows]
    assert listed == [
        (date(2026, 11, 1), "Reza Karimi", 300_000, 0, "Bounced"),  # late only if pending
        (date(2026, 11, 20), "Sara Ahmadi", 1_000_000, 5, "Pending"),
        (date(2026, 11, 26), "Sara Ahmadi", 2_000_000, 0, "Pending"),
        (date(2026, 11, 27), "Reza Karimi", 500_000, 0, "Pending"),
        (date(2026, 12, 10), "Sara Ahmadi", 4_000_000, 0, "Pending"),
    ]
    assert table.total_rows == 5
    assert table.rows[2]["detail"] == "2"  # an instalment shows its number in the plan


def test_items_are_paged(db, owed):
    second_page = due.items(db, filters(), page=2, limit=2)
    assert [row["due"] for row in second_page.rows] == [date(2026, 11, 26),
                                                         date(2026, 11, 27)]
    assert second_page.total_rows == 5
