"""Reports and analytics (issue 7; R1–R4, L12).

`REPORTS` is the catalogue the panel and the Excel export both read: each report is a
list of table builders, whether it is paged, which of its columns two periods are
compared on, and whether it has a time step. `build` runs one report;
`backend.services.reports.bench` measures every page for the benchmark (`make bench`).
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from backend.i18n import N_
from backend.services.reports import (
    campaign_effects,
    due,
    kpis,
    lists,
    periods,
    segments,
    trends,
)
from backend.services.reports.sql import Filters
from backend.services.reports.tables import Table, compare

Builder = Callable[..., Table]


@dataclass(frozen=True)
class Report:
    key: str
    title: str
    description: str
    builders: tuple[Builder, ...]
    paged: bool = False
    has_step: bool = False
    # Per table key: (key columns, value columns) shown for two periods side by side.
    comparable: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = field(default_factory=dict)
    # Snapshot reports (as of the last nightly LRFM run) take no period.
    has_period: bool = True
    default_preset: str = "last_month"


REPORTS: dict[str, Report] = {report.key: report for report in (
    Report("kpis", N_("Key indicators"),
           N_("Retention, churn, growth, frequency, order value, redemption and offer "
              "effectiveness, next to the period before."),
           (kpis.table, kpis.offers_table)),
    Report("campaigns", N_("Campaign effectiveness"),
           N_("Campaigns sent in the period against their hold-out groups: incremental "
              "sales, cost, ROI and how sure the answer is."),
           (campaign_effects.table,), default_preset="last_90_days"),
    Report("sales", N_("Sales and visits"),
           N_("Sales, amounts paid, purchases, visiting and new members, credit and units "
              "sold by day, week or month."),
           (trends.sales,), has_step=True,
           comparable={"sales": (("label",), ("sales", "paid", "purchases", "visitors",
                                              "new_members", "credit_issued",
                                              "credit_spent"))}),
    Report("distributions", N_("Visit frequency and gaps"),
           N_("How often members buy, how long between visits, and how much they pay."),
           (trends.visit_frequency, trends.visit_gaps, trends.amounts_paid),
           comparable={key: (("band",), ("count", "share"))
                       for key in ("frequency", "gaps", "amounts")}),
    Report("cohorts", N_("Cohorts"),
           N_("Members by the month they joined and the share of them who bought in each "
              "month after."),
           (trends.cohorts,), default_preset="last_12_months"),
    Report("members", N_("Members and their purchases"),
           N_("Members who bought in the period, with purchases, spend, points and credit."),
           (lists.member_activity,), paged=True),
    Report("joined", N_("New members"), N_("Members who joined in the period."),
           (lists.new_members,), paged=True),
    Report("tiers", N_("Tiers"), N_("Members, buyers, sales and points per tier."),
           (lists.tiers,),
           comparable={"tiers": (("tier",), ("active", "purchases", "sales", "points"))}),
    Report("products", N_("Products"), N_("Units sold, revenue and stock per product."),
           (lists.products,),
           comparable={"products": (("sku", "name"), ("units", "revenue"))}),
    Report("purchases", N_("Purchases"),
           N_("Every purchase with its discount, credit and points."),
           (lists.purchases,), paged=True),
    Report("transactions", N_("Transaction detail"),
           N_("Every ledger transaction with what it did to credit and points."),
           (lists.transactions,), paged=True),
    Report("segments", N_("LRFM segments"),
           N_("Length, recency, frequency and monetary scores and the segments they make, "
              "as of the last nightly run."),
           (segments.summary,), has_period=False),
    Report("loyal", N_("Loyal members"),
           N_("Champions and loyal members by LRFM, biggest spenders first."),
           (lists.loyal_members,), paged=True, has_period=False),
    Report("due", N_("Cheques and instalments due"),
           N_("What members owe in cheques and instalments as of today: overdue, due this "
              "week and this month, bounced, by branch, and every item due by the end of "
              "the month."),
           (due.summary, due.items), paged=True, has_period=False),
)}


def build(session: Session, report: Report, filters: Filters, page: int = 1,
          limit: int | None = lists.PAGE_SIZE) -> list[Table]:
    """Run a report's queries. With `filters.compare`, comparable tables come back with the
    period before side by side (periods.previous)."""
    tables = []
    for builder in report.builders:
        table = builder(session, filters, page=page, limit=limit) if report.paged \
            else builder(session, filters)
        if filters.compare and table.key in report.comparable:
            keys, values = report.comparable[table.key]
            before_filters = filters.with_period(periods.previous(filters.period))
            before = builder(session, before_filters)
            table = compare(table, before, list(keys), list(values))
        tables.append(table)
    return tables
