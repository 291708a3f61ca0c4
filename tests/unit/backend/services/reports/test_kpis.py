"""Every KPI against the paper club (conftest.py), with the arithmetic written out."""

import pytest

from backend.services.reports import kpis, periods
from backend.services.reports.sql import Filters
from tests.unit.backend.services.reports.conftest import noon

ABAN = periods.month_of(noon("1405/08/15").date())
MEHR = periods.month_of(noon("1405/07/15").date())


def test_the_periods_are_the_jalali_months():
    assert (ABAN.first.isoformat(), ABAN.last.isoformat()) == ("2026-10-23", "2026-11-21")
    assert periods.previous(ABAN) == MEHR


def test_kpis_of_aban(paper):
    values = kpis.values(paper.db, Filters(ABAN), ABAN)
    # Active in Aban: m1, m2, m5, m6, m10, m11 (m9's purchase was refunded in full).
    assert values["active_members"] == 6
    # Active in Mehr: m1, m2, m3, m4, m9, m10, m11 = 7; of them active in Aban too:
    # m1, m2, m10, m11 = 4. Retention 4/7, churn 3/7.
    assert values["retention_rate"] == pytest.approx(4 / 7)
    assert values["churn_rate"] == pytest.approx(3 / 7)
    # Joined in Aban: m6, m7 (the gift card's holder is no member) = 2; joined before
    # Aban: m1…m5, m8…m12 = 10. Growth 2/10.
    assert values["new_members"] == 2
    assert values["member_growth"] == pytest.approx(0.2)
    # Counted purchases: m1 ×2, m2, m5 ×3, m6, m10, m11 = 9, over 6 active members.
    assert values["purchase_frequency"] == pytest.approx(1.5)
    # Sales: m1 1,000,000 + 3,000,000; m2 2,000,000; m5 3 × 1,000,000; m6 600,000;
    # m10 2,000,000 − 500,000 refunded; m11 700,000 = 11,800,000.
    assert values["sales"] == 11_800_000
    # 11,800,000 / 9 = 1,311,111.1…, rounded down.
    assert values["average_order"] == 1_311_111
    # Credit spent: m1 100,000 + m2 50,000 = 150,000; earned: m1 150,000 + m5 3 × 50,000
    # = 300,000. 150,000 / 300,000.
    assert values["redemption_rate"] == pytest.approx(0.5)
    # Two or more purchases in Aban: m1 (2) and m5 (3): 2 of 6.
    assert values["repeat_rate"] == pytest.approx(2 / 6)
    # Discounts 3 × 100,000 + credit earned 300,000 + points (100 + 300 + 3 × 100 = 700)
    # × 100 rials = 670,000.
    assert values["reward_cost"] == 670_000
    assert values["reward_cost_share"] == pytest.approx(670_000 / 11_800_000)


def test_kpis_of_mehr(paper):
    values = kpis.values(paper.db, Filters(MEHR), MEHR)
    # Active in Mehr: 7. Active in Shahrivar: m8 alone, who did not come back: 0/1.
    assert values["active_members"] == 7
    assert values["retention_rate"] == 0
    assert values["churn_rate"] == 1
    # Joined in Mehr: m11, m12; before Mehr: m1…m5, m8, m9, m10 = 8. 2/8.
    assert values["member_growth"] == pytest.approx(0.25)
    # 8 purchases (m3 twice); sales 1,000,000 + 2,000,000 + 1,000,000 + 4,000,000
    # + 1,000,000 + 1,000,000 + 800,000 = 10,800,000; 10,800,000 / 8 = 1,350,000.
    assert values["sales"] == 10_800_000
    assert values["average_order"] == 1_350_000
    assert values["purchase_frequency"] == pytest.approx(8 / 7)
    assert values["repeat_rate"] == pytest.approx(1 / 7)  # m3
    # No credit earned: a rate of nothing is no number, not zero.
    assert values["redemption_rate"] is None


def test_kpis_by_tier_and_branch(paper):
    tier_b = kpis.values(paper.db, Filters(ABAN, tier_id=paper.tier_b.id), ABAN)
    # Tier B: m4, m5, m8, m10. Aban: m5 (3 purchases), m10 (1) → 2 active, 4 purchases,
    # sales 3,000,000 + 1,500,000. Mehr: m4, m10; m10 came back: 1/2.
    assert (tier_b["active_members"], tier_b["sales"]) == (2, 4_500_000)
    assert tier_b["purchase_frequency"] == pytest.approx(2)
    assert tier_b["retention_rate"] == pytest.approx(0.5)
    branch_y = kpis.values(paper.db, Filters(ABAN, branch_id=paper.branch_y.id), ABAN)
    # Branch Y: Aban m10 (1,500,000); Mehr m4 and m10 → retention 1/2. New members are
    # counted by home branch: everyone's is X.
    assert (branch_y["active_members"], branch_y["sales"]) == (1, 1_500_000)
    assert branch_y["retention_rate"] == pytest.approx(0.5)
    assert branch_y["new_members"] == 0


def test_kpi_table_puts_the_period_before_beside_with_the_change(paper):
    table = kpis.table(paper.db, Filters(ABAN))
    rows = {row["key"]: row for row in table.rows}
    # Sales 11,800,000 against 10,800,000: +1,000,000 / 10,800,000.
    assert (rows["sales"]["value"], rows["sales"]["before"]) == (11_800_000, 10_800_000)
    assert rows["sales"]["change"] == pytest.approx(1_000_000 / 10_800_000)
    # Active members 6 against 7.
    assert rows["active_members"]["change"] == pytest.approx(-1 / 7)
    # Retention before was 0: no base, so no change.
    assert rows["retention_rate"]["change"] is None
    assert all(row["definition"] for row in table.rows)
