"""Today's numbers for the dashboard (issue 5), computed in the database; today against
the same weekday a week before, up to the same time of day, and the last 30 Tehran days'
sales (issue 18 item 13)."""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from backend.engine.calendar import local, local_day_start
from backend.models import Device, LedgerEntry, LedgerTransaction, Member, Purchase
from backend.services.reports import periods
from backend.services.reports.sql import bucket_table, in_bucket

TREND_DAYS = 30
# The figures compared with last week, in the order the dashboard shows them.
COMPARED = ("purchases", "sales_rials", "new_members", "credit_issued_rials",
            "credit_spent_rials")

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


@dataclass(frozen=True)
class Change:
    """One figure today and on the same weekday last week up to the same time."""

    key: str
    today: int
    last_week: int

    @property
    def difference(self) -> int:
        return self.today - self.last_week

    @property
    def percent(self) -> int | None:
        """Whole percent change (rounded half away from zero); None when last week was 0."""
        if not self.last_week:
            return None
        scaled = abs(self.difference) * 100
        rounded = (scaled + self.last_week // 2) // self.last_week
        return rounded if self.difference >= 0 else -rounded

    @property
    def direction(self) -> str:
        return "up" if self.difference > 0 else "down" if self.difference < 0 else "same"


@dataclass(frozen=True)
class TrendDay:
    day: date  # Tehran date
    purchases: int
    sales_rials: int


@dataclass(frozen=True)
class Overview:
    today: Today
    last_week: Today
    changes: tuple[Change, ...]
    trend: tuple[TrendDay, ...]


def overview(session: Session, now: datetime, branch_id: int | None = None) -> Overview:
    """Today so far against the same span of the same weekday a week ago (midnight in
    Tehran to the same time of day), and the sales of the last TREND_DAYS Tehran days,
    today included."""
    current = today(session, now, branch_id)
    week_ago = now - timedelta(days=7)
    before = _figures(session, local_day_start(week_ago), week_ago, branch_id, now)
    changes = tuple(Change(key, getattr(current, key), getattr(before, key)) for key in COMPARED)
    return Overview(current, before, changes, trend(session, now, branch_id))


def trend(session: Session, now: datetime, branch_id: int | None = None,
          days: int = TREND_DAYS) -> tuple[TrendDay, ...]:
    """Purchases and sales (net of refunds) per Tehran day, the last `days` days."""
    last = local(now).date()
    period = periods.Period(last - timedelta(days=days - 1), last)
    buckets = periods.buckets(period, "day")
    bucket = bucket_table(buckets)
    conditions = [in_bucket(Purchase.created_at, bucket)]
    if branch_id is not None:
        conditions.append(Purchase.branch_id == branch_id)
    rows = {index: (count, int(sales)) for index, count, sales in session.execute(
        select(bucket.c.i, func.count(Purchase.id),
               func.coalesce(func.sum(Purchase.amount_rials - Purchase.refunded_amount_rials), 0))
        .select_from(bucket).join(Purchase, and_(*conditions)).group_by(bucket.c.i))}
    return tuple(TrendDay(b.first, *rows.get(b.index, (0, 0))) for b in buckets)


def today(session: Session, now: datetime, branch_id: int | None = None) -> Today:
    return _figures(session, local_day_start(now), None, branch_id, now)


def _figures(session: Session, start: datetime, end: datetime | None, branch_id: int | None,
             now: datetime) -> Today:
    """The figures from `start` to `end` (included; None: whatever is recorded since
    `start`); terminals as they are at `now`."""
    def within(column):
        return [column >= start] + ([column <= end] if end is not None else [])

    purchase_filter = within(Purchase.created_at)
    if branch_id is not None:
        purchase_filter.append(Purchase.branch_id == branch_id)
    sales, count, visits = session.execute(
        select(func.coalesce(func.sum(Purchase.amount_rials - Purchase.refunded_amount_rials), 0),
               func.count(Purchase.id), func.count(func.distinct(Purchase.member_id)))
        .where(*purchase_filter)).one()
    members_filter = [*within(Member.joined_at), Member.is_gift_account.is_(False)]
    if branch_id is not None:
        members_filter.append(Member.home_branch_id == branch_id)
    new_members = session.scalar(select(func.count(Member.id)).where(*members_filter))
    credit = (select(
        func.coalesce(func.sum(case((LedgerEntry.amount > 0, LedgerEntry.amount), else_=0)), 0),
        func.coalesce(func.sum(case((LedgerEntry.amount < 0, -LedgerEntry.amount), else_=0)), 0))
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.account == "credit", *within(LedgerEntry.created_at)))
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
