"""Trends and distributions on the paper club, and two periods side by side."""

import pytest

from backend.services.reports import REPORTS, build, lists, periods, trends
from backend.services.reports.sql import Filters
from tests.unit.backend.services.reports.conftest import noon

ABAN = periods.month_of(noon("1405/08/15").date())


def test_sales_by_week(paper):
    table = trends.sales(paper.db, Filters(ABAN, "week"))
    weeks = {row["label"].isoformat(): row for row in table.rows}
    # Week of Saturday 1405/08/02 (2026-10-24…30): m1 1,000,000 (08/02), m2 2,000,000
    # (08/03), m5 1,000,000 (08/04), m9 refunded in full (08/05: not counted), m10
    # 1,500,000 (08/06, net), m11 700,000 (08/07) → 6,200,000 in 5 purchases by 5 members.
    week = weeks["2026-10-24"]
    assert (week["sales"], week["purchases"], week["visitors"]) == (6_200_000, 5, 5)
    # Paid: m5's discount 100,000 and m2's 50,000 of credit are not paid; m10 paid 1,500,000
    # of 2,000,000 after the refund.
    assert week["paid"] == 6_200_000 - 100_000 - 50_000
    assert sum(row["sales"] for row in table.rows) == 11_800_000
    assert sum(row["new_members"] for row in table.rows) == 2  # m6 and m7


def test_two_months_side_by_side(paper):
    report = REPORTS["sales"]
    [table] = build(paper.db, report, Filters(ABAN, "month", compare=True))
    [row] = table.rows
    # Aban 11,800,000 against Mehr 10,800,000: +1,000,000 / 10,800,000 ≈ +9.26 %.
    assert (row["sales"], row["sales_before"]) == (11_800_000, 10_800_000)
    assert row["sales_change"] == pytest.approx(1_000_000 / 10_800_000)
    assert (row["purchases"], row["purchases_before"]) == (9, 8)
    assert row["label_before"].isoformat() == "2026-09-23"
    assert [column.variant for column in table.columns[2:5]] == ["", "compared", "change"]


def test_visit_frequency_and_gaps(paper):
    frequency = {row["band"]: row["count"] for row in
                 trends.visit_frequency(paper.db, Filters(ABAN)).rows}
    # Once: m2, m6, m10, m11; twice: m1; three times: m5.
    assert (frequency["1"], frequency["2"], frequency["3"]) == (4, 1, 1)
    gaps = {row["band"]: row["count"] for row in trends.visit_gaps(paper.db, Filters(ABAN)).rows}
    # m1: 08/02 → 08/20 = 18 days; m5: 08/04 → 08/11 → 08/18, 7 days twice.
    assert (gaps["0–7"], gaps["15–30"]) == (2, 1)
    assert sum(gaps.values()) == 3


def test_tier_list_compared(paper):
    report = REPORTS["tiers"]
    [table] = build(paper.db, report, Filters(ABAN, compare=True))
    tier_b = next(row for row in table.rows if row["tier"] == "B")
    # Tier B in Aban: m5 3 × 1,000,000 + m10 1,500,000; in Mehr: m4 4,000,000 + m10
    # 1,000,000.
    assert (tier_b["sales"], tier_b["sales_before"]) == (4_500_000, 5_000_000)
    assert tier_b["sales_change"] == pytest.approx(-0.1)


def test_member_list_is_paged_in_the_database(paper):
    first = lists.member_activity(paper.db, Filters(ABAN), page=1, limit=4)
    second = lists.member_activity(paper.db, Filters(ABAN), page=2, limit=4)
    assert first.total_rows == 6
    # Biggest spenders first: m1 4,000,000, m5 3,000,000, m2 2,000,000, m10 1,500,000.
    assert [row["name"].split()[0] for row in first.rows] == ["m1", "m5", "m2", "m10"]
    assert [row["name"].split()[0] for row in second.rows] == ["m11", "m6"]


def test_cohorts(paper):
    table = trends.cohorts(paper.db, Filters(periods.Period(noon("1405/07/01").date(),
                                                            ABAN.last)))
    mehr, aban = table.rows
    # Joined in Mehr: m11, m12. m11 bought in Mehr (month 0) and Aban (month 1).
    assert (mehr["size"], mehr["m0"], mehr["m1"]) == (2, 0.5, 0.5)
    # Joined in Aban: m6, m7; m6 bought. Month 1 of Aban's cohort is not here yet.
    assert (aban["size"], aban["m0"], aban["m1"]) == (2, 0.5, None)
