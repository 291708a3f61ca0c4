"""Offer and campaign effectiveness on the paper club (conftest.py), by hand."""

import pytest
from sqlalchemy import select

from backend.models import Member, Offer, OfferRedemption, Purchase
from backend.services.reports import effectiveness, kpis, periods
from backend.services.reports.sql import Filters
from tests.unit.backend.services.reports.conftest import noon

ABAN = periods.month_of(noon("1405/08/15").date())  # 30 days; Mehr before it is 30 too


def ids(paper, *names):
    return [paper.members[name].id for name in names]


@pytest.mark.parametrize("as_select", [False, True])
def test_campaign_measure_with_a_hold_out(paper, as_select):
    treated, hold_out = ids(paper, "m1", "m5"), ids(paper, "m2", "m3")
    if as_select:  # how the campaign side passes its recipient rows
        treated = select(Member.id).where(Member.id.in_(treated))
        hold_out = select(Member.id).where(Member.id.in_(hold_out))
    effect = effectiveness.measure_effect(
        paper.db, treated=treated, exposed_at=ABAN.start, control=hold_out, window_days=30,
        cost_rials=1_000_000)
    # Treated: m1 1,000,000 in Mehr → 4,000,000 in Aban; m5 0 → 3,000,000.
    # Change per member (3,000,000 + 3,000,000) / 2 = 3,000,000.
    assert (effect.treated.members, effect.treated.buyers_after) == (2, 2)
    assert (effect.treated.sales_before_rials, effect.treated.sales_after_rials) == (
        1_000_000, 7_000_000)
    # Hold-out: m2 2,000,000 → 2,000,000; m3 1,000,000 → 0. (−1,000,000) / 2 = −500,000.
    assert effect.control.change_per_member == -500_000
    assert effect.control.buyers_after == 1
    # Incremental (3,000,000 − (−500,000)) × 2 = 7,000,000; ROI (7,000,000 − 1,000,000)
    # / 1,000,000 = 6.
    assert effect.incremental_sales_rials == 7_000_000
    assert effect.roi == pytest.approx(6.0)


def test_offer_effectiveness(paper):
    offer = Offer(name="Third visit", reward_kind="percent_discount", reward_value=1000)
    paper.db.add(offer)
    paper.db.flush()
    first_of_m5 = paper.db.scalars(select(Purchase).where(
        Purchase.member_id == paper.members["m5"].id).order_by(Purchase.created_at)).first()
    paper.db.add(OfferRedemption(offer_id=offer.id, member_id=first_of_m5.member_id,
                                 purchase_id=first_of_m5.id, discount_rials=100_000,
                                 created_at=first_of_m5.created_at))
    paper.db.commit()
    [result] = effectiveness.offer_effects(paper.db, Filters(ABAN))
    effect = result.effect
    # Treated: m5, 0 in Mehr → 3,000,000 in Aban.
    assert (result.redemptions, effect.treated.members) == (1, 1)
    assert effect.treated.change_per_member == 3_000_000
    # Comparison: the others who bought in Aban: m1, m2, m6, m10, m11.
    # Mehr 1,000,000 + 2,000,000 + 0 + 1,000,000 + 800,000 = 4,800,000;
    # Aban 4,000,000 + 2,000,000 + 600,000 + 1,500,000 + 700,000 = 8,800,000.
    # (8,800,000 − 4,800,000) / 5 = 800,000 per member.
    assert effect.control.members == 5
    assert effect.control.change_per_member == 800_000
    # Incremental (3,000,000 − 800,000) × 1 = 2,200,000; cost = the 100,000 discount;
    # ROI (2,200,000 − 100,000) / 100,000 = 21.
    assert effect.incremental_sales_rials == 2_200_000
    assert effect.cost_rials == 100_000
    assert effect.roi == pytest.approx(21)
    row = kpis.offers_table(paper.db, Filters(ABAN)).rows[0]
    assert (row["offer"], row["incremental"], row["roi"]) == ("Third visit", 2_200_000,
                                                              pytest.approx(21))


def test_no_cost_means_no_roi(paper):
    effect = effectiveness.measure_effect(paper.db, treated=ids(paper, "m1"),
                                          exposed_at=ABAN.start, control=[], window_days=30,
                                          cost_rials=0)
    assert effect.control.members == 0
    assert effect.incremental_sales_rials is None and effect.roi is None
