"""SQL building blocks shared by the reports: filters, time buckets, day differences.

Everything here builds SQLAlchemy Core expressions that run the same on SQLite and
PostgreSQL; the aggregation happens in the database, never in Python loops over rows.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Float, Integer, Numeric, and_, cast, func, literal, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from backend.models import Member, Purchase
from backend.models.base import UTCDateTime
from backend.services.reports.periods import Bucket, Period


@dataclass(frozen=True)
class Filters:
    """What every report is filtered by (R1–R3). Tier is the member's current tier;
    branch is where a purchase was made (for members: their home branch)."""

    period: Period
    granularity: str = "day"
    branch_id: int | None = None
    tier_id: int | None = None
    compare: bool = False
    # The moment the report is made, for measures that run up to now (campaigns measured
    # over the days since their send); None: the clock.
    now: datetime | None = None

    def with_period(self, period: Period) -> "Filters":
        return Filters(period, self.granularity, self.branch_id, self.tier_id, False,
                       self.now)


class days_between(FunctionElement):
    """Whole and fractional days from `earlier` to `later` (a float)."""

    type = Float()
    inherit_cache = True
    name = "days_between"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    later, earlier = list(element.clauses)
    return (f"(julianday({compiler.process(later, **kw)}) - "
            f"julianday({compiler.process(earlier, **kw)}))")


@compiles(days_between, "postgresql")
def _days_between_postgresql(element, compiler, **kw):
    later, earlier = list(element.clauses)
    return (f"(EXTRACT(EPOCH FROM ({compiler.process(later, **kw)} - "
            f"{compiler.process(earlier, **kw)})) / 86400.0)")


def whole_days(later, earlier) -> ColumnElement:
    """Completed days between two instants (floor for non-negative differences)."""
    return cast(func.floor(days_between(later, earlier)), Integer)


def bucket_table(buckets: list[Bucket], name: str = "bucket"):
    """The buckets as a CTE (i, start, end) to range-join rows against: each bucket is a
    small index range scan on the time column instead of a per-row CASE."""
    rows = [select(literal(bucket.index, Integer).label("i"),
                   literal(bucket.start, UTCDateTime()).label("start"),
                   literal(bucket.end, UTCDateTime()).label("end"))
            for bucket in buckets]
    return (union_all(*rows) if len(rows) > 1 else rows[0]).cte(name)


def counted_purchase(purchase=Purchase):
    """A purchase counts in the reports unless it was refunded in full."""
    return purchase.refunded_amount_rials < purchase.amount_rials


def members_of_tier(tier_id: int):
    return select(Member.id).where(Member.tier_id == tier_id)


def purchase_conditions(filters: Filters, period: Period | None = None,
                        purchase=Purchase) -> list:
    """Counted purchases in the period (the filters' own unless given), at the branch, by
    members of the tier. The first two conditions are the period's; the third is
    `counted_purchase`."""
    period = period or filters.period
    conditions = [purchase.created_at >= period.start, purchase.created_at < period.end,
                  counted_purchase(purchase)]
    if filters.branch_id is not None:
        conditions.append(purchase.branch_id == filters.branch_id)
    if filters.tier_id is not None:
        conditions.append(purchase.member_id.in_(members_of_tier(filters.tier_id)))
    return conditions


def branch_and_tier(filters: Filters, member_id, branch_id) -> list:
    """The filters' branch and tier on rows with these member and branch columns (a
    purchase, or a summary row)."""
    conditions = []
    if filters.branch_id is not None:
        conditions.append(branch_id == filters.branch_id)
    if filters.tier_id is not None:
        conditions.append(member_id.in_(members_of_tier(filters.tier_id)))
    return conditions


def member_conditions(filters: Filters) -> list:
    conditions = [Member.is_gift_account.is_(False)]
    if filters.branch_id is not None:
        conditions.append(Member.home_branch_id == filters.branch_id)
    if filters.tier_id is not None:
        conditions.append(Member.tier_id == filters.tier_id)
    return conditions


def in_bucket(column, bucket) -> ColumnElement:
    return and_(column >= bucket.c.start, column < bucket.c.end)


def net_sales(purchase=Purchase):
    """List price net of refunds (rials)."""
    return purchase.amount_rials - purchase.refunded_amount_rials


def net_paid(purchase=Purchase):
    """What the member paid, less the refunded share (NUMERIC before multiplying: the
    product of two amounts overflows BIGINT)."""
    return purchase.payable_rials - cast(purchase.payable_rials, Numeric) \
        * purchase.refunded_amount_rials / purchase.amount_rials


def as_int(value) -> int:
    return int(value or 0)


def ratio(numerator, denominator) -> float | None:
    """numerator / denominator, or None when there is nothing to divide by."""
    return None if not denominator else numerator / denominator


def start_read_only(session: Session) -> None:
    """End the session's transaction (which on SQLite holds the write lock from its first
    statement; it has written nothing) and go on in a read-only one: reports may take a
    second, purchases must not wait for them (backend/database.py)."""
    session.rollback()
    session.connection(execution_options={"read_only": True})
