"""The reports' SQL pieces (backend/services/reports/sql.py), run on the test database
(SQLite, and PostgreSQL with TEST_DATABASE_URL): days between instants in either
dialect, a bucket table to range-join against, and ratios with nothing to divide by."""

from datetime import UTC, date, datetime

from sqlalchemy import literal, select

from backend.models.base import UTCDateTime
from backend.services.reports import periods
from backend.services.reports.sql import (
    as_int,
    bucket_table,
    days_between,
    ratio,
    whole_days,
)

EARLIER = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def instant(moment: datetime):
    return literal(moment, UTCDateTime())


def test_days_between_counts_fractions_and_whole_days_floor_them(db):
    later = datetime(2026, 11, 3, 18, 0, tzinfo=UTC)  # 2.25 days on
    fraction, whole = db.execute(select(days_between(instant(later), instant(EARLIER)),
                                        whole_days(instant(later), instant(EARLIER)))).one()
    assert abs(fraction - 2.25) < 1e-6
    assert whole == 2


def test_a_day_short_by_a_second_is_not_a_whole_day(db):
    later = datetime(2026, 11, 2, 11, 59, 59, tzinfo=UTC)
    assert db.scalar(select(whole_days(instant(later), instant(EARLIER)))) == 0


def test_the_bucket_table_has_one_row_a_bucket_with_its_bounds(db):
    month = periods.month_of(date(2026, 11, 25))  # Azar 1405
    buckets = periods.buckets(month, "week")
    table = bucket_table(buckets)
    rows = db.execute(select(table.c.i, table.c.start, table.c.end).order_by(table.c.i)).all()
    assert [row.i for row in rows] == [bucket.index for bucket in buckets]
    assert [(row.start, row.end) for row in rows] == [(bucket.start, bucket.end)
                                                      for bucket in buckets]
    one = bucket_table(buckets[:1], "single")  # one bucket: no UNION needed
    assert db.execute(select(one.c.i)).scalars().all() == [buckets[0].index]


def test_ratio_and_as_int_when_there_is_nothing():
    assert ratio(3, 4) == 0.75
    assert ratio(3, 0) is None and ratio(0, None) is None
    assert (as_int(None), as_int(7.0), as_int(0)) == (0, 7, 0)
