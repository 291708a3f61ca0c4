"""LRFM quintiles at their edges (ties, fewer than five members), segments and the nightly
segment rules."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.models import MemberScore, SegmentAudienceMember, SegmentRule, TierChange
from backend.services.reports import lrfm, segments
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW
from tests.unit.backend.services.reports.conftest import record_purchase


@pytest.fixture
def shop(db):
    factories.club(db)
    return {"branch": factories.branch(db), "tier": factories.tier(db, rank=1),
            "gold": factories.tier(db, code="gold-test", rank=3)}


def buyers(db, shop, purchase_counts, *, days_ago=10, amount=100_000):
    """One member per count, each with that many purchases `days_ago` days ago."""
    made = []
    for count in purchase_counts:
        member = factories.member(db, tier_id=shop["tier"].id,
                                  joined_at=NOW - timedelta(days=400))
        for number in range(count):
            record_purchase(db, member, NOW - timedelta(days=days_ago, minutes=number), amount,
                            shop["branch"].id)
        made.append(member)
    db.commit()
    return made


def scores(db, members, name):
    rows = {row.member_id: row for row in db.scalars(select(MemberScore))}
    return [getattr(rows[member.id], f"{name}_score") for member in members]


def test_ten_distinct_values_make_exact_quintiles(db, shop):
    members = buyers(db, shop, range(1, 11))
    lrfm.recompute(db, NOW)
    # Position p = (below + ½) / 10 → 0.05, 0.15, …, 0.95; score = 1 + floor(5p).
    assert scores(db, members, "frequency") == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # Spend is 100,000 × purchases: the same order.
    assert scores(db, members, "monetary") == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_ties_share_the_middle_of_their_group(db, shop):
    members = buyers(db, shop, [1, 1, 1, 5])
    lrfm.recompute(db, NOW)
    # The three tied: below 0, equal 3 → p = 1.5 / 4 = 0.375 → 1 + floor(1.875) = 2.
    # The fourth: below 3, equal 1 → p = 3.5 / 4 = 0.875 → 1 + floor(4.375) = 5.
    assert scores(db, members, "frequency") == [2, 2, 2, 5]
    # All bought on the same day: everybody ties on recency and length → the middle, 3.
    assert scores(db, members, "recency") == [3, 3, 3, 3]
    assert scores(db, members, "length") == [3, 3, 3, 3]


@pytest.mark.parametrize(("counts", "expected"), [
    ([4], [3]),            # one member: p = 0.5 → 3
    ([1, 2], [2, 4]),      # p = 0.25 and 0.75
    ([1, 2, 3], [1, 3, 5]),  # p = 1/6, 1/2, 5/6 → 1 + floor(0.83, 2.5, 4.17)
    ([2, 2, 2], [3, 3, 3]),  # all equal
])
def test_fewer_than_five_members(db, shop, counts, expected):
    members = buyers(db, shop, counts)
    lrfm.recompute(db, NOW)
    assert scores(db, members, "frequency") == expected


def test_the_most_recent_buyer_scores_highest_on_recency(db, shop):
    old = buyers(db, shop, [1], days_ago=200)
    recent = buyers(db, shop, [1], days_ago=3)
    lrfm.recompute(db, NOW)
    assert scores(db, old + recent, "recency") == [2, 4]
    row = db.get(MemberScore, recent[0].id)
    assert (row.recency_days, row.length_days, row.frequency) == (3, 0, 1)


def test_segments(db, shop):
    never = factories.member(db, tier_id=shop["tier"].id)
    # Ten buyers, 1…10 purchases 60 days ago (nobody is new), the biggest also recently.
    members = buyers(db, shop, range(1, 11), days_ago=60)
    record_purchase(db, members[-1], NOW - timedelta(days=1), 100_000, shop["branch"].id)
    newcomer = buyers(db, shop, [1], days_ago=5)[0]
    buyers(db, shop, [1] * 8, days_ago=2)  # more recent buyers: 19 scored in all
    lrfm.recompute(db, NOW)
    by_member = {row.member_id: row for row in db.scalars(select(MemberScore))}
    assert by_member[never.id].segment == "no_purchase"
    assert by_member[never.id].recency_score is None
    assert by_member[newcomer.id].segment == "new"
    # Member 10: most purchases, most spend, came yesterday → R 5, F 5, M 5.
    assert by_member[members[-1].id].segment == "champions"
    # Member 9: nine purchases, 60 days ago like members 1…8. Recency: those nine tie
    # with nobody older → p = 4.5 / 19 → R 2. Frequency: ten members bought once, seven
    # bought 2…8 times → p = 17.5 / 19 → F 5, and M 5 alike: valuable and slipping away.
    assert by_member[members[-2].id].recency_score == 2
    assert by_member[members[-2].id].segment == "at_risk"
    # Member 1: R 2, and one purchase like nine others → p = 5 / 19 → F 2, M 2.
    assert by_member[members[0].id].segment == "needs_attention"


def test_rules_move_members_once_a_day_with_a_reason(db, shop):
    never = [factories.member(db, tier_id=shop["tier"].id) for _ in range(2)]
    buyers(db, shop, [3])
    rule = segments.create_rule(db, name="Wake up", segment="no_purchase", action="move_tier",
                                tier_id=shop["gold"].id, actor=SYSTEM)
    first = segments.nightly(db, NOW)
    assert first.rules[0].members_changed == 2
    changes = db.scalars(select(TierChange).where(TierChange.to_tier_id == shop["gold"].id)).all()
    assert sorted(change.member_id for change in changes) == sorted(m.id for m in never)
    assert changes[0].reason == f"segment no_purchase: rule {rule.id} (Wake up)"
    assert changes[0].from_tier_id == shop["tier"].id
    db.expire_all()
    assert {db.get(type(never[0]), m.id).tier_id for m in never} == {shop["gold"].id}
    # Same day again: nothing more.
    again = segments.nightly(db, NOW + timedelta(hours=1))
    assert again.rules[0].skipped
    # Next day: they are still in the segment but did not just enter it.
    following = segments.nightly(db, NOW + timedelta(days=1))
    assert following.rules[0].members_changed == 0
    assert len(db.scalars(select(TierChange)).all()) == 2


def test_audience_rules_follow_their_segment(db, shop):
    never = [factories.member(db, tier_id=shop["tier"].id) for _ in range(2)]
    rule = segments.create_rule(db, name="Never bought", segment="no_purchase",
                                action="audience", tier_id=None, actor=SYSTEM)
    segments.nightly(db, NOW)
    listed = db.scalars(select(SegmentAudienceMember.member_id)
                        .where(SegmentAudienceMember.rule_id == rule.id)).all()
    assert sorted(listed) == sorted(m.id for m in never)
    record_purchase(db, never[0], NOW + timedelta(hours=2), 100_000, shop["branch"].id)
    segments.nightly(db, NOW + timedelta(days=1))
    listed = db.scalars(select(SegmentAudienceMember.member_id)
                        .where(SegmentAudienceMember.rule_id == rule.id)).all()
    assert listed == [never[1].id]


def test_bad_rules_are_refused(db, shop):
    from backend.errors import BadRequest

    with pytest.raises(BadRequest):
        segments.create_rule(db, name="x", segment="vip", action="audience", tier_id=None,
                             actor=SYSTEM)
    with pytest.raises(BadRequest):
        segments.create_rule(db, name="x", segment="lost", action="move_tier", tier_id=None,
                             actor=SYSTEM)
    with pytest.raises(BadRequest):
        segments.create_rule(db, name=" ", segment="lost", action="audience", tier_id=None,
                             actor=SYSTEM)
    assert db.scalars(select(SegmentRule)).all() == []
