"""Lists (R1): members and what they bought, new members, tiers, products, purchases with
their points, loyal members and the ledger's transaction detail.

Lists that can be long are paged in the database (LIMIT/OFFSET after the GROUP BY);
`limit=None` returns every row, for the Excel export."""

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from backend.i18n import N_
from backend.models import (
    Branch,
    LedgerEntry,
    LedgerTransaction,
    Member,
    MemberMonthSales,
    MemberScore,
    Product,
    Purchase,
    PurchaseItem,
    Tier,
)
from backend.services.reports import summaries
from backend.services.reports.sql import (
    Filters,
    as_int,
    member_conditions,
    net_paid,
    net_sales,
    purchase_conditions,
)
from backend.services.reports.tables import Chart, Column, Table

PAGE_SIZE = 50
# The export's bound: more rows than anyone reads in a spreadsheet, and written well
# inside a web worker's timeout.
MAX_EXPORT_ROWS = 100_000

# A ledger transaction's kind as people read it (the member page's words).
LEDGER_KIND_TITLES = {
    "purchase": N_("Purchase"), "refund": N_("Refund"), "topup": N_("Top-up"),
    "grant": N_("Credit grant"), "welcome": N_("Welcome bonus"),
    "referral": N_("Referral bonus"), "commission": N_("Referral commission"),
    "commission-refund": N_("Commission taken back"), "conversion": N_("Points to credit"),
    "expiry": N_("Credit expired"), "gift-card": N_("Gift card"),
    "transfer-in": N_("Transfer received"), "transfer-out": N_("Transfer sent"),
    "reward": N_("Reward for points"), "points-expiry": N_("Points expired"),
    "profile-reward": N_("Reward for completing the profile"),
}


def _page(statement, page: int, limit: int | None):
    if limit is None:
        return statement.limit(MAX_EXPORT_ROWS)
    return statement.limit(limit).offset((page - 1) * limit)


def _count(session: Session, statement) -> int:
    return session.scalar(select(func.count()).select_from(
        statement.order_by(None).subquery()))


def _tier_name():
    return func.coalesce(func.nullif(Tier.name_fa, ""), Tier.name)


def member_activity(session: Session, filters: Filters, page: int = 1,
                    limit: int | None = PAGE_SIZE) -> Table:
    """Members who bought in the period, with their purchases, spend, points and credit
    in it (purchases and points per member), biggest spenders first."""
    totals = (select(Purchase.member_id.label("member_id"),
                     func.count(Purchase.id).label("purchases"),
                     func.sum(net_sales()).label("sales"),
                     func.sum(net_paid()).label("paid"),
                     func.sum(Purchase.points_earned).label("points"),
                     func.sum(Purchase.credit_earned_rials).label("credit_earned"),
                     func.sum(Purchase.credit_used_rials).label("credit_spent"),
                     func.max(Purchase.created_at).label("last_at"))
              .where(*purchase_conditions(filters)).group_by(Purchase.member_id).subquery())
    statement = (select(Member.id, Member.first_name, Member.last_name, Member.mobile,
                        _tier_name().label("tier"), Member.joined_at, totals)
                 .join(totals, totals.c.member_id == Member.id)
                 .join(Tier, Tier.id == Member.tier_id)
                 .order_by(totals.c.sales.desc(), Member.id))
    rows = [{"member_id": row.id, "name": f"{row.first_name} {row.last_name}",
             "mobile": row.mobile or "", "tier": row.tier, "joined": row.joined_at,
             "purchases": row.purchases, "sales": as_int(row.sales), "paid": as_int(row.paid),
             "points": as_int(row.points), "credit_earned": as_int(row.credit_earned),
             "credit_spent": as_int(row.credit_spent), "last_at": row.last_at}
            for row in session.execute(_page(statement, page, limit))]
    return Table(
        "members", N_("Members and their purchases"),
        [Column("name", N_("Name"), "text"), Column("mobile", N_("Mobile"), "text"),
         Column("tier", N_("Tier"), "text"), Column("joined", N_("Joined"), "datetime"),
         Column("purchases", N_("Purchases")), Column("sales", N_("Sales"), "money"),
         Column("paid", N_("Amount paid"), "money"), Column("points", N_("Points earned")),
         Column("credit_earned", N_("Credit issued"), "money"),
         Column("credit_spent", N_("Credit spent"), "money"),
         Column("last_at", N_("Last purchase"), "datetime")],
        rows, align_by="member_id", total_rows=_count(session, statement))


def new_members(session: Session, filters: Filters, page: int = 1,
                limit: int | None = PAGE_SIZE) -> Table:
    """Members who joined in the period, newest first."""
    statement = (select(Member.id, Member.first_name, Member.last_name, Member.mobile,
                        _tier_name().label("tier"), Branch.name.label("branch"),
                        Member.joined_at, Member.purchase_count, Member.total_spend_rials)
                 .join(Tier, Tier.id == Member.tier_id)
                 .outerjoin(Branch, Branch.id == Member.home_branch_id)
                 .where(*member_conditions(filters),
                        Member.joined_at >= filters.period.start,
                        Member.joined_at < filters.period.end)
                 .order_by(Member.joined_at.desc(), Member.id.desc()))
    rows = [{"member_id": row.id, "name": f"{row.first_name} {row.last_name}",
             "mobile": row.mobile or "", "tier": row.tier, "branch": row.branch or "",
             "joined": row.joined_at, "purchases": row.purchase_count,
             "spend": row.total_spend_rials}
            for row in session.execute(_page(statement, page, limit))]
    return Table(
        "joined", N_("New members"),
        [Column("name", N_("Name"), "text"), Column("mobile", N_("Mobile"), "text"),
         Column("tier", N_("Tier"), "text"), Column("branch", N_("Branch"), "text"),
         Column("joined", N_("Joined"), "datetime"), Column("purchases", N_("Purchases")),
         Column("spend", N_("Total spend"), "money")],
        rows, align_by="member_id", total_rows=_count(session, statement))


def tiers(session: Session, filters: Filters) -> Table:
    """Per tier: members now, members who bought in the period, purchases, sales, points."""
    members = dict(session.execute(
        select(Member.tier_id, func.count(Member.id)).where(*member_conditions(filters))
        .group_by(Member.tier_id)).all())
    if summaries.is_whole_month(filters.period):
        # A whole Jalali month: member_month_sales, already summed per member (issue 19).
        summary = MemberMonthSales
        activity_query = (
            select(Member.tier_id, func.count(func.distinct(summary.member_id)).label("active"),
                   func.sum(summary.purchases).label("purchases"),
                   func.sum(summary.sales_rials).label("sales"),
                   func.sum(summary.points_earned).label("points"))
            .join(Member, Member.id == summary.member_id)
            .where(*summaries.month_conditions(filters)))
    else:
        activity_query = (
            select(Member.tier_id, func.count(func.distinct(Purchase.member_id)).label("active"),
                   func.count(Purchase.id).label("purchases"),
                   func.sum(net_sales()).label("sales"),
                   func.sum(Purchase.points_earned).label("points"))
            .join(Member, Member.id == Purchase.member_id)
            .where(*purchase_conditions(filters)))
    activity = {row.tier_id: row for row in session.execute(
        activity_query.group_by(Member.tier_id))}
    rows = []
    for tier in session.scalars(select(Tier).order_by(Tier.rank, Tier.id)):
        if filters.tier_id is not None and tier.id != filters.tier_id:
            continue
        row = activity.get(tier.id)
        sales = as_int(row.sales) if row else 0
        active = row.active if row else 0
        rows.append({"tier_id": tier.id, "tier": tier.name_fa or tier.name,
                     "members": members.get(tier.id, 0), "active": active,
                     "purchases": row.purchases if row else 0, "sales": sales,
                     "per_member": sales // active if active else None,
                     "points": as_int(row.points) if row else 0})
    return Table(
        "tiers", N_("Tiers"),
        [Column("tier", N_("Tier"), "text"), Column("members", N_("Members")),
         Column("active", N_("Members who bought")), Column("purchases", N_("Purchases")),
         Column("sales", N_("Sales"), "money"),
         Column("per_member", N_("Sales per buying member"), "money"),
         Column("points", N_("Points earned"))],
        rows, [Chart("bar", "tier", ("sales",), N_("Sales"))], align_by="tier_id")


def products(session: Session, filters: Filters) -> Table:
    """Per product: units sold and revenue in the period, and the stock now (L5)."""
    sold = {row.product_id: row for row in session.execute(
        select(PurchaseItem.product_id, func.sum(PurchaseItem.quantity).label("units"),
               func.sum(PurchaseItem.quantity * PurchaseItem.unit_price_rials).label("revenue"))
        .join(Purchase, Purchase.id == PurchaseItem.purchase_id)
        .where(*purchase_conditions(filters)).group_by(PurchaseItem.product_id))}
    rows = []
    for product in session.scalars(select(Product).order_by(Product.name, Product.id)):
        row = sold.get(product.id)
        rows.append({"product_id": product.id, "sku": product.sku, "name": product.name,
                     "units": as_int(row.units) if row else 0,
                     "revenue": as_int(row.revenue) if row else 0, "stock": product.stock})
    rows.sort(key=lambda row: (-row["units"], row["name"]))
    return Table(
        "products", N_("Products"),
        [Column("sku", N_("Code"), "text"), Column("name", N_("Product"), "text"),
         Column("units", N_("Units sold")), Column("revenue", N_("Revenue"), "money"),
         Column("stock", N_("Stock now"))],
        rows, [Chart("bar", "name", ("units",), N_("Units sold"))], align_by="product_id")


def purchases(session: Session, filters: Filters, page: int = 1,
              limit: int | None = PAGE_SIZE) -> Table:
    """Every purchase in the period with what it earned (points per purchase), newest
    first; fully refunded purchases are listed too, with their refund."""
    conditions = purchase_conditions(filters)
    conditions.remove(conditions[2])  # refunded purchases are listed as well
    statement = (select(Purchase.id, Purchase.created_at, Purchase.amount_rials,
                        Purchase.discount_rials, Purchase.credit_used_rials,
                        Purchase.payable_rials, Purchase.points_earned,
                        Purchase.credit_earned_rials, Purchase.refunded_amount_rials,
                        Member.first_name, Member.last_name, Branch.name.label("branch"))
                 .join(Member, Member.id == Purchase.member_id)
                 .join(Branch, Branch.id == Purchase.branch_id)
                 .where(*conditions).order_by(Purchase.created_at.desc(), Purchase.id.desc()))
    rows = [{"purchase_id": row.id, "at": row.created_at,
             "name": f"{row.first_name} {row.last_name}", "branch": row.branch,
             "amount": row.amount_rials, "discount": row.discount_rials,
             "credit_used": row.credit_used_rials, "paid": row.payable_rials,
             "points": row.points_earned, "credit_earned": row.credit_earned_rials,
             "refunded": row.refunded_amount_rials}
            for row in session.execute(_page(statement, page, limit))]
    return Table(
        "purchases", N_("Purchases"),
        [Column("purchase_id", N_("Number")), Column("at", N_("When"), "datetime"),
         Column("name", N_("Member"), "text"), Column("branch", N_("Branch"), "text"),
         Column("amount", N_("Amount"), "money"), Column("discount", N_("Discount"), "money"),
         Column("credit_used", N_("Credit spent"), "money"),
         Column("paid", N_("Amount paid"), "money"), Column("points", N_("Points earned")),
         Column("credit_earned", N_("Credit issued"), "money"),
         Column("refunded", N_("Refunded"), "money")],
        rows, total_rows=session.scalar(select(func.count(Purchase.id)).where(*conditions)))


def transactions(session: Session, filters: Filters, page: int = 1,
                 limit: int | None = PAGE_SIZE) -> Table:
    """The ledger's transactions in the period with what each did to credit and points.
    Branch filters members by home branch (a top-up or grant has no branch).

    The page is chosen on `ledger_transaction` alone (its time index), and only that
    page's entries are summed."""
    conditions = [LedgerTransaction.created_at >= filters.period.start,
                  LedgerTransaction.created_at < filters.period.end]
    member_filter = member_conditions(filters)[1:]  # gift accounts' movements are shown
    if member_filter:
        conditions.append(LedgerTransaction.member_id.in_(
            select(Member.id).where(*member_filter)))
    chosen = (select(LedgerTransaction.id).where(*conditions)
              .order_by(LedgerTransaction.created_at.desc(), LedgerTransaction.id.desc()))
    page_ids = _page(chosen, page, limit).subquery()
    moved = (select(LedgerEntry.transaction_id.label("transaction_id"),
                    func.sum(case((LedgerEntry.account == "credit", LedgerEntry.amount),
                                  else_=0)).label("credit"),
                    func.sum(case((LedgerEntry.account == "points", LedgerEntry.amount),
                                  else_=0)).label("points"))
             .where(LedgerEntry.transaction_id.in_(select(page_ids.c.id)))
             .group_by(LedgerEntry.transaction_id).subquery())
    statement = (select(LedgerTransaction, Member.first_name, Member.last_name,
                        moved.c.credit, moved.c.points)
                 .join(page_ids, page_ids.c.id == LedgerTransaction.id)
                 .join(Member, Member.id == LedgerTransaction.member_id)
                 .outerjoin(moved, moved.c.transaction_id == LedgerTransaction.id)
                 .order_by(LedgerTransaction.created_at.desc(), LedgerTransaction.id.desc()))
    rows = [{"transaction_id": tx.id, "at": tx.created_at, "name": f"{first} {last}",
             "kind": LEDGER_KIND_TITLES.get(tx.kind, tx.kind), "reason": tx.reason,
             "credit": as_int(credit), "points": as_int(points)}
            for tx, first, last, credit, points in session.execute(statement)]
    return Table(
        "transactions", N_("Transaction detail"),
        [Column("transaction_id", N_("Number")), Column("at", N_("When"), "datetime"),
         Column("name", N_("Member"), "text"), Column("kind", N_("Kind"), "msgid"),
         Column("reason", N_("Reason"), "text"), Column("credit", N_("Credit"), "money"),
         Column("points", N_("Points"))],
        rows, total_rows=session.scalar(select(func.count()).where(*conditions)))


LOYAL_SEGMENTS = ("champions", "loyal")


def loyal_members(session: Session, filters: Filters, page: int = 1,
                  limit: int | None = PAGE_SIZE, segments=LOYAL_SEGMENTS) -> Table:
    """Members in the given LRFM segments (champions and loyal by default) with their
    scores, biggest spenders first. Scores are as of the last nightly run."""
    statement = (select(MemberScore, Member.first_name, Member.last_name, Member.mobile,
                        _tier_name().label("tier"))
                 .join(Member, Member.id == MemberScore.member_id)
                 .join(Tier, Tier.id == Member.tier_id)
                 .where(MemberScore.segment.in_(segments), *member_conditions(filters))
                 .order_by(MemberScore.monetary_rials.desc(), Member.id))
    rows = [{"member_id": score.member_id, "name": f"{first} {last}", "mobile": mobile or "",
             "tier": tier, "segment": score.segment, "length": score.length_score,
             "recency": score.recency_score, "frequency": score.frequency_score,
             "monetary": score.monetary_score, "purchases": score.frequency,
             "spend": score.monetary_rials, "last_at": score.last_purchase_at}
            for score, first, last, mobile, tier in session.execute(
                _page(statement, page, limit))]
    return Table(
        "loyal", N_("Loyal members"),
        [Column("name", N_("Name"), "text"), Column("mobile", N_("Mobile"), "text"),
         Column("tier", N_("Tier"), "text"), Column("segment", N_("Segment"), "segment"),
         Column("length", "L"), Column("recency", "R"), Column("frequency", "F"),
         Column("monetary", "M"), Column("purchases", N_("Purchases")),
         Column("spend", N_("Total spend"), "money"),
         Column("last_at", N_("Last purchase"), "datetime")],
        rows, align_by="member_id", total_rows=_count(session, statement))

