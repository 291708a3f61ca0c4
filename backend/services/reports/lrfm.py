"""LRFM scores and segments (L12), recomputed nightly by INSERT … SELECT in the database.

For every member with at least one purchase not refunded in full (all history up to now):

- Length: whole days from the first purchase to the last (how long the relationship is),
- Recency: whole days from the last purchase to now (fewer is better),
- Frequency: number of purchases,
- Monetary: sales (purchase amounts less refunds) in rials.

Each becomes a score from 1 (worst) to 5 (best) by quintile, with ties sharing a score:
a member's position is the middle of their tie group,

    p = (members below + members equal / 2) / members scored
    score = 1 + floor(5 × p)

which gives exact quintiles for distinct values (10 members → 1,1,2,2,3,3,4,4,5,5), the
middle score 3 to a single member or to everyone when all are equal, and never depends
on row order. Recency ranks the other way round (the most recent get 5).

Segments, first rule that matches (docs/reports.md):

    no_purchase      no purchase yet
    new              first purchase within the last NEW_MEMBER_DAYS days
    champions        R ≥ 4 and F ≥ 4 and M ≥ 4
    loyal            F ≥ 4 and R ≥ 3
    potential        R ≥ 4 (recent, not yet frequent)
    at_risk          R ≤ 2 and (F ≥ 4 or M ≥ 4): were valuable, slipping away
    lost             R = 1
    needs_attention  everyone else
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, and_, case, cast, exists, func, literal, or_, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.models import Member, MemberScore, Purchase
from backend.models.base import UTCDateTime
from backend.services.reports.periods import local_date
from backend.services.reports.sql import counted_purchase, net_sales, whole_days

NEW_MEMBER_DAYS = 30
SCORE_NAMES = ("length", "recency", "frequency", "monetary")


def _score(value, descending: bool = False):
    """1 + floor(5 × (below + equal / 2) / n), in integers: ties share the middle."""
    order = value.desc() if descending else value
    below = func.rank().over(order_by=order) - 1
    equal = func.count().over(partition_by=value)
    scored = func.count().over()
    return cast(1 + (5 * (2 * below + equal)) // (2 * scored), Integer)


def _segment(columns, days_since_first):
    recency, frequency, monetary = (columns[f"{name}_score"] for name in SCORE_NAMES[1:])
    return case(
        (columns["frequency"].is_(None), "no_purchase"),
        (days_since_first <= NEW_MEMBER_DAYS, "new"),
        (and_(recency >= 4, frequency >= 4, monetary >= 4), "champions"),
        (and_(frequency >= 4, recency >= 3), "loyal"),
        (recency >= 4, "potential"),
        (and_(recency <= 2, or_(frequency >= 4, monetary >= 4)), "at_risk"),
        (recency == 1, "lost"),
        else_="needs_attention",
    )


def _upsert(session: Session, source) -> None:
    """INSERT … SELECT … ON CONFLICT (member_id) DO UPDATE: the same statement on SQLite
    and PostgreSQL. `previous_segment` moves only when the day changes."""
    names = ["member_id", "computed_on", "first_purchase_at", "last_purchase_at",
             "length_days", "recency_days", "frequency", "monetary_rials", "length_score",
             "recency_score", "frequency_score", "monetary_score", "segment"]
    # WHERE keeps SQLite from reading ON CONFLICT as a join constraint.
    source = source.where(true())
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    insert = dialect.insert(MemberScore).from_select(names, source)
    table = MemberScore.__table__
    updated = {name: insert.excluded[name] for name in names if name != "member_id"}
    updated["previous_segment"] = case(
        (table.c.computed_on < insert.excluded.computed_on, table.c.segment),
        else_=table.c.previous_segment)
    session.execute(insert.on_conflict_do_update(index_elements=["member_id"], set_=updated))


@dataclass(frozen=True)
class ScoreRun:
    scored: int
    members: int


def recompute(session: Session, now: datetime) -> ScoreRun:
    """Score every member as of `now` and store it in `member_score` (two upserts keyed by
    member: buyers, then members without a purchase). `previous_segment` keeps the segment
    of the last earlier day, so running twice on one day changes nothing more. The caller
    commits."""
    as_of = literal(now, UTCDateTime())
    stats = (select(Purchase.member_id.label("member_id"),
                    func.min(Purchase.created_at).label("first_at"),
                    func.max(Purchase.created_at).label("last_at"),
                    func.count(Purchase.id).label("frequency"),
                    func.sum(net_sales()).label("monetary"))
             .where(counted_purchase(), Purchase.created_at <= now,
                    Purchase.member_id.not_in(select(Member.id).where(Member.is_gift_account)))
             .group_by(Purchase.member_id).subquery())
    measured = select(stats, whole_days(stats.c.last_at, stats.c.first_at).label("length_days"),
                      whole_days(as_of, stats.c.last_at).label("recency_days")).subquery()
    ranked = select(
        measured,
        _score(measured.c.length_days).label("length_score"),
        _score(measured.c.recency_days, descending=True).label("recency_score"),
        _score(measured.c.frequency).label("frequency_score"),
        _score(measured.c.monetary).label("monetary_score"),
    ).subquery()
    columns = {name: ranked.c[name] for name in ranked.c.keys()}
    segment = _segment(columns, ranked.c.recency_days + ranked.c.length_days)
    today = literal(local_date(now))
    buyers = (select(
        ranked.c.member_id, today.label("computed_on"),
        ranked.c.first_at.label("first_purchase_at"), ranked.c.last_at.label("last_purchase_at"),
        ranked.c.length_days, ranked.c.recency_days, ranked.c.frequency,
        ranked.c.monetary.label("monetary_rials"), ranked.c.length_score,
        ranked.c.recency_score, ranked.c.frequency_score, ranked.c.monetary_score,
        segment.label("segment"))
        .join(Member, Member.id == ranked.c.member_id)
        .where(Member.is_gift_account.is_(False)))
    # Members without a counted purchase: no scores. A separate statement because a LEFT
    # JOIN onto the ranked rows makes SQLite scan them once per member.
    null = literal(None, Integer)
    others = (select(
        Member.id, today, literal(None, UTCDateTime()), literal(None, UTCDateTime()), null, null,
        literal(0, Integer), literal(0, Integer), null, null, null, null,
        literal("no_purchase"))
        .where(Member.is_gift_account.is_(False), ~exists(
            select(Purchase.id).where(Purchase.member_id == Member.id, counted_purchase(),
                                      Purchase.created_at <= now))))
    for source in (buyers, others):
        _upsert(session, source)
    scored = session.scalar(select(func.count()).select_from(MemberScore)
                            .where(MemberScore.frequency > 0))
    members = session.scalar(select(func.count()).select_from(MemberScore))
    return ScoreRun(scored, members)
