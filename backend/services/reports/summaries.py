"""The report summary tables (migration 0024, docs/reports.md "Summaries"): which periods
they can answer, and the raw aggregation they must always equal.

`member_month_sales` holds each member's counted purchases per Jalali month and branch,
kept by database triggers; a report reads it instead of the purchases when its windows
are whole Jalali months."""

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from backend.models import MemberMonthSales, Purchase, ReportMonth
from backend.services.reports import periods
from backend.services.reports.sql import Filters, branch_and_tier, counted_purchase, net_sales

# The summary's columns and what each sums of a counted purchase.
SUMS = {"purchases": None, "sales_rials": net_sales(),
        "credit_used_rials": Purchase.credit_used_rials,
        "credit_earned_rials": Purchase.credit_earned_rials,
        "discount_rials": Purchase.discount_rials, "points_earned": Purchase.points_earned}


def is_whole_month(period: periods.Period) -> bool:
    """True when `period` is exactly one Jalali month, first day to last."""
    return periods.month_of(period.first) == period


def month_conditions(filters: Filters) -> list:
    """The summary rows of the filters' period, a whole Jalali month (`is_whole_month`),
    at the branch, of members of the tier, with a counted purchase."""
    return [MemberMonthSales.month_start == filters.period.start,
            MemberMonthSales.purchases > 0,
            *branch_and_tier(filters, MemberMonthSales.member_id, MemberMonthSales.branch_id)]


def raw_member_months(session: Session) -> set[tuple]:
    """(member, month start, branch, *sums) of the purchases themselves, rows with at least
    one counted purchase: what the summary's non-empty rows must equal."""
    sums = [func.count(Purchase.id) if value is None else func.sum(value)
            for value in SUMS.values()]
    rows = session.execute(
        select(Purchase.member_id, ReportMonth.start, Purchase.branch_id, *sums)
        .join(ReportMonth, and_(ReportMonth.start <= Purchase.created_at,
                                Purchase.created_at < ReportMonth.end))
        .where(counted_purchase())
        .group_by(Purchase.member_id, ReportMonth.start, Purchase.branch_id))
    return {tuple(int(value) if not hasattr(value, "year") else value for value in row)
            for row in rows}


def summary_member_months(session: Session) -> set[tuple]:
    row = MemberMonthSales
    rows = session.execute(
        select(row.member_id, row.month_start, row.branch_id,
               *[getattr(row, name) for name in SUMS]).where(row.purchases > 0))
    return {tuple(int(value) if not hasattr(value, "year") else value for value in row)
            for row in rows}
