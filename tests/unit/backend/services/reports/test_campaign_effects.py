"""Campaign effectiveness on the paper club (conftest.py), by hand.

A campaign sent at the start of Aban 1405 (00:00 Tehran) to six of the twelve members,
with the other six held out. Windows: the 30 days of Mehr before, the 30 days of Aban
after. Sales net of refunds, per member (before → after = change):

    recipients                             hold-out
    m1  1,000,000 → 4,000,000   +3,000,000   m3   1,000,000 → 0            −1,000,000
    m2  2,000,000 → 2,000,000            0   m4   4,000,000 → 0            −4,000,000
    m5          0 → 3,000,000   +3,000,000   m8           0 → 0 (Shahrivar    0
    m6          0 →   600,000     +600,000            is before the window)
    m7          0 → 0                    0   m10  1,000,000 → 1,500,000      +500,000
    m9  1,000,000 → 0 (refunded  −1,000,000   m11    800,000 →   700,000     −100,000
                    in full)                  m12          0 → 0                    0
    sum 4,000,000 → 9,600,000   +5,600,000   sum  6,800,000 → 2,200,000  −4,600,000
"""

import math
from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.models import Campaign, CampaignRecipient, Message, Offer, OfferRedemption, Purchase
from backend.services.reports import REPORTS, build, campaign_effects, periods
from backend.services.reports.effectiveness import Effect, GroupOutcome
from backend.services.reports.sql import Filters
from tests.unit.backend.services.reports.conftest import noon

ABAN = periods.month_of(noon("1405/08/15").date())
AFTER_ABAN = noon("1405/09/05")
RECIPIENTS = ("m1", "m2", "m5", "m6", "m7", "m9")
HOLD_OUT = ("m3", "m4", "m8", "m10", "m11", "m12")


def purchase_of(paper, name, jalali_day):
    return paper.db.scalars(select(Purchase).where(
        Purchase.member_id == paper.members[name].id,
        Purchase.created_at == noon(jalali_day))).one()


@pytest.fixture
def campaign(paper):
    db = paper.db
    offer = Offer(name="Autumn", reward_kind="percent_discount", reward_value=1000)
    db.add(offer)
    db.flush()
    row = Campaign(name="Autumn", body="…", offer_id=offer.id, sent_at=ABAN.start,
                   created_at=ABAN.start, eligible_count=12, recipient_count=6,
                   held_out_count=6, sms_parts=12, sms_part_price_rials=1_500)
    db.add(row)
    db.flush()
    for name in RECIPIENTS:
        member = paper.members[name]
        # Two parts each; m7's message failed (not charged).
        message = Message(kind="campaign", category="promotional", member_id=member.id,
                          campaign_id=row.id, recipient=member.mobile, body="…", parts=2,
                          status="failed" if name == "m7" else "delivered",
                          created_at=ABAN.start)
        db.add(message)
        db.flush()
        db.add(CampaignRecipient(campaign_id=row.id, member_id=member.id, held_out=False,
                                 message_id=message.id))
    for name in HOLD_OUT:
        db.add(CampaignRecipient(campaign_id=row.id, member_id=paper.members[name].id,
                                 held_out=True))
    # Rewards of the linked offer: m5 on 4 Aban (100,000 discount) and m1 on 20 Aban
    # (20,000 credit + 100 points × 100 rials) count; m10 is held out and m2's is before
    # the send: neither counts.
    for name, day, fields in (("m5", "1405/08/04", {"discount_rials": 100_000}),
                              ("m1", "1405/08/20", {"credit_rials": 20_000, "points": 100}),
                              ("m10", "1405/08/06", {"discount_rials": 50_000}),
                              ("m2", "1405/07/06", {"discount_rials": 70_000})):
        purchase = purchase_of(paper, name, day)
        db.add(OfferRedemption(offer_id=offer.id, member_id=purchase.member_id,
                               purchase_id=purchase.id, created_at=purchase.created_at,
                               **fields))
    db.commit()
    return row


def test_a_campaign_against_its_hold_out(paper, campaign):
    result = campaign_effects.measure(paper.db, campaign, AFTER_ABAN)
    effect = result.effect
    assert (result.window_days, result.complete) == (30, True)
    assert (effect.treated.members, effect.control.members) == (6, 6)
    assert (effect.treated.sales_before_rials, effect.treated.sales_after_rials) == (
        4_000_000, 9_600_000)
    assert (effect.control.sales_before_rials, effect.control.sales_after_rials) == (
        6_800_000, 2_200_000)
    # Bought in Aban: m1, m2, m5, m6 of the recipients; m10, m11 of the hold-out.
    assert (effect.treated.buyers_after, effect.control.buyers_after) == (4, 2)
    # Per member: 5,600,000 / 6 − (−4,600,000 / 6) = 10,200,000 / 6 = 1,700,000; in all,
    # × 6 recipients = 10,200,000.
    assert effect.incremental_per_member_rials == pytest.approx(1_700_000)
    assert effect.incremental_sales_rials == 10_200_000
    # Cost: 5 charged messages × 2 parts × 1,500 = 15,000 for SMS; offer rewards
    # 100,000 + 20,000 + 100 × 100 = 130,000. ROI (10,200,000 − 145,000) / 145,000.
    assert result.cost == campaign_effects.CampaignCost(10, 15_000, 130_000)
    assert effect.cost_rials == 145_000
    assert effect.roi == pytest.approx(10_055_000 / 145_000)  # 69.34…
    # Spread: Σ change² = 9 + 9 + 0.36 + 1 = 19.36 (×10¹²) for the recipients,
    # 1 + 16 + 0.25 + 0.01 = 17.26 for the hold-out. Variances (Σd² − (Σd)²/n) / (n − 1):
    # (19.36 − 5.6²/6) / 5 = 2.82667 and (17.26 − 4.6²/6) / 5 = 2.74667 (×10¹²).
    assert effect.treated.change_variance == pytest.approx(2.826_666_667e12)
    assert effect.control.change_variance == pytest.approx(2.746_666_667e12)
    # Margin 1.96 × √(2.82667/6 + 2.74667/6) × 10⁶ = 1.96 × 963,789 = 1,889,026: the
    # 1,700,000 is inside it, and six a side is too few to say anything firmer anyway.
    assert effect.margin_per_member_rials == pytest.approx(
        1.96 * math.sqrt(27.866_666_667e12 / 30))
    assert round(effect.margin_per_member_rials) == 1_889_026
    assert result.verdict == "too_few"


def test_a_young_campaign_is_measured_over_the_days_so_far(paper, campaign):
    result = campaign_effects.measure(paper.db, campaign,
                                      ABAN.start + timedelta(days=10, hours=12))
    effect = result.effect
    # 10 days each side: 21–30 Mehr had no purchase (m3's was on the 20th); 1–10 Aban:
    # recipients m1 1,000,000 + m2 2,000,000 + m5 1,000,000 (m9's was refunded in full),
    # hold-out m10 1,500,000 + m11 700,000.
    assert (result.window_days, result.complete) == (10, False)
    assert (effect.treated.sales_before_rials, effect.treated.sales_after_rials) == (
        0, 4_000_000)
    assert (effect.control.sales_before_rials, effect.control.sales_after_rials) == (
        0, 2_200_000)
    # (4,000,000 − 2,200,000) / 6 = 300,000 per recipient; × 6 = 1,800,000.
    assert effect.incremental_sales_rials == 1_800_000
    # m1's reward on 20 Aban is after these 10 days: cost 15,000 + 100,000.
    assert result.cost.total_rials == 115_000


def test_tier_and_branch_narrow_both_groups(paper, campaign):
    result = campaign_effects.measure(paper.db, campaign, AFTER_ABAN,
                                      tier_id=paper.tier_b.id)
    effect = result.effect
    # Tier B: m5 received it; m4, m8, m10 were held out.
    assert (effect.treated.members, effect.control.members) == (1, 3)
    # 3,000,000 − (−4,000,000 + 0 + 500,000) / 3 = 3,000,000 + 1,166,666.67.
    assert effect.incremental_sales_rials == 4_166_667
    # m5's message (2 parts × 1,500) and m5's reward (100,000).
    assert result.cost == campaign_effects.CampaignCost(2, 3_000, 100_000)
    assert effect.margin_per_member_rials is None  # one recipient: no spread to measure
    nobody = campaign_effects.measure(paper.db, campaign, AFTER_ABAN,
                                      branch_id=paper.branch_y.id)  # all live at X
    assert (nobody.effect.treated.members, nobody.effect.control.members) == (0, 0)
    assert nobody.verdict == "no_hold_out" and nobody.effect.roi is None


def test_the_report_lists_campaigns_sent_in_the_period(paper, campaign):
    later = Campaign(name="Winter", body="…", sent_at=AFTER_ABAN, created_at=AFTER_ABAN)
    paper.db.add(later)
    paper.db.commit()
    report = REPORTS["campaigns"]
    [table] = build(paper.db, report, Filters(ABAN, now=AFTER_ABAN + timedelta(days=1)))
    [row] = table.rows  # Winter was sent after Aban
    assert (row["campaign"], row["recipients"], row["held_out"], row["days"]) == (
        "Autumn", 6, 6, 30)
    assert (row["treated_change"], row["control_change"]) == (933_333, -766_667)
    assert (row["per_member"], row["margin"], row["incremental"]) == (
        1_700_000, 1_889_026, 10_200_000)
    assert (row["cost"], row["roi"]) == (145_000, pytest.approx(69.3448, abs=1e-4))
    assert row["note"] == campaign_effects.VERDICTS["too_few"]


def outcome(members, before, after, squares):
    return GroupOutcome(members, 0, before, after, squares)


@pytest.mark.parametrize(("treated_after", "verdict"), [(4_000_000, "unclear"),
                                                        (8_000_000, "clear")])
def test_how_sure_with_groups_large_enough(treated_after, verdict):
    # 40 held out, half of them up by 200,000, half unchanged: mean 100,000, variance
    # (20 × 200,000² − 4,000,000² / 40) / 39 = 1.0256e10.
    control = outcome(40, 0, 4_000_000, 20 * 200_000 ** 2)
    if treated_after == 4_000_000:
        # Recipients just like them: 0 per member, inside 1.96 × √(2 × 1.0256e10 / 40)
        # = 44,386.
        treated = outcome(40, 0, 4_000_000, 20 * 200_000 ** 2)
    else:
        # Every recipient up by 200,000 (variance 0): 100,000 per member beyond
        # 1.96 × √(1.0256e10 / 40) = 31,385.
        treated = outcome(40, 0, 8_000_000, 40 * 200_000 ** 2)
    effect = Effect(treated, control, 1_000)
    assert round(effect.margin_per_member_rials) == (44_385 if treated_after == 4_000_000
                                                     else 31_385)
    result = campaign_effects.CampaignEffect(1, "x", AFTER_ABAN, 30, True, effect,
                                             campaign_effects.CampaignCost(0, 0, 1_000))
    assert result.verdict == verdict
