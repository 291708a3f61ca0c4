"""Today's numbers for the dashboard (issue 5), computed in the database."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from backend.engine.calendar import local_day_start
from backend.models import Device, LedgerEntry, LedgerTransaction, Member, Purchase

# A terminal that sent nothing for this long is shown offline even if its last retained
# state said online (a will message can be lost when the broker itself restarts).
ONLINE_STALE_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class Today:
    sales_rials: int
    purchases: int
    visits: int
    new_members: int
    credit_issued_rials: int
    credit_spent_rials: int
    terminals_online: int
    terminals_total: int


def today(session: Session, now: datetime, branch_id: int | None = None) -> Today:
    start = local_day_start(now)
    purchase_filter = [Purchase.created_at >= start]
    if branch_id is not None:
        purchase_filter.append(Purchase.branch_id == branch_id)
    sales, count, visits = session.execute(
        select(func.coalesce(func.sum(Purchase.amount_rials - Purchase.refunded_amount_rials), 0),
               func.count(Purchase.id), func.count(func.distinct(Purchase.member_id)))
        .where(*purchase_filter)).one()
    members_filter = [Member.joined_at >= start, Member.is_gift_account.is_(False)]
    if branch_id is not None:
        members_filter.append(Member.home_branch_id == branch_id)
    new_members = session.scalar(select(func.count(Member.id)).where(*members_filter))
    credit = (select(
        func.coalesce(func.sum(case((LedgerEntry.amount > 0, LedgerEntry.amount), else_=0)), 0),
        func.coalesce(func.sum(case((LedgerEntry.amount < 0, -LedgerEntry.amount), else_=0)), 0))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.account == "credit", LedgerEntry.created_at >= start))
    if branch_id is not None:
        credit = credit.where(LedgerEntry.member_id.in_(
            select(Member.id).where(Member.home_branch_id == branch_id)))
    issued, spent = session.execute(credit).one()
    devices = select(func.count(Device.id), func.coalesce(func.sum(case(
        (Device.is_online & (Device.state_at >= now - ONLINE_STALE_AFTER), 1), else_=0)), 0)
    ).where(Device.status == "active")
    if branch_id is not None:
        devices = devices.where(Device.branch_id == branch_id)
    total, online = session.execute(devices).one()
    return Today(int(sales), count, visits, new_members, int(issued), int(spent), int(online),
                 total)
