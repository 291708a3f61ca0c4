"""Key performance indicators (R3), each computed in SQL for a period and the period
before it, with its definition (shown on the page and in docs/reports.md).

"Active" below means: with at least one purchase in the period that was not refunded in
full, at the filtered branch, by a member of the filtered tier."""

from dataclasses import dataclass

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from backend.i18n import N_
from backend.models import Member, MemberMonthSales, Purchase, the_club
from backend.services.reports import periods, summaries
from backend.services.reports.effectiveness import offer_effects
from backend.services.reports.sql import (
    Filters,
    as_int,
    branch_and_tier,
    member_conditions,
    net_sales,
    purchase_conditions,
    ratio,
)
from backend.services.reports.tables import Column, Table, change


@dataclass(frozen=True)
class Kpi:
    key: str
    title: str
    kind: str        # a Column kind: int, money, percent, float
    definition: str  # an English msgid, shown under the table


KPIS = (
    Kpi("active_members", N_("Active members"), "int",
        N_("Members with at least one purchase in the period (purchases refunded in full "
           "do not count).")),
    Kpi("retention_rate", N_("Retention rate"), "percent",
        N_("Of the members active in the period before, the share also active in this "
           "period.")),
    Kpi("churn_rate", N_("Churn rate"), "percent",
        N_("Of the members active in the period before, the share not active in this "
           "period: one minus the retention rate.")),
    Kpi("new_members", N_("New members"), "int",
        N_("Members who joined in the period.")),
    Kpi("member_growth", N_("Member growth"), "percent",
        N_("New members in the period divided by the members who had joined before it.")),
    Kpi("purchase_frequency", N_("Purchase frequency"), "float",
        N_("Purchases in the period divided by the active members.")),
    Kpi("average_order", N_("Average order value"), "money",
        N_("Sales (amount less refunds) divided by the number of purchases.")),
    Kpi("redemption_rate", N_("Redemption rate"), "percent",
        N_("Credit members spent on purchases divided by the credit their purchases "
           "earned, in the period.")),
    Kpi("repeat_rate", N_("Repeat-purchase rate"), "percent",
        N_("Of the active members, the share with two or more purchases in the period.")),
    Kpi("sales", N_("Sales"), "money",
        N_("Purchase amounts less what was refunded of them.")),
    Kpi("reward_cost", N_("Reward cost"), "money",
        N_("Discounts given, credit earned and points earned (at the club's point value) "
           "on the period's purchases.")),
    Kpi("reward_cost_share", N_("Reward cost per sales"), "percent",
        N_("Reward cost divided by sales: what each rial of sales cost the club.")),
)


def values(session: Session, filters: Filters, period: periods.Period) -> dict:
    """Every KPI for `period` (filters' branch and tier), as raw numbers."""
    return _values(session, filters, [period])[0]


def _values(session: Session, filters: Filters, targets: list[periods.Period]) -> list[dict]:
    """The KPIs of consecutive periods (each the `periods.previous` of the next), in two
    queries: one pass over the purchases of the periods and the one before the first,
    grouped by member — per-member flags give active, retained and repeat buyers, sums
    give the money — and one pass over members for joins."""
    windows = [periods.previous(targets[0]), *targets]
    for earlier, later in zip(windows, windows[1:], strict=False):
        assert periods.previous(later) == earlier, "periods must follow each other"

    if all(summaries.is_whole_month(window) for window in windows):
        totals = _totals_from_summary(session, filters, windows)
    else:
        totals = _totals(session, _by_window_from_purchases(filters, windows), len(windows))
    club = the_club(session)
    point_value = club.point_value_rials if club is not None else 0
    results = []
    for index, period in enumerate(targets):
        (purchases, active, sales, credit_used, credit_earned, discounts, points, repeaters,
         active_before, retained) = totals[index * 10:(index + 1) * 10]
        # No condition on joined_at: one sequential pass over members beats an index
        # range that covers nearly all of them.
        joined, existing = (int(value) for value in session.execute(select(
            func.coalesce(func.sum(case((and_(Member.joined_at >= period.start,
                                              Member.joined_at < period.end), 1), else_=0)), 0),
            func.coalesce(func.sum(case((Member.joined_at < period.start, 1), else_=0)), 0))
            .where(*member_conditions(filters))).one())
        reward_cost = discounts + credit_earned + points * point_value
        retention = ratio(retained, active_before)
        results.append({
            "active_members": active,
            "retention_rate": retention,
            "churn_rate": None if retention is None else 1 - retention,
            "new_members": joined,
            "member_growth": ratio(joined, existing),
            "purchase_frequency": ratio(purchases, active),
            "average_order": None if not purchases else sales // purchases,
            "redemption_rate": ratio(credit_used, credit_earned),
            "repeat_rate": ratio(repeaters, active),
            "sales": sales,
            "reward_cost": reward_cost,
            "reward_cost_share": ratio(reward_cost, sales),
        })
    return results


SUMMARY_COLUMNS = {"sales": "sales_rials", "credit_used": "credit_used_rials",
                   "credit_earned": "credit_earned_rials", "discounts": "discount_rials",
                   "points": "points_earned"}


def _by_window_from_purchases(filters: Filters, windows: list[periods.Period]):
    """(member, window, purchases, sums) from the purchases of the windows."""
    # First per member and window (the window is found once per purchase, by integer
    # position), then per member across windows: far fewer CASEs per purchase row.
    position = case(*[(Purchase.created_at < window.end, index)
                      for index, window in enumerate(windows[:-1])], else_=len(windows) - 1)
    sums = {"sales": net_sales(), "credit_used": Purchase.credit_used_rials,
            "credit_earned": Purchase.credit_earned_rials,
            "discounts": Purchase.discount_rials, "points": Purchase.points_earned}
    return (select(Purchase.member_id.label("member_id"), position.label("window"),
                   func.count(Purchase.id).label("purchases"),
                   *[func.sum(value).label(name) for name, value in sums.items()])
            .where(*purchase_conditions(filters, periods.Period(windows[0].first,
                                                                windows[-1].last)))
            .group_by(Purchase.member_id, position).subquery())


def _totals(session: Session, by_window, windows: int) -> list[int]:
    """Per window after the first: purchases, active members, the SUMMARY_COLUMNS sums,
    repeat buyers, members active in the window before, and of those the retained —
    from (member, window, purchases, sums) rows, per member first."""
    row = by_window.c
    columns = [func.max(case((row.window == index, 1), else_=0)).label(f"active_{index}")
               for index in range(windows)]
    for index in range(1, windows):
        columns += [func.sum(case((row.window == index, row[name]), else_=0))
                    .label(f"{name}_{index}") for name in ("purchases", *SUMMARY_COLUMNS)]
    per_member = select(*columns).group_by(row.member_id).subquery()
    column = per_member.c
    outer = []
    for index in range(1, windows):
        outer += [func.sum(column[f"{name}_{index}"])
                  for name in ("purchases", "active", *SUMMARY_COLUMNS)]
        outer += [func.sum(case((column[f"purchases_{index}"] >= 2, 1), else_=0)),
                  func.sum(column[f"active_{index - 1}"]),
                  func.sum(column[f"active_{index - 1}"] * column[f"active_{index}"])]
    return [as_int(value) for value in session.execute(select(*outer)).one()]


def _totals_from_summary(session: Session, filters: Filters,
                         windows: list[periods.Period]) -> list[int]:
    """`_totals` from member_month_sales, when every window is one Jalali month (issue 19):
    a member's row per month and branch is already summed — under half the rows of the
    purchases, and no grouping of purchases. The money needs no per-member pass (one GROUP
    BY month), and the per-member pass computes only the flags: five CASEs a row, each an
    equality on the month, instead of seventeen on a window CASE."""
    summary = MemberMonthSales
    index_of = {window.start: index for index, window in enumerate(windows)}
    money = {index_of[month]: values for month, *values in session.execute(
        select(summary.month_start, func.sum(summary.purchases),
               *[func.sum(getattr(summary, column)) for column in SUMMARY_COLUMNS.values()])
        .where(*_summary_conditions(filters, windows)).group_by(summary.month_start))}
    # Each window is one month: its rows are those of its month_start, an equality (the
    # window's CASE once per column would cost as much as the rest of the pass).
    columns = [func.max(case((summary.month_start == window.start, 1), else_=0))
               .label(f"active_{index}") for index, window in enumerate(windows)]
    columns += [func.sum(case((summary.month_start == window.start, summary.purchases),
                              else_=0)).label(f"purchases_{index}")
                for index, window in enumerate(windows) if index]
    per_member = (select(*columns).where(*_summary_conditions(filters, windows))
                  .group_by(summary.member_id).subquery())
    column = per_member.c
    outer = []
    for index in range(1, len(windows)):
        outer += [func.sum(column[f"active_{index}"]),
                  func.sum(case((column[f"purchases_{index}"] >= 2, 1), else_=0)),
                  func.sum(column[f"active_{index - 1}"]),
                  func.sum(column[f"active_{index - 1}"] * column[f"active_{index}"])]
    flags = [as_int(value) for value in session.execute(select(*outer)).one()]
    totals = []
    for index in range(1, len(windows)):
        purchases, *sums = [as_int(value) for value in
                            money.get(index, [0] * (1 + len(SUMMARY_COLUMNS)))]
        active, repeaters, active_before, retained = flags[(index - 1) * 4:index * 4]
        totals += [purchases, active, *sums, repeaters, active_before, retained]
    return totals


def _summary_conditions(filters: Filters, windows: list[periods.Period]) -> list:
    summary = MemberMonthSales
    return [summary.month_start >= windows[0].start, summary.month_start < windows[-1].end,
            summary.purchases > 0,
            *branch_and_tier(filters, summary.member_id, summary.branch_id)]


def table(session: Session, filters: Filters) -> Table:
    """The KPIs of the period next to the period before, with the change."""
    before, now = _values(session, filters, [periods.previous(filters.period),
                                             filters.period])
    rows = [{"key": kpi.key, "kpi": kpi.title, "kind": kpi.kind, "value": now[kpi.key],
             "before": before[kpi.key], "change": change(now[kpi.key], before[kpi.key]),
             "definition": kpi.definition}
            for kpi in KPIS]
    return Table("kpis", N_("Key indicators"),
                 [Column("kpi", N_("Indicator"), "msgid"),
                  Column("value", N_("This period"), "auto"),
                  Column("before", N_("Period before"), "auto"),
                  Column("change", N_("Change"), "percent"),
                  Column("definition", N_("Definition"), "msgid")],
                 rows, align_by="key")


def offers_table(session: Session, filters: Filters) -> Table:
    """Offer effectiveness in the period (effectiveness.offer_effects)."""
    rows = []
    for item in offer_effects(session, filters):
        effect = item.effect
        rows.append({
            "offer_id": item.offer_id, "offer": item.name, "redemptions": item.redemptions,
            "treated": effect.treated.members, "control": effect.control.members,
            "treated_change": _rounded(effect.treated.change_per_member),
            "control_change": _rounded(effect.control.change_per_member),
            "cost": effect.cost_rials, "incremental": effect.incremental_sales_rials,
            "roi": effect.roi,
        })
    return Table("offers", N_("Offer effectiveness"),
                 [Column("offer", N_("Offer"), "text"),
                  Column("redemptions", N_("Redemptions")),
                  Column("treated", N_("Members who redeemed")),
                  Column("control", N_("Comparison members")),
                  Column("treated_change", N_("Sales change per redeeming member"), "money"),
                  Column("control_change", N_("Sales change per comparison member"), "money"),
                  Column("cost", N_("Cost"), "money"),
                  Column("incremental", N_("Incremental sales"), "money"),
                  Column("roi", N_("ROI"), "percent")],
                 rows, align_by="offer_id")


def _rounded(value: float | None) -> int | None:
    return None if value is None else round(value)
