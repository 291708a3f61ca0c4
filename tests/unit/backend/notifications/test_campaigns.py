"""Campaigns: segment counts, cost preview, the hold-out group recorded per member,
the quota refusing a campaign whole, and delivered/failed counts after sending."""

import random
from datetime import timedelta

import jdatetime
import pytest
from sqlalchemy import func, select

from backend.errors import BadRequest
from backend.models import (
    AuditLog,
    Campaign,
    CampaignRecipient,
    Member,
    MemberScore,
    Message,
    Offer,
    SegmentAudienceMember,
    SegmentRule,
)
from backend.notifications import campaigns, dispatcher, providers
from backend.notifications.campaigns import Segment
from backend.unit_of_work import SYSTEM, Actor
from tests import factories
from tests.conftest import NOW
from tests.unit.backend.notifications.conftest import message_settings


@pytest.fixture
def world(db):
    factories.club(db, name_fa="باشگاه وفا")
    bronze = factories.tier(db, code="bronze", name="bronze", name_fa="برنزی", rank=1)
    gold = factories.tier(db, code="gold", name="gold", name_fa="طلایی", rank=3)
    north, south = factories.branch(db), factories.branch(db)
    people = {
        "regular": factories.member(db, tier_id=gold.id, home_branch_id=north.id,
                                    last_visit_at=NOW - timedelta(days=3),
                                    total_spend_rials=9_000_000, purchase_count=12,
                                    birth_date=jdatetime.date(1370, 1, 5).togregorian(),
                                    email="regular@example.com"),
        "lapsed": factories.member(db, tier_id=bronze.id, home_branch_id=north.id,
                                   last_visit_at=NOW - timedelta(days=90),
                                   total_spend_rials=400_000, purchase_count=2,
                                   birth_date=jdatetime.date(1375, 12, 30).togregorian()),
        "never": factories.member(db, tier_id=bronze.id, home_branch_id=south.id),
        "opted_out": factories.member(db, tier_id=gold.id, home_branch_id=north.id,
                                      promotional_opt_out=True, email="no@example.com"),
        "gift": factories.member(db, tier_id=bronze.id, mobile=None, is_gift_account=True),
    }
    return {"bronze": bronze, "gold": gold, "north": north, "south": south, **people}


def ids(db, segment, channel="sms"):
    return {member.id for member in campaigns.eligible_members(db, segment, channel, NOW)}


def test_segment_criteria(db, world):
    w = world
    everyone = {w["regular"].id, w["lapsed"].id, w["never"].id}
    assert ids(db, Segment()) == everyone  # never the opted-out or a gift account
    assert ids(db, Segment(tier_ids=(w["gold"].id,))) == {w["regular"].id}
    assert ids(db, Segment(branch_id=w["north"].id)) == {w["regular"].id, w["lapsed"].id}
    assert ids(db, Segment(visited_within_days=30)) == {w["regular"].id}
    assert ids(db, Segment(absent_for_days=60)) == {w["lapsed"].id, w["never"].id}
    assert ids(db, Segment(min_spend_rials=1_000_000)) == {w["regular"].id}
    assert ids(db, Segment(max_spend_rials=1_000_000)) == {w["lapsed"].id, w["never"].id}
    assert ids(db, Segment(min_purchases=2)) == {w["regular"].id, w["lapsed"].id}
    assert ids(db, Segment(birthday_month=1)) == {w["regular"].id}   # Farvardin
    assert ids(db, Segment(birthday_month=12)) == {w["lapsed"].id}   # Esfand
    assert ids(db, Segment(birthday_month=12, tier_ids=(w["gold"].id,))) == set()
    assert ids(db, Segment(), channel="email") == {w["regular"].id}
    with pytest.raises(BadRequest):
        ids(db, Segment(birthday_month=13))
    with pytest.raises(BadRequest):
        ids(db, Segment(tier_ids=(999_999,)))


def score(db, member, segment):
    db.add(MemberScore(member_id=member.id, computed_on=NOW.date(), segment=segment))
    db.flush()


def test_lrfm_segments_and_rule_audiences(db, world):
    w = world
    score(db, w["regular"], "champions")
    score(db, w["lapsed"], "at_risk")
    score(db, w["never"], "no_purchase")
    score(db, w["opted_out"], "at_risk")  # still never eligible
    rule = SegmentRule(name="Win back", segment="at_risk", action="audience")
    mover = SegmentRule(name="Demote", segment="lost", action="move_tier",
                        tier_id=w["bronze"].id)
    db.add_all([rule, mover])
    db.flush()
    # The rule's list as the nightly job left it: the lapsed member and the opted-out one.
    db.add_all([SegmentAudienceMember(rule_id=rule.id, member_id=w["lapsed"].id),
                SegmentAudienceMember(rule_id=rule.id, member_id=w["opted_out"].id)])
    db.flush()
    assert ids(db, Segment(lrfm_segments=("at_risk",))) == {w["lapsed"].id}
    assert ids(db, Segment(lrfm_segments=("at_risk", "champions"))) == {
        w["regular"].id, w["lapsed"].id}
    assert ids(db, Segment(lrfm_segments=("lost",))) == set()
    assert ids(db, Segment(audience_rule_id=rule.id)) == {w["lapsed"].id}
    # With the other criteria, all of them must hold.
    assert ids(db, Segment(audience_rule_id=rule.id, tier_ids=(w["gold"].id,))) == set()
    assert ids(db, Segment(lrfm_segments=("champions", "no_purchase"),
                           branch_id=w["north"].id)) == {w["regular"].id}
    result = campaigns.preview(db, segment=Segment(lrfm_segments=("at_risk", "champions")),
                               channel="sms", body="Hi {first_name}", language="en",
                               holdout_percent=50, offer_id=None, now=NOW)
    assert (result.eligible, result.recipients, result.held_out) == (2, 1, 1)
    with pytest.raises(BadRequest) as refused:
        ids(db, Segment(lrfm_segments=("vip",)))
    assert refused.value.field == "lrfm_segments"
    with pytest.raises(BadRequest) as refused:
        ids(db, Segment(audience_rule_id=mover.id))  # moves tiers, keeps no list
    assert refused.value.field == "audience_rule_id"
    segment = Segment(lrfm_segments=("at_risk",), audience_rule_id=rule.id)
    assert segment.as_json() == {"lrfm_segments": ["at_risk"], "audience_rule_id": rule.id}
    assert Segment.from_json(segment.as_json()) == segment


def test_segment_round_trips_as_json():
    segment = Segment(tier_ids=(1, 2), absent_for_days=30, birthday_month=7)
    assert segment.as_json() == {"tier_ids": [1, 2], "absent_for_days": 30,
                                 "birthday_month": 7}
    assert Segment.from_json(segment.as_json()) == segment


def test_preview_counts_and_prices_persian_sms(db, world):
    message_settings(db, sms_quota=500, sms_used=100, sms_promotional_reserve=50,
                     sms_part_price_rials=1_200)
    body = "{first_name} عزیز، " + "تخفیف ویژهٔ پاییز برای اعضای {tier} " * 3
    result = campaigns.preview(db, segment=Segment(), channel="sms", body=body,
                               language="fa", holdout_percent=34, offer_id=None, now=NOW)
    assert (result.eligible, result.recipients, result.held_out) == (3, 2, 1)
    assert result.parts_per_message == 2 and result.total_parts == 4
    assert result.cost_rials == 4 * 1_200 and result.available_parts == 350 and result.fits


def test_send_records_the_hold_out_and_queues_the_rest(db, world):
    for _ in range(17):
        factories.member(db, tier_id=world["bronze"].id)
    offer = Offer(name="جشنواره پاییز", reward_kind="percent_discount", reward_value=1000)
    db.add(offer)
    db.flush()
    campaign = campaigns.send(
        db, name="Autumn", segment=Segment(), channel="sms",
        body="{first_name} عزیز، {offer} آغاز شد. {club}", language="fa", holdout_percent=10,
        offer_id=offer.id, request_key="campaign-key-0001", actor=SYSTEM, now=NOW,
        rng=random.Random(7))
    rows = db.scalars(select(CampaignRecipient).where(
        CampaignRecipient.campaign_id == campaign.id)).all()
    held = [row for row in rows if row.held_out]
    assert (campaign.eligible_count, campaign.recipient_count, campaign.held_out_count) == (
        20, 18, 2)
    assert len(rows) == 20 and len(held) == 2
    assert all(row.message_id is None for row in held)
    messages = db.scalars(select(Message).where(Message.campaign_id == campaign.id)).all()
    assert len(messages) == 18 and {m.category for m in messages} == {"promotional"}
    assert {m.member_id for m in messages} == {row.member_id for row in rows
                                              if not row.held_out}
    assert all(m.body == f"{db.get(Member, m.member_id).first_name} عزیز، "
               "جشنواره پاییز آغاز شد. باشگاه وفا" for m in messages)
    assert campaign.sms_parts == sum(m.parts for m in messages)
    assert campaign.segment == {} and campaign.offer_id == offer.id
    # The same form again sends nothing more.
    again = campaigns.send(db, name="Autumn", segment=Segment(), channel="sms", body="x",
                           language="fa", holdout_percent=10, offer_id=None,
                           request_key="campaign-key-0001", actor=SYSTEM, now=NOW)
    assert again.id == campaign.id
    assert db.scalar(select(func.count()).select_from(Message)) == 18


def test_hold_out_is_random_per_send(db, world):
    for _ in range(37):
        factories.member(db, tier_id=world["bronze"].id)
    chosen = []
    for index in range(2):
        campaign = campaigns.send(db, name=f"C{index}", segment=Segment(), channel="sms",
                                  body="Hi {first_name}", language="en", holdout_percent=25,
                                  offer_id=None, request_key=f"campaign-random-{index:04d}",
                                  actor=SYSTEM, now=NOW)
        chosen.append(set(db.scalars(select(CampaignRecipient.member_id).where(
            CampaignRecipient.campaign_id == campaign.id, CampaignRecipient.held_out))))
    assert len(chosen[0]) == len(chosen[1]) == 10
    assert chosen[0] != chosen[1]  # 1 in C(40,10) ≈ 1e-9 that two draws match


def test_a_campaign_that_does_not_fit_the_quota_is_refused_whole(db, world):
    message_settings(db, sms_quota=12, sms_used=0, sms_promotional_reserve=10)
    with pytest.raises(campaigns.NotEnoughSms) as caught:
        campaigns.send(db, name="Too big", segment=Segment(), channel="sms",
                       body="Hello {first_name}", language="en", holdout_percent=0,
                       offer_id=None, request_key="campaign-too-big-1", actor=SYSTEM,
                       now=NOW)
    db.rollback()
    assert (caught.value.needed, caught.value.left) == (3, 2)
    assert db.scalars(select(Campaign)).all() == []
    assert db.scalars(select(Message)).all() == []


def test_bad_texts_and_empty_segments(db, world):
    with pytest.raises(campaigns.TextRefused) as caught:
        campaigns.preview(db, segment=Segment(), channel="sms", body="{first_name.x}",
                          language="fa", holdout_percent=10, offer_id=None, now=NOW)
    assert caught.value.msgid == "Unknown placeholder %(name)s."
    with pytest.raises(BadRequest, match="No member"):
        campaigns.send(db, name="Nobody", segment=Segment(min_purchases=1000), channel="sms",
                       body="Hi", language="en", holdout_percent=10, offer_id=None,
                       request_key="campaign-nobody-01", actor=SYSTEM, now=NOW)


def test_delivered_and_failed_counts(db, world, tmp_path):
    campaign = campaigns.send(db, name="Counts", segment=Segment(), channel="sms",
                              body="Hi {first_name}", language="en", holdout_percent=0,
                              offer_id=None, request_key="campaign-counts-01",
                              actor=SYSTEM, now=NOW)
    assert campaigns.status_counts(db, campaign.id) == {"queued": 3}
    # One member opts out before the dispatcher gets there.
    world["never"].promotional_opt_out = True
    db.flush()
    console = providers.ConsoleProvider(tmp_path, "sms")
    dispatcher.dispatch_due(db, {"sms": console}, lambda: NOW)
    assert campaigns.status_counts(db, campaign.id) == {"delivered": 2, "cancelled": 1}


def test_email_campaign(db, world, tmp_path):
    campaign = campaigns.send(db, name="News by email", segment=Segment(), channel="email",
                              body="Dear {first_name}, news.", language="en",
                              holdout_percent=0, offer_id=None,
                              request_key="campaign-email-001", actor=SYSTEM, now=NOW)
    [message] = db.scalars(select(Message).where(Message.campaign_id == campaign.id)).all()
    assert (message.channel, message.recipient, message.subject, message.parts) == (
        "email", "regular@example.com", "News by email", 0)
    console = providers.ConsoleProvider(tmp_path, "email")
    dispatcher.dispatch_due(db, {"sms": console, "email": console}, lambda: NOW)
    assert '"subject": "News by email"' in (tmp_path / "email.log").read_text()
    assert dispatcher.settings(db).sms_used == 0


def test_a_refused_campaign_leaves_no_audit_row_a_sent_one_exactly_one(db, world):
    db.commit()  # a refused send rolls its unit of work back: the members must outlive it
    panel = Actor(factories.staff_user(db).id, "10.0.0.9", "panel")
    db.commit()
    with pytest.raises(BadRequest, match="No member"):
        campaigns.send(db, name="Nobody", segment=Segment(min_purchases=1000), channel="sms",
                       body="Hi", language="en", holdout_percent=10, offer_id=None,
                       request_key="campaign-audit-none", actor=panel, now=NOW)
    assert db.scalars(select(AuditLog)).all() == []
    campaigns.send(db, name="Everyone", segment=Segment(), channel="sms", body="Hi",
                   language="en", holdout_percent=0, offer_id=None,
                   request_key="campaign-audit-all", actor=panel, now=NOW)
    [row] = db.scalars(select(AuditLog)).all()
    assert (row.action, row.entity, row.ip, row.details["name"]) == (
        "send_campaign", "campaign", "10.0.0.9", "Everyone")
