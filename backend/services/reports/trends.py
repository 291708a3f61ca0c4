"""Trends (R2): sales, visits, credit and stock by day, Iranian week or Jalali month; the
distributions of visit frequency, gaps between visits and amounts paid; join cohorts.

Each function runs a handful of GROUP BY queries and returns a `Table`."""

from sqlalchemy import Integer, Select, case, cast, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement

from backend.i18n import N_
from backend.models import Member, MemberMonthSales, Purchase, PurchaseItem
from backend.services.reports import periods, summaries
from backend.services.reports.sql import (
    Filters,
    as_int,
    bucket_table,
    counted_purchase,
    days_between,
    in_bucket,
    member_conditions,
    net_paid,
    net_sales,
    purchase_conditions,
    ratio,
)
from backend.services.reports.tables import Chart, Column, Table

MAX_COHORT_MONTHS = 24


def sales(session: Session, filters: Filters) -> Table:
    """Sales, purchases, visiting members, new members, credit and units sold per bucket."""
    buckets = periods.buckets(filters.period, filters.granularity)
    bucket = bucket_table(buckets)
    conditions = purchase_conditions(filters)[2:]  # the period is the buckets' range
    money = dict((row.i, row) for row in session.execute(
        select(bucket.c.i,
               func.coalesce(func.sum(net_sales()), 0).label("sales"),
               func.coalesce(func.sum(net_paid()), 0).label("paid"),
               func.count(Purchase.id).label("purchases"),
               func.count(func.distinct(Purchase.member_id)).label("visitors"),
               func.coalesce(func.sum(Purchase.credit_earned_rials), 0).label("credit_issued"),
               func.coalesce(func.sum(Purchase.credit_used_rials), 0).label("credit_spent"),
               func.coalesce(func.sum(Purchase.points_earned), 0).label("points"))
        .select_from(bucket)
        .join(Purchase, in_bucket(Purchase.created_at, bucket))
        .where(*conditions)
        .group_by(bucket.c.i)))
    joined = dict(session.execute(
        select(bucket.c.i, func.count(Member.id))
        .select_from(bucket).join(Member, in_bucket(Member.joined_at, bucket))
        .where(*member_conditions(filters)).group_by(bucket.c.i)).all())
    units = dict(session.execute(
        select(bucket.c.i, func.coalesce(func.sum(PurchaseItem.quantity), 0))
        .select_from(bucket)
        .join(Purchase, in_bucket(Purchase.created_at, bucket))
        .join(PurchaseItem, PurchaseItem.purchase_id == Purchase.id)
        .where(*conditions).group_by(bucket.c.i)).all())
    rows = []
    for item in buckets:
        row = money.get(item.index)
        sales_rials = as_int(row.sales) if row else 0
        purchases = row.purchases if row else 0
        rows.append({
            "i": item.index, "label": item.first,
            "sales": sales_rials, "paid": as_int(row.paid) if row else 0,
            "purchases": purchases, "visitors": row.visitors if row else 0,
            "average_order": sales_rials // purchases if purchases else None,
            "new_members": joined.get(item.index, 0),
            "credit_issued": as_int(row.credit_issued) if row else 0,
            "credit_spent": as_int(row.credit_spent) if row else 0,
            "points": as_int(row.points) if row else 0,
            "units": as_int(units.get(item.index)),
        })
    return Table("sales", N_("Sales and visits"),
        [Column("label", N_("Period"), filters.granularity), Column("sales", N_("Sales"), "money"),
         Column("paid", N_("Amount paid"), "money"), Column("purchases", N_("Purchases")),
         Column("visitors", N_("Visiting members")),
         Column("average_order", N_("Average order"), "money"),
         Column("new_members", N_("New members")),
         Column("credit_issued", N_("Credit issued"), "money"),
         Column("credit_spent", N_("Credit spent"), "money"),
         Column("points", N_("Points earned")), Column("units", N_("Units sold"))],
        rows,
        [Chart("line", "label", ("sales", "paid"), N_("Sales")),
         Chart("bar", "label", ("purchases", "visitors", "new_members"), N_("Visits")),
         Chart("line", "label", ("credit_issued", "credit_spent"), N_("Credit"))],
        align_by="i")


def _distribution(session, key, title, column_title, bands, value_subquery) -> Table:
    """Count the rows of `value_subquery` (one column `value`) in each band."""
    value = value_subquery.c.value
    band = case(*[(value < upper, index) for index, (_, upper) in enumerate(bands)
                  if upper is not None], else_=len(bands) - 1)
    counts = dict(session.execute(
        select(band.label("band"), func.count()).select_from(value_subquery)
        .group_by(band)).all())
    total = sum(counts.values())
    rows = [{"i": index, "band": label, "count": counts.get(index, 0),
             "share": ratio(counts.get(index, 0), total)}
            for index, (label, _) in enumerate(bands)]
    return Table(key, title, [Column("band", column_title, "text"), Column("count", N_("Count")),
                              Column("share", N_("Share"), "percent")],
                 rows, [Chart("bar", "band", ("count",), title)], align_by="i")


FREQUENCY_BANDS = [("1", 2), ("2", 3), ("3", 4), ("4", 5), ("5–9", 10), ("10–19", 20),
                   ("20+", None)]
GAP_BANDS = [("0–7", 8), ("8–14", 15), ("15–30", 31), ("31–60", 61), ("61–90", 91),
             ("91–180", 181), ("181+", None)]
AMOUNT_BANDS = [("< 100,000", 100_000), ("100,000–500,000", 500_000),
                ("500,000–1,000,000", 1_000_000), ("1,000,000–2,000,000", 2_000_000),
                ("2,000,000–5,000,000", 5_000_000), ("5,000,000–10,000,000", 10_000_000),
                ("≥ 10,000,000", None)]


def visit_frequency(session: Session, filters: Filters) -> Table:
    """Members who bought in the period, by how many purchases they made in it."""
    if summaries.is_whole_month(filters.period):
        # A whole Jalali month: member_month_sales, a row per member and branch (issue 19).
        summary = MemberMonthSales
        per_member = (select(func.sum(summary.purchases).label("value"))
                      .where(*summaries.month_conditions(filters))
                      .group_by(summary.member_id).subquery())
    else:
        per_member = (select(func.count(Purchase.id).label("value"))
                      .where(*purchase_conditions(filters)).group_by(Purchase.member_id)
                      .subquery())
    return _distribution(session, "frequency", N_("Visit frequency"),
                         N_("Purchases in the period"),
                         FREQUENCY_BANDS, per_member)


def visit_gaps(session: Session, filters: Filters) -> Table:
    """Days between a member's consecutive purchases, both in the period."""
    previous = func.lag(Purchase.created_at).over(partition_by=Purchase.member_id,
                                                  order_by=(Purchase.created_at, Purchase.id))
    ordered = (select(Purchase.created_at.label("at"), previous.label("before"))
               .where(*purchase_conditions(filters)).subquery())
    gaps = (select(cast(func.floor(days_between(ordered.c.at, ordered.c.before)), Integer)
                   .label("value"))
            .where(ordered.c.before.is_not(None)).subquery())
    return _distribution(session, "gaps", N_("Gap between visits"),
                         N_("Days between purchases"),
                         GAP_BANDS, gaps)


def amounts_paid(session: Session, filters: Filters) -> Table:
    """Purchases by the amount paid (rials, after discounts and credit)."""
    paid = select(Purchase.payable_rials.label("value")) \
        .where(*purchase_conditions(filters)).subquery()
    return _distribution(session, "amounts", N_("Amounts paid"), N_("Amount paid (rials)"),
                         AMOUNT_BANDS, paid)


def _month_index(column, months: list) -> ColumnElement:
    """The index of the month bucket `column` falls in, for a value already limited to
    the months' range: a CASE that halves the months at each step (4 comparisons for
    12 months rather than up to 11), instead of a join against the buckets."""
    if len(months) == 1:
        return literal(months[0].index, Integer)
    middle = len(months) // 2
    return case((column < months[middle].start, _month_index(column, months[:middle])),
                else_=_month_index(column, months[middle:]))


def _cohort_activity(months: list, filters: Filters, dialect: str = "sqlite") -> Select:
    """(cohort, month, members) for the cohort heat map: members who joined in one of
    `months` (the member filters) and bought in a month at or after it (counted purchases,
    at the branch). Two plans, the same answer (tests/unit/backend/services/reports/
    test_rewrites.py runs both on both databases): `_cohort_activity_by_month` on
    PostgreSQL, whose planner does better with one pass over the months' purchases (it
    estimates the refund condition at a third of the rows and then sorts them all by
    member for the member-driven form); on SQLite the member-driven one below, twice as
    fast there at 2 M purchases.

    Driven from the members who joined in the months — the only ones in a cohort — and
    their purchases by the (member, time) index (ix_purchase_member_report covers the
    columns read), rather than every member's purchases of the months: at 100,000 members
    and 2 M purchases, a third of the rows. The month of each purchase is a CASE on its
    instant; each member's cohort once."""
    if dialect == "postgresql":
        return _cohort_activity_by_month(months, filters)
    first, last = months[0].start, months[-1].end
    purchase_filter = [counted_purchase(), Purchase.created_at >= first,
                       Purchase.created_at < last]
    if filters.branch_id is not None:
        purchase_filter.append(Purchase.branch_id == filters.branch_id)
    # Each member's cohort once (MATERIALIZED: not re-evaluated for each purchase row).
    joined = (select(Member.id.label("member_id"),
                     _month_index(Member.joined_at, months).label("cohort"))
              .where(Member.joined_at >= first, Member.joined_at < last,
                     *member_conditions(filters))
              .cte("cohort_member").prefix_with("MATERIALIZED"))
    month = _month_index(Purchase.created_at, months)
    pairs = (select(joined.c.member_id, joined.c.cohort, month.label("month"))
             .select_from(joined).join(Purchase, Purchase.member_id == joined.c.member_id)
             .where(*purchase_filter).distinct().subquery())
    return (select(pairs.c.cohort, pairs.c.month, func.count())
            .where(pairs.c.month >= pairs.c.cohort)
            .group_by(pairs.c.cohort, pairs.c.month))


def _cohort_activity_by_month(months: list, filters: Filters) -> Select:
    """`_cohort_activity` as one pass over the months' purchases: distinct (member, month)
    pairs first — each month an index range scan — then each pair's member and cohort."""
    joined_bucket = bucket_table(months)
    bought = bucket_table(months, "bought")
    purchase_filter = [counted_purchase()]
    if filters.branch_id is not None:
        purchase_filter.append(Purchase.branch_id == filters.branch_id)
    pairs = (select(Purchase.member_id.label("member_id"), bought.c.i.label("month"))
             .select_from(bought).join(Purchase, in_bucket(Purchase.created_at, bought))
             .where(*purchase_filter).group_by(Purchase.member_id, bought.c.i).subquery())
    return (select(joined_bucket.c.i.label("cohort"), pairs.c.month, func.count())
            .select_from(pairs).join(Member, Member.id == pairs.c.member_id)
            .join(joined_bucket, in_bucket(Member.joined_at, joined_bucket))
            .where(*member_conditions(filters), pairs.c.month >= joined_bucket.c.i)
            .group_by(joined_bucket.c.i, pairs.c.month))


def cohorts(session: Session, filters: Filters) -> Table:
    """Members by the Jalali month they joined (rows) and the share of them who bought in
    each month after (columns: month 0 is the joining month): the cohort heat map."""
    months = periods.buckets(filters.period, "month")[-MAX_COHORT_MONTHS:]
    joined_bucket = bucket_table(months)
    member_filter = member_conditions(filters)
    sizes = dict(session.execute(
        select(joined_bucket.c.i, func.count(Member.id)).select_from(joined_bucket)
        .join(Member, in_bucket(Member.joined_at, joined_bucket))
        .where(*member_filter).group_by(joined_bucket.c.i)).all())
    active = session.execute(_cohort_activity(months, filters,
                                              session.get_bind().dialect.name)).all()
    shares = {(cohort, month - cohort): count for cohort, month, count in active}
    offsets = len(months)
    rows = []
    for month in months:
        size = sizes.get(month.index, 0)
        row = {"i": month.index, "label": month.first, "size": size}
        for offset in range(offsets):
            row[f"m{offset}"] = (ratio(shares.get((month.index, offset), 0), size)
                                 if month.index + offset < offsets else None)
        rows.append(row)
    columns = [Column("label", N_("Joined in"), "month"), Column("size", N_("Members joined"))]
    columns += [Column(f"m{offset}", N_("Month %(number)s"), "percent", number=offset)
                for offset in range(offsets)]
    return Table("cohorts", N_("Cohorts"), columns, rows, heat=True)

