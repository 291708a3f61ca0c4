"""What members owe in cheques and instalments (L13), as of today: per branch, the
overdue, what falls due this (Iranian, Saturday-first) week and this Jalali month, bounced
cheques and the total still owed, to the rial; then every owed item due by the end of
this month, oldest first. A snapshot: it takes no period, only branch and tier."""



from datetime import UTC, date, datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from backend.i18n import N_
from backend.models import Branch, Member, PaymentInstrument
from backend.services.instruments import BANK_NAMES, OPEN_STATES
from backend.services.reports import periods
from backend.services.reports.sql import Filters
from backend.services.reports.tables import Column, Table

PAGE_SIZE = 50
MAX_EXPORT_ROWS = 100_000
STATUS_MSGIDS = {"pending": N_("Pending"), "bounced": N_("Bounced")}
KIND_MSGIDS = {"cheque": N_("Cheque"), "instalment": N_("Instalment")}


def today_of(filters: Filters) -> date:
    return periods.local_date(filters.now or datetime.now(UTC))


def _conditions(filters: Filters) -> list:
    conditions = [PaymentInstrument.status.in_(OPEN_STATES)]
    if filters.branch_id is not None:
        conditions.append(PaymentInstrument.branch_id == filters.branch_id)
    if filters.tier_id is not None:
        conditions.append(Member.tier_id == filters.tier_id)
    return conditions


def summary(session: Session, filters: Filters, page: int = 1,
            limit: int | None = PAGE_SIZE) -> Table:
    today = today_of(filters)
    week_end = periods.week_of(today).last
    month_end = periods.month_of(today).last
    pending = PaymentInstrument.status == "pending"
    amount = PaymentInstrument.amount_rials

    def total(condition):
        return func.coalesce(func.sum(case((condition, amount), else_=0)), 0)

    statement = (
        select(PaymentInstrument.branch_id,
               func.sum(case((pending & (PaymentInstrument.due_date < today), 1), else_=0))
               .label("overdue_count"),
               total(pending & (PaymentInstrument.due_date < today)).label("overdue"),
               total(pending & (PaymentInstrument.due_date >= today)
                     & (PaymentInstrument.due_date <= week_end)).label("week"),
               total(pending & (PaymentInstrument.due_date >= today)
                     & (PaymentInstrument.due_date <= month_end)).label("month"),
               total(PaymentInstrument.status == "bounced").label("bounced"),
               func.sum(amount).label("owed"))
        .join(Member, Member.id == PaymentInstrument.member_id)
        .where(*_conditions(filters))
        .group_by(PaymentInstrument.branch_id))
    names = dict(session.execute(select(Branch.id, Branch.name)).all())
    keys = ("overdue_count", "overdue", "week", "month", "bounced", "owed")
    rows = sorted(({"branch": names.get(row.branch_id, ""), "kind": "text",
                    **{key: int(getattr(row, key) or 0) for key in keys}}
                   for row in session.execute(statement)), key=lambda row: row["branch"])
    if len(rows) != 1:
        rows.append({"branch": N_("Every branch"), "kind": "msgid",
                     **{key: sum(row[key] for row in rows) for key in keys}})
    return Table(
        "due_summary", N_("Owed by branch"),
        [Column("branch", N_("Branch"), "auto"),
         Column("overdue_count", N_("Overdue items")),
         Column("overdue", N_("Overdue"), "money"),
         Column("week", N_("Due this week"), "money"),
         Column("month", N_("Due this month"), "money"),
         Column("bounced", N_("Bounced cheques"), "money"),
         Column("owed", N_("Total still owed"), "money")],
        rows, align_by="branch")


def items(session: Session, filters: Filters, page: int = 1,
          limit: int | None = PAGE_SIZE) -> Table:
    today = today_of(filters)
    month_end = periods.month_of(today).last
    statement = (
        select(PaymentInstrument, Member.first_name, Member.last_name, Member.mobile,
               Branch.name.label("branch"))
        .join(Member, Member.id == PaymentInstrument.member_id)
        .outerjoin(Branch, Branch.id == PaymentInstrument.branch_id)
        .where(*_conditions(filters), PaymentInstrument.due_date <= month_end)
        .order_by(PaymentInstrument.due_date, PaymentInstrument.id))
    paged = statement.limit(MAX_EXPORT_ROWS) if limit is None else \
        statement.limit(limit).offset((page - 1) * limit)
    rows = []
    for row in session.execute(paged):
        item = row[0]
        detail = f"{BANK_NAMES.get(item.bank, ('', ''))[0]} {item.reference}".strip() \
            if item.kind == "cheque" else f"{item.sequence or 1}"
        late = item.status == "pending" and item.due_date < today
        rows.append({"id": item.id, "due": item.due_date,
                     "days_late": (today - item.due_date).days if late else 0,
                     "name": f"{row.first_name} {row.last_name}", "mobile": row.mobile or "",
                     "what": KIND_MSGIDS[item.kind], "detail": detail,
                     "amount": item.amount_rials, "status": STATUS_MSGIDS[item.status],
                     "branch": row.branch or ""})
    total_rows = session.scalar(select(func.count()).select_from(
        statement.order_by(None).subquery()))
    return Table(
        "due_items", N_("Owed items due by the end of this month"),
        [Column("due", N_("Due date"), "date"), Column("days_late", N_("Days overdue")),
         Column("name", N_("Name"), "text"), Column("mobile", N_("Mobile"), "text"),
         Column("what", N_("Kind"), "msgid"), Column("detail", N_("Bank and number"), "text"),
         Column("amount", N_("Amount"), "money"), Column("status", N_("Status"), "msgid"),
         Column("branch", N_("Branch"), "text")],
        rows, align_by="id", total_rows=total_rows)



