"""The demo club: its simulated past writes what the real services write, its tiers are
earned (the nightly job moves nobody, now or for weeks), its ledger adds up, and the
README's simulator example holds."""

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from backend.models import (
    CallTask,
    Campaign,
    CampaignRecipient,
    Card,
    CreditLot,
    Device,
    JobRun,
    LedgerEntry,
    LedgerTransaction,
    Member,
    MemberScore,
    Offer,
    OfferRedemption,
    Purchase,
    SegmentAudienceMember,
    Tier,
    TierChange,
)
from backend.services import counter, demo, demo_history, tiers
from backend.services.demo_history import PlannedMember, PlannedPurchase
from backend.services.reports import campaign_effects
from backend.services.reports.seed import check_ledger
from backend.unit_of_work import SYSTEM
from card_spec import make_card_number
from tests import factories
from tests.conftest import NOW

README = Path(__file__).resolve().parents[4] / "README.md"
# A Tuesday (points count double on Saturdays; NOW is one).
TUESDAY = NOW + timedelta(days=3)


def at(day: str) -> datetime:
    return datetime.fromisoformat(f"{day}T09:00:00+00:00")  # 12:30 in Tehran


# Twins: A's past is simulated, B's goes through the counter service, purchase by
# purchase, with the nightly tier job run when the simulation runs it. Tier window 30
# days: the 3rd purchase makes silver, the 5th gold (5 purchases and 5 million); after
# the 46-day gap the nightly runs move them down to bronze, the 6th purchase gets the
# "back after 10 days" offer. 7 March is a Saturday (double points), 12 and 15 March are in the
# birthday week (bonus points); two purchases spend all the credit they may.
PLAN = [("2026-03-01", 1_000_000, False), ("2026-03-05", 1_200_000, False),
        ("2026-03-07", 1_500_000, False), ("2026-03-12", 2_000_000, True),
        ("2026-03-15", 2_500_000, False), ("2026-04-30", 3_000_000, True),
        ("2026-05-02", 500_000, False)]
TWINS_NOW = datetime(2026, 5, 3, 12, tzinfo=UTC)


@pytest.fixture
def twins(db):
    factories.club(db, tier_window_days=30, referral_commission_bp=100,
                   referral_first_purchase_bonus_rials=30_000, referral_join_bonus_rials=0,
                   weekday_points_percent=[200, 100, 100, 100, 100, 100, 100])
    bronze = factories.tier(db, code="bronze", name="bronze", rank=1, credit_percent_bp=200,
                            discount_percent_bp=0)
    factories.tier(db, code="silver", name="silver", rank=2, min_purchases=3,
                   qualify_mode="any")
    factories.tier(db, code="gold", name="gold", rank=3, credit_percent_bp=800,
                   discount_percent_bp=1000, points_per_step=2, min_spend_rials=5_000_000,
                   min_purchases=5, qualify_mode="all", max_credit_per_invoice_rials=30_000)
    db.add_all([Offer(name="Back after 10 days", reward_kind="percent_discount",
                      reward_value=1000, min_days_since_last_visit=10),
                Offer(name="Birthday", reward_kind="bonus_points", reward_value=50,
                      birthday_window_days=3)])
    branch = factories.branch(db)
    joined = at("2026-02-01")
    people = {}
    for name in ("ra", "a", "rb", "b"):
        people[name] = factories.member(db, first_name=name, tier_id=bronze.id,
                                        home_branch_id=branch.id, joined_at=joined,
                                        birth_date=date(1990, 3, 14))
    people["a"].referrer_id, people["b"].referrer_id = people["ra"].id, people["rb"].id
    db.flush()
    return branch, people


def by_twin(db, model, member, columns, order):
    return [tuple(getattr(row, column) for column in columns) for row in db.scalars(
        select(model).where(model.member_id == member.id).order_by(*order))]


def test_the_simulated_past_is_what_the_services_write(db, twins):
    branch, people = twins
    a, b = people["a"], people["b"]
    window = timedelta(days=30)
    nightly_runs = sorted({demo_history.nightly_after(at(day) + window) for day, _, _ in PLAN}
                          | {TWINS_NOW})
    for day, amount, use_credit in PLAN:
        for moment in [run for run in nightly_runs if run < at(day)]:
            tiers.evaluate_all(db, moment)
            nightly_runs.remove(moment)
        counter.record_purchase(db, actor=SYSTEM,
                                member_id=b.id, branch_id=branch.id, amount_rials=amount,
                                use_credit_rials=-1 if use_credit else 0,
                                request_key=f"twin-purchase-{day}-000", now=at(day))
    for moment in nightly_runs:  # the rest, up to the nightly run `now` stands for
        tiers.evaluate_all(db, moment)
    plans = [PlannedMember(people["ra"], 0),
             PlannedMember(a, 0, [PlannedPurchase(at(day), amount, branch.id, use_credit)
                                  for day, amount, use_credit in PLAN])]
    result = demo_history.write_history(db, plans, {a.id: a.cards[0].id,
                                                    people["ra"].id: people["ra"].cards[0].id},
                                        TWINS_NOW)
    db.expire_all()
    assert result.purchases == 7
    purchase_columns = ("created_at", "branch_id", "amount_rials", "discount_rials",
                        "credit_used_rials", "payable_rials", "credit_earned_rials",
                        "points_earned", "commission_rials")
    assert by_twin(db, Purchase, a, purchase_columns, [Purchase.created_at]) == \
        by_twin(db, Purchase, b, purchase_columns, [Purchase.created_at])
    changes = ("created_at", "from_tier_id", "to_tier_id", "reason")
    simulated = by_twin(db, TierChange, a, changes, [TierChange.created_at])
    assert simulated == by_twin(db, TierChange, b, changes, [TierChange.created_at])
    # Up at the 3rd and 5th purchases, down twice at nightly runs.
    codes = {tier.id: tier.code for tier in db.scalars(select(Tier))}
    assert [(codes[row[1]], codes[row[2]]) for row in simulated] == [
        ("bronze", "silver"), ("silver", "gold"), ("gold", "silver"), ("silver", "bronze")]
    entries = ("created_at", "account", "amount")
    for simulated_member, serviced_member in ((a, b), (people["ra"], people["rb"])):
        assert by_twin(db, LedgerEntry, simulated_member, entries,
                       [LedgerEntry.created_at, LedgerEntry.account, LedgerEntry.amount]) == \
            by_twin(db, LedgerEntry, serviced_member, entries,
                    [LedgerEntry.created_at, LedgerEntry.account, LedgerEntry.amount])
        assert by_twin(db, CreditLot, simulated_member, ("amount_rials", "remaining_rials"),
                       [CreditLot.id]) == by_twin(db, CreditLot, serviced_member,
                                                  ("amount_rials", "remaining_rials"),
                                                  [CreditLot.id])
        cached = ("tier_id", "credit_balance_rials", "points_balance", "total_spend_rials",
                  "purchase_count", "last_visit_at")
        assert [getattr(db.get(Member, simulated_member.id), name) for name in cached] == \
            [getattr(db.get(Member, serviced_member.id), name) for name in cached]
    redemptions = ("created_at", "discount_rials", "points", "credit_rials")
    assert by_twin(db, OfferRedemption, a, redemptions, [OfferRedemption.created_at]) == \
        by_twin(db, OfferRedemption, b, redemptions, [OfferRedemption.created_at])
    # Birthday points on 12 and 15 March, 10 % off after the gap.
    assert len(by_twin(db, OfferRedemption, a, redemptions, [OfferRedemption.id])) == 3
    assert check_ledger(db) == 0


def test_the_demo_is_consistent_from_day_one(db):
    result = demo.seed_demo(db, NOW)
    assert check_ledger(db) == 0
    assert result.purchases > 900
    members = db.scalars(select(Member)).all()
    by_tier = {code: sum(member.tier.code == code for member in members)
               for code in ("bronze", "silver", "gold")}
    assert all(count >= 5 for count in by_tier.values()), by_tier
    # The nightly job moves nobody tonight, nor after 45 days without a purchase.
    assert tiers.evaluate_all(db, NOW + timedelta(hours=12)) == []
    assert tiers.evaluate_all(db, NOW + timedelta(days=demo.TIER_MARGIN_DAYS)) == []
    assert db.scalars(select(JobRun)).all() == []  # nothing marked done to hide a move
    gold = db.scalars(select(Tier).where(Tier.code == "gold")).one()
    for member in members:
        assert member.purchase_count == db.scalar(select(func.count(Purchase.id)).where(
            Purchase.member_id == member.id))
        if member.tier_id == gold.id:  # earned: 200 million and 20 purchases in the year
            spend, count = tiers.window_totals(db, member.id, NOW, 365)
            assert spend >= 200_000_000 and count >= 20
    # Months of visits for the reports and LRFM; today's purchases with their calls.
    first = db.scalar(select(func.min(Purchase.created_at)))
    assert NOW - first > timedelta(days=300)
    assert {row.segment for row in db.scalars(select(MemberScore))} >= {
        "champions", "at_risk", "lost", "no_purchase"}
    assert db.scalar(select(func.count()).select_from(SegmentAudienceMember)) > 0
    assert db.scalar(select(func.count()).select_from(CallTask)) == db.scalar(
        select(func.count(Purchase.id)).where(Purchase.created_at > NOW - timedelta(days=1)))
    referred = db.scalar(select(func.count(Member.id)).where(Member.referrer_id.is_not(None)))
    assert referred and db.scalar(select(func.count(LedgerTransaction.id)).where(
        LedgerTransaction.kind == "referral", LedgerTransaction.idempotency_key.like(
            "referral-join:%"))) == referred
    # The autumn campaign: a hold-out, delivered messages, its offer's rewards measured.
    campaign = db.scalars(select(Campaign)).one()
    held = db.scalar(select(func.count()).select_from(CampaignRecipient).where(
        CampaignRecipient.held_out))
    assert held == campaign.held_out_count > 10
    assert campaign.sms_parts == campaign.recipient_count  # one part each
    # Everyone it reached or held out had not been seen for the two weeks before it.
    absent = campaign.sent_at - timedelta(days=campaign.segment["absent_for_days"])
    assert not db.scalar(select(func.count(Purchase.id)).where(
        Purchase.member_id.in_(select(CampaignRecipient.member_id)),
        Purchase.created_at >= absent, Purchase.created_at < campaign.sent_at))
    effect = campaign_effects.measure(db, campaign, NOW)
    assert effect.complete and effect.cost.sms_parts == campaign.sms_parts
    assert effect.cost.offer_rials > 0 and effect.effect.margin_per_member_rials > 0
    assert effect.effect.incremental_sales_rials > 0 and effect.verdict == "too_few"


def readme_example() -> dict:
    section = README.read_text(encoding="utf-8").split("### 2.", 1)[1].split("### 3.", 1)[0]
    display = section.split("[display]", 1)[1].split("[receipt]", 1)[0]
    return {name: int(value.replace(",", "")) for name, value in
            re.findall(r"^(Credit|Points|Pay): ([\d,]+)$", display, re.MULTILINE)} | {
        "tier": re.search(r"^Tier: (\w+)$", display, re.MULTILINE).group(1)}


def test_the_readme_purchase_example_holds(db):
    """README.md section 2: Sara A. buys for 250,000 on a weekday right after `make run`.
    Her past (demo.SARA_PURCHASES): nine purchases as bronze (2 % credit, no discount),
    19,900,000 in all, and a tenth of 1,650,000 that makes her silver: 2 % of 21,550,000
    = 431,000 credit and 2,155 points; then 3,400,000 and 2,300,000 at silver (5 % off,
    5 % of the payable back): 161,500 + 109,250 credit and 340 + 230 points. With the
    50,000 welcome: 751,750 credit and 2,725 points. This purchase: 12,500 off, 237,500
    to pay, 11,875 credit and 25 points."""
    demo.seed_demo(db, TUESDAY)
    sara = db.scalars(select(Member).join(Card).where(
        Card.number == make_card_number(demo.DEMO_PREFIX, 1))).one()  # the README's card
    assert (sara.first_name, sara.tier.code) == ("سارا", "silver")
    assert (sara.credit_balance_rials, sara.points_balance) == (751_750, 2_725)
    result = counter.record_purchase(db, actor=SYSTEM,
                                     member_id=sara.id, branch_id=sara.home_branch_id,
                                     amount_rials=250_000, use_credit_rials=0,
                                     request_key="readme-example-purchase-01", now=TUESDAY)
    db.refresh(sara)
    assert readme_example() == {"tier": sara.tier.code, "Credit": sara.credit_balance_rials,
                                "Points": sara.points_balance,
                                "Pay": result.purchase.payable_rials}
    assert (sara.credit_balance_rials, sara.points_balance) == (763_625, 2_750)


def test_the_demo_has_cheques_and_a_plan_that_add_up(db):
    """L13: an overdue, a due-soon, a bounced and a cleared cheque, and Sara's six
    monthly instalments of 3,000,000 rials, each with its history."""
    from backend.models import InstalmentPlan, InstrumentEvent, PaymentInstrument
    from backend.services import instruments

    demo.seed_demo(db, NOW)
    cheques = db.scalars(select(PaymentInstrument).where(
        PaymentInstrument.kind == "cheque").order_by(PaymentInstrument.id)).all()
    assert [row.status for row in cheques] == ["pending", "pending", "bounced", "cleared"]
    [plan] = db.scalars(select(InstalmentPlan)).all()
    parts = db.scalars(select(PaymentInstrument).where(PaymentInstrument.plan_id == plan.id)
                       .order_by(PaymentInstrument.sequence)).all()
    assert sum(row.amount_rials for row in parts) == plan.total_rials == 18_000_000
    assert [row.status for row in parts] == ["paid"] + ["pending"] * 5
    assert len(instruments.history(db, cheques[2].id)) == 2
    assert db.scalar(select(func.count(InstrumentEvent.id))) == 4 + 2 + 6 + 1


def test_the_demo_is_one_unit_of_work_and_refused_on_a_club(db):
    result = demo.seed_demo(db, NOW, history=False)
    db.rollback()  # nothing left for the caller to commit: the unit did
    assert db.scalar(select(func.count()).select_from(Member)) == result.member_count
    assert {device.id for device in db.scalars(select(Device))} == {"t01", "t02"}
    with pytest.raises(RuntimeError, match="already has a club"):
        demo.seed_demo(db, NOW, history=False)
    assert db.scalar(select(func.count()).select_from(Member)) == result.member_count
