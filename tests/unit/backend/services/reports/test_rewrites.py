"""The report queries rewritten for speed at 2 M purchases (issue 19) answer exactly what
the queries they replaced answered, on a generated club (services/reports/seed.py) with
some purchases refunded in full or in part, under every filter."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Integer, case, exists, func, literal, select, union_all, update

from backend.models import Branch, Member, Offer, OfferRedemption, Purchase, Tier, the_club
from backend.services.reports import effectiveness, periods, seed, trends
from backend.services.reports.sql import (
    Filters,
    as_int,
    bucket_table,
    counted_purchase,
    in_bucket,
    member_conditions,
    net_sales,
)

NOW = datetime(2026, 11, 25, 9, tzinfo=UTC)


def old_cohort_activity(session, months, filters):
    """trends.cohorts' (cohort, month, members) query before issue 19."""
    joined_bucket = bucket_table(months)
    bought = bucket_table(months, "bought")
    member_filter = member_conditions(filters)
    purchase_filter = [counted_purchase()]
    if filters.branch_id is not None:
        purchase_filter.append(Purchase.branch_id == filters.branch_id)
    pairs = (select(Purchase.member_id.label("member_id"), bought.c.i.label("month"))
             .select_from(bought).join(Purchase, in_bucket(Purchase.created_at, bought))
             .where(*purchase_filter).group_by(Purchase.member_id, bought.c.i).subquery())
    return session.execute(
        select(joined_bucket.c.i.label("cohort"), pairs.c.month, func.count())
        .select_from(pairs).join(Member, Member.id == pairs.c.member_id)
        .join(joined_bucket, in_bucket(Member.joined_at, joined_bucket))
        .where(*member_filter, pairs.c.month >= joined_bucket.c.i)
        .group_by(joined_bucket.c.i, pairs.c.month)).all()


def old_offer_effects(session, filters):
    """effectiveness.offer_effects before issue 19 (two statements)."""
    period = filters.period
    club = the_club(session)
    point_value = club.point_value_rials if club is not None else 0
    in_period = [OfferRedemption.created_at >= period.start,
                 OfferRedemption.created_at < period.end]
    if filters.branch_id is not None:
        in_period.append(OfferRedemption.purchase_id.in_(
            select(Purchase.id).where(Purchase.branch_id == filters.branch_id)))
    if filters.tier_id is not None:
        in_period.append(OfferRedemption.member_id.in_(
            select(Member.id).where(Member.tier_id == filters.tier_id)))
    used = session.execute(
        select(OfferRedemption.offer_id, func.count(OfferRedemption.id),
               func.coalesce(func.sum(OfferRedemption.discount_rials
                                      + OfferRedemption.credit_rials
                                      + OfferRedemption.points * point_value), 0))
        .where(*in_period).group_by(OfferRedemption.offer_id)).all()
    if not used:
        return []
    window = timedelta(days=period.days)
    exposed_at = period.start
    after = Purchase.created_at >= exposed_at
    conditions = [counted_purchase(), Purchase.created_at >= exposed_at - window,
                  Purchase.created_at < exposed_at + window]
    if filters.branch_id is not None:
        conditions.append(Purchase.branch_id == filters.branch_id)
    if filters.tier_id is not None:
        conditions.append(Purchase.member_id.in_(
            select(Member.id).where(Member.tier_id == filters.tier_id)))
    per_member = (select(Purchase.member_id.label("member_id"),
                         func.sum(case((after, 0), else_=net_sales())).label("before"),
                         func.sum(case((after, net_sales()), else_=0)).label("after"),
                         func.max(case((after, 1), else_=0)).label("came"))
                  .where(*conditions).group_by(Purchase.member_id).cte("per_member"))
    treated = (select(OfferRedemption.offer_id, OfferRedemption.member_id)
               .where(*in_period).distinct().cte("treated"))
    offers = {offer.id: offer for offer in session.scalars(
        select(Offer).where(Offer.id.in_([offer_id for offer_id, _, _ in used])))}
    tiers = {tier.code: tier.id for tier in session.scalars(select(Tier))}
    pairs = [select(literal(offer_id, Integer).label("offer_id"),
                    literal(tier_id, Integer).label("tier_id"))
             for offer_id, offer in offers.items()
             for tier_id in ([tiers[code] for code in offer.tier_codes.split(",")
                              if code in tiers] if offer.tier_codes else tiers.values())]
    eligible = (union_all(*pairs) if len(pairs) > 1 else pairs[0]).cte("eligible")

    def outcome_query(select_from, offer_id, where=()):
        return session.execute(
            select(offer_id, func.count(),
                   func.coalesce(func.sum(per_member.c.before), 0),
                   func.coalesce(func.sum(per_member.c.after), 0),
                   func.coalesce(func.sum(per_member.c.came), 0))
            .select_from(select_from).where(*where).group_by(offer_id)).all()

    treated_rows = outcome_query(
        treated.outerjoin(per_member, per_member.c.member_id == treated.c.member_id),
        treated.c.offer_id)
    control_rows = outcome_query(
        per_member.join(Member, Member.id == per_member.c.member_id)
        .join(eligible, eligible.c.tier_id == Member.tier_id),
        eligible.c.offer_id,
        (per_member.c.came == 1, ~exists(select(treated.c.member_id).where(
            treated.c.offer_id == eligible.c.offer_id,
            treated.c.member_id == per_member.c.member_id))))

    def outcomes(rows):
        return {row[0]: effectiveness.GroupOutcome(int(row[1]), as_int(row[4]), as_int(row[2]),
                                     as_int(row[3])) for row in rows}

    treated_by_offer, control_by_offer = outcomes(treated_rows), outcomes(control_rows)
    empty = effectiveness.GroupOutcome(0, 0, 0, 0)
    results = [effectiveness.OfferEffect(offer_id, offers[offer_id].name, redemptions,
                           effectiveness.Effect(treated_by_offer.get(offer_id, empty),
                                  control_by_offer.get(offer_id, empty), int(cost)))
               for offer_id, redemptions, cost in used]
    results.sort(key=lambda item: (-item.redemptions, item.offer_id))
    return results


@pytest.fixture
def club(db):
    seed.seed_reports(db, members=300, purchases=6000, now=NOW, rng_seed=19)
    # Refunds: every 17th purchase in full (it stops counting), every 11th in half.
    ids = db.scalars(select(Purchase.id).order_by(Purchase.id)).all()
    full, half = ids[::17], ids[5::11]
    db.execute(update(Purchase).where(Purchase.id.in_(full))
               .values(refunded_amount_rials=Purchase.amount_rials))
    db.execute(update(Purchase).where(Purchase.id.in_(half), Purchase.id.not_in(full))
               .values(refunded_amount_rials=Purchase.amount_rials / 2))
    db.flush()
    return db


def _filters(db, period):
    branch = db.scalars(select(Branch.id).order_by(Branch.id)).first()
    tier = db.scalars(select(Tier.id).order_by(Tier.rank.desc())).first()
    return [Filters(period), Filters(period, branch_id=branch), Filters(period, tier_id=tier),
            Filters(period, branch_id=branch, tier_id=tier)]


@pytest.mark.parametrize("plan", ["sqlite", "postgresql"])
def test_cohorts_equal_the_old_query(club, plan):
    """Both plans of trends._cohort_activity, on whichever database runs the test."""
    period = periods.Period(date(2025, 11, 22), date(2026, 11, 24))
    filters_list = _filters(club, period)
    seen = 0
    for filters in filters_list:
        months = periods.buckets(filters.period, "month")[-trends.MAX_COHORT_MONTHS:]
        new = sorted(tuple(row) for row in club.execute(
            trends._cohort_activity(months, filters, plan)).all())
        old = sorted(tuple(row) for row in old_cohort_activity(club, months, filters))
        assert new == old
        seen += len(new)
    assert seen > 50  # the dataset has cohorts that come back in later months


def test_offer_effects_equal_the_old_queries(club):
    # Aban 1405 and Mehr before it are 30 days each: the first period reads
    # member_month_sales (migration 0024), the second the purchases.
    aban = periods.Period(date(2026, 10, 23), date(2026, 11, 21))
    assert effectiveness.summaries.is_whole_month(aban)
    assert periods.previous(aban).days == aban.days
    compared = 0
    for first, last in ((date(2026, 10, 23), date(2026, 11, 21)),
                        (date(2026, 8, 1), date(2026, 10, 31))):
        for filters in _filters(club, periods.Period(first, last)):
            new = effectiveness.offer_effects(club, filters)
            assert new == old_offer_effects(club, filters)
            compared += sum(1 for item in new if item.effect.control.members)
    assert compared > 3  # offers were redeemed and had comparison members


def test_kpis_from_the_monthly_summary_equal_the_kpis_from_purchases(club, monkeypatch):
    """kpis._values reads member_month_sales for whole Jalali months (migration 0024);
    forced onto the purchases it must answer the same, under every filter."""
    from backend.services.reports import kpis, summaries

    aban = periods.Period(date(2026, 10, 23), date(2026, 11, 21))
    assert summaries.is_whole_month(aban)
    assert summaries.summary_member_months(club) == summaries.raw_member_months(club)
    targets = [periods.previous(aban), aban]
    for filters in _filters(club, aban):
        from_summary = kpis._values(club, filters, targets)
        with monkeypatch.context() as patched:
            patched.setattr(summaries, "is_whole_month", lambda period: False)
            from_purchases = kpis._values(club, filters, targets)
        assert from_summary == from_purchases, filters
        assert from_summary[1]["active_members"] > 0


def test_tiers_and_visit_frequency_from_the_summary_equal_those_from_purchases(
        club, monkeypatch):
    """lists.tiers and trends.visit_frequency read member_month_sales for a whole Jalali
    month; forced onto the purchases they answer the same, under every filter."""
    from backend.services.reports import lists, summaries

    aban = periods.Period(date(2026, 10, 23), date(2026, 11, 21))
    for filters in _filters(club, aban):
        from_summary = (lists.tiers(club, filters).rows,
                        trends.visit_frequency(club, filters).rows)
        with monkeypatch.context() as patched:
            patched.setattr(summaries, "is_whole_month", lambda period: False)
            from_purchases = (lists.tiers(club, filters).rows,
                              trends.visit_frequency(club, filters).rows)
        assert from_summary == from_purchases, filters
        assert sum(row["active"] for row in from_summary[0]) > 0
