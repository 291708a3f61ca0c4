"""A report's table (backend/services/reports/tables.py): the relative change with no
base left empty, and two periods side by side aligned by their key, a row present in one
period only showing nothing for the other."""

import pytest

from backend.services.reports.tables import Chart, Column, Table, change, compare


def sales(rows, *, charts=()) -> Table:
    return Table("sales", "Sales", [Column("branch", "Branch", "text"),
                                    Column("revenue", "Revenue", "money"),
                                    Column("buyers", "Buyers")],
                 rows, list(charts), align_by="branch")


def test_change_is_relative_to_the_base_and_empty_without_one():
    assert change(1_250_000, 1_000_000) == 0.25
    assert change(500, 1_000) == -0.5
    assert change(100, -200) == 1.5  # from a negative base, up is still positive
    assert change(100, 0) is None
    assert change(None, 100) is None and change(100, None) is None


def test_two_periods_side_by_side_aligned_by_branch():
    now = sales([{"branch": "North", "revenue": 3_000_000, "buyers": 12},
                 {"branch": "South", "revenue": 500_000, "buyers": 2}],
                charts=[Chart("bar", "branch", ("revenue", "buyers"))])
    before = sales([{"branch": "South", "revenue": 1_000_000, "buyers": 4},
                    {"branch": "West", "revenue": 9_000_000, "buyers": 30}])
    side_by_side = compare(now, before, keys=["branch"], values=["revenue"])
    assert [(column.key, column.kind, column.variant) for column in side_by_side.columns] == [
        ("branch", "text", ""), ("revenue", "money", ""),
        ("revenue_before", "money", "compared"), ("revenue_change", "percent", "change")]
    assert side_by_side.rows == [
        {"branch": "North", "revenue": 3_000_000, "revenue_before": None,
         "revenue_change": None},
        {"branch": "South", "revenue": 500_000, "revenue_before": 1_000_000,
         "revenue_change": -0.5},
    ]  # West sold only before: the current period's rows lead
    # Charts keep only compared series, each with its earlier twin.
    assert [chart.series for chart in side_by_side.charts] == [("revenue", "revenue_before")]


def test_a_table_without_an_alignment_cannot_be_compared():
    table = Table("cohorts", "Cohorts", [Column("month", "Month", "month")], [])
    with pytest.raises(AssertionError, match="cohorts cannot be compared"):
        compare(table, table, keys=["month"], values=[])


def test_columns_and_charts_refuse_unknown_kinds():
    with pytest.raises(AssertionError):
        Column("revenue", "Revenue", "currency")
    with pytest.raises(AssertionError):
        Column("revenue", "Revenue", "money", variant="previous")
    with pytest.raises(AssertionError):
        Chart("pie", "branch", ("revenue",))


def test_values_and_columns_are_read_by_key():
    table = sales([{"branch": "North", "revenue": 10}, {"branch": "South"}])
    assert table.values("revenue") == [10, None]
    assert table.column("buyers").title == "Buyers"
