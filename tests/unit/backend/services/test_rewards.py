"""Points that expire, converting them, the rewards catalogue and the profile reward
(issue 18 items 1 and 5, docs/loyalty-rules.md "Points"), with worked numbers."""

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from backend import ledger
from backend.errors import BadRequest, InsufficientBalance
from backend.jobs import daily
from backend.models import (
    Card,
    LedgerTransaction,
    Member,
    Message,
    PointsLot,
    Product,
    Reward,
    RewardRedemption,
)
from backend.services import profile, purchase_pipeline, refunds, rewards, wallet
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW  # Saturday 30 Aban 1405, 13:00 Tehran


class World:
    def __init__(self, db):
        self.db = db
        self.club = factories.club(db, point_value_rials=100, points_expiry_days=30,
                                   weekday_points_percent=[100] * 7)
        self.branch = factories.branch(db)
        # 1 point per 10,000 rials, no credit back: only points move in purchases.
        self.tier = factories.tier(db, code="base", credit_percent_bp=0,
                                   discount_percent_bp=0)
        db.commit()

    def member(self, **fields) -> Member:
        member = factories.member(self.db, tier_id=self.tier.id, **fields)
        self.db.commit()
        return member

    def buy(self, member, amount, at, key=None):
        locked = ledger.lock_member(self.db, member.id)
        result = purchase_pipeline.run(
            self.db, member=locked, card=locked.cards[0], branch_id=self.branch.id,
            device_id=None, idempotency_key=key or f"buy:{member.id}:{at.isoformat()}",
            amount_rials=amount, use_credit_rials=0, offline=False, now=at)
        self.db.commit()
        return result.purchase

    def balances(self, member) -> tuple[int, int]:
        """(credit, points), checked against the entries and the lots."""
        self.db.refresh(member)
        credit = ledger.balance_from_entries(self.db, member.id, "credit")
        points = ledger.balance_from_entries(self.db, member.id, "points")
        assert credit == member.credit_balance_rials == ledger.credit_in_lots(self.db, member.id)
        assert points == member.points_balance >= ledger.points_in_lots(self.db, member.id)
        return credit, points

    def lots(self, member) -> list[tuple[int, int]]:
        return [(lot.amount, lot.remaining) for lot in self.db.scalars(
            select(PointsLot).where(PointsLot.member_id == member.id).order_by(PointsLot.id))]


@pytest.fixture
def world(db):
    return World(db)


def test_points_expire_soonest_first_and_the_nightly_job_takes_out_the_rest(world):
    """50 points from before expiry was switched on never expire; 250 earned on 30 Aban
    expire after 30 days, 100 earned 10 days later after 40. Converting 270 takes the
    250 first and 20 of the 100; the nightly job after day 40 takes the other 80, once."""
    sara = world.member(points=50)
    world.buy(sara, 2_500_000, NOW)
    world.buy(sara, 1_000_000, NOW + timedelta(days=10))
    assert world.lots(sara) == [(250, 250), (100, 100)]
    [first, second] = world.db.scalars(select(PointsLot).order_by(PointsLot.id)).all()
    # Spendable through the whole Tehran day 30 days on (30 Aban + 30 = 30 Azar), 00:00
    # of the next day in Tehran is 20:30 UTC.
    assert first.expires_at == (NOW + timedelta(days=31)).replace(hour=20, minute=30) \
        - timedelta(days=1)
    wallet.convert_points(world.db, actor=SYSTEM,
                          member_id=sara.id, points=270, idempotency_key="c1",
                          now=NOW + timedelta(days=11))
    assert world.lots(sara) == [(250, 0), (100, 80)]
    assert world.balances(sara) == (27_000, 130)

    later = NOW + timedelta(days=41)
    assert wallet.expire_points(world.db, later) == 80
    assert wallet.expire_points(world.db, later) == 0
    assert world.balances(sara) == (27_000, 50)
    assert world.lots(sara) == [(250, 0), (100, 0)]


def test_expired_points_cannot_be_spent_before_the_job_runs(world):
    sara = world.member()
    world.buy(sara, 2_500_000, NOW)
    after_expiry = NOW + timedelta(days=32)
    assert ledger.spendable_points(world.db, sara, after_expiry) == 0
    with pytest.raises(InsufficientBalance):
        wallet.convert_points(world.db, actor=SYSTEM,
                              member_id=sara.id, points=1, idempotency_key="late",
                              now=after_expiry)
    assert world.balances(sara) == (0, 250)
    assert world.db.scalar(select(func.count()).select_from(LedgerTransaction).where(
        LedgerTransaction.idempotency_key == "late")) == 0


def test_conversion_minimum_and_idempotency(world):
    world.club.points_min_convert = 100
    world.db.commit()
    sara = world.member(points=450)
    with pytest.raises(BadRequest, match="minimum"):
        wallet.convert_points(world.db, actor=SYSTEM,
                              member_id=sara.id, points=99, idempotency_key="small",
                              now=NOW)
    first = wallet.convert_points(world.db, actor=SYSTEM, member_id=sara.id, points=400,
                                  idempotency_key="c1", now=NOW)
    again = wallet.convert_points(world.db, actor=SYSTEM, member_id=sara.id, points=400,
                                  idempotency_key="c1", now=NOW)
    assert first.id == again.id
    assert world.balances(sara) == (40_000, 50)
    # The credit is announced once.
    assert world.db.scalar(select(func.count()).select_from(Message).where(
        Message.kind == "credit_increase", Message.member_id == sara.id)) == 1


def test_a_refund_takes_back_points_even_from_an_expired_lot(world):
    sara = world.member()
    purchase = world.buy(sara, 1_000_000, NOW)
    ledger.lock_member(world.db, sara.id)
    refunds.refund_purchase_locked(world.db, purchase=purchase, amount_rials=None,
                                   idempotency_key="r1", now=NOW + timedelta(days=35))
    world.db.commit()
    assert world.balances(sara) == (0, 0)
    assert world.lots(sara) == [(100, 0)]


def test_members_are_told_once_before_their_points_expire(world):
    sara = world.member()
    world.buy(sara, 2_500_000, NOW)
    reminder_day = NOW + timedelta(days=25)  # reminders look 7 days ahead
    daily.credit_expiry_reminders(world.db, reminder_day)
    daily.credit_expiry_reminders(world.db, reminder_day + timedelta(hours=1))
    [message] = world.db.scalars(select(Message).where(Message.kind == "points_expiring")).all()
    # The last day the points can be used: 30 Azar 1405 = 21 December 2026.
    assert message.params == {"points": 250, "date": "2026-12-21"}
    assert message.recipient == sara.mobile


def make_reward(db, **fields) -> Reward:
    reward = Reward(**{"name": "Coffee", "kind": "discount", "points_cost": 300,
                       "value_rials": 30_000, **fields})
    db.add(reward)
    db.commit()
    return reward


def test_a_discount_reward_turns_points_into_credit_and_stock_runs_out(world):
    sara, reza = world.member(points=450), world.member(points=900)
    reward = make_reward(world.db, stock=1)
    redemption = rewards.redeem(world.db, actor=SYSTEM, member_id=sara.id, reward_id=reward.id,
                                channel="portal", idempotency_key="r1", now=NOW)
    again = rewards.redeem(world.db, actor=SYSTEM, member_id=sara.id, reward_id=reward.id,
                           channel="portal", idempotency_key="r1", now=NOW)
    assert again.id == redemption.id
    assert (redemption.points, redemption.credit_rials, redemption.status) == (300, 30_000,
                                                                               "done")
    assert world.balances(sara) == (30_000, 150)
    world.db.refresh(reward)
    assert reward.stock == 0
    with pytest.raises(BadRequest, match="out of stock"):
        rewards.redeem(world.db, actor=SYSTEM,
                       member_id=reza.id, reward_id=reward.id, channel="counter",
                       idempotency_key="r2", now=NOW)
    assert world.balances(reza) == (0, 900)
    with pytest.raises(InsufficientBalance):
        rewards.redeem(world.db, actor=SYSTEM,
                       member_id=sara.id, reward_id=make_reward(world.db).id,
                       channel="portal", idempotency_key="r3", now=NOW)
    assert world.balances(sara) == (30_000, 150)
    assert world.db.scalar(select(func.count()).select_from(RewardRedemption)) == 1


def test_a_product_taken_in_the_portal_waits_for_the_counter(world):
    tea = Product(sku="tea", name="Tea", price_rials=90_000, stock=5)
    world.db.add(tea)
    world.db.flush()
    reward = make_reward(world.db, kind="product", value_rials=0, product_id=tea.id)
    sara = world.member(points=300)
    redemption = rewards.redeem(world.db, actor=SYSTEM, member_id=sara.id, reward_id=reward.id,
                                channel="portal", idempotency_key="p1", now=NOW)
    assert redemption.status == "to_collect"
    world.db.refresh(tea)
    assert tea.stock == 4
    assert world.balances(sara) == (0, 0)
    staff = factories.staff_user(world.db, username="cashier", role="admin")
    rewards.hand_over(world.db, actor=SYSTEM, redemption_id=redemption.id, member_id=sara.id,
                      staff_user_id=staff.id, now=NOW)
    assert (redemption.status, redemption.collected_at) == ("done", NOW)


def test_a_gift_card_reward_is_issued_at_the_counter(world):
    reward = make_reward(world.db, kind="gift_card", value_rials=500_000, valid_days=90)
    sara = world.member(points=1_000)
    with pytest.raises(BadRequest, match="counter"):
        rewards.redeem(world.db, actor=SYSTEM,
                       member_id=sara.id, reward_id=reward.id, channel="portal",
                       idempotency_key="g0", now=NOW)
    blank = factories.card_number(900_001)
    world.db.add(Card(number=blank, status="issued"))
    world.db.commit()
    redemption = rewards.redeem(world.db, actor=SYSTEM, member_id=sara.id, reward_id=reward.id,
                                channel="counter", idempotency_key="g1", now=NOW,
                                gift_card_number=blank)
    card = world.db.get(Card, redemption.gift_card_id)
    holder = world.db.get(Member, card.member_id)
    assert holder.is_gift_account and holder.credit_balance_rials == 500_000
    assert world.balances(sara) == (0, 700)


@pytest.mark.parametrize("kind, value, expected", [("points", 200, (0, 200)),
                                                   ("credit", 50_000, (50_000, 0))])
def test_the_profile_reward_is_given_exactly_once(world, kind, value, expected):
    world.club.profile_reward_kind, world.club.profile_reward_value = kind, value
    world.db.commit()
    sara = world.member()
    fields = dict(email="", promotional_opt_out=False, message_language="", now=NOW)
    _, given = profile.update_own_profile(world.db, member_id=sara.id, birth_date=None,
                                          city="Tehran", gender="f", **fields)
    assert given == 0 and world.balances(sara) == (0, 0)
    for city in ("Tehran", "", "Shiraz", "Shiraz"):
        _, given = profile.update_own_profile(world.db, member_id=sara.id,
                                              birth_date=date(1991, 11, 21), city=city,
                                              gender="f", **fields)
    assert world.balances(sara) == expected
    assert world.db.scalar(select(func.count()).select_from(LedgerTransaction).where(
        LedgerTransaction.kind == "profile-reward")) == 1
    assert sara.birth_date == date(1991, 11, 21) and sara.city == "Shiraz"


def test_profile_dates_in_the_future_are_refused(world):
    sara = world.member()
    with pytest.raises(BadRequest):
        profile.update_own_profile(world.db, member_id=sara.id, email="",
                                   promotional_opt_out=False, message_language="",
                                   birth_date=date(2030, 1, 1), city="", gender="", now=NOW)


def test_six_members_racing_for_three_rewards_get_exactly_three(tmp_path_factory, databases,
                                                                   app):
    """Separate connections, started together: the stock's guarded UPDATE lets exactly
    three through on either database, and the losers keep their points."""
    import threading

    from backend.extensions import db as flask_db
    from tests.conftest import build_app

    live = build_app(tmp_path_factory, databases, app.database_kind)
    with live.app_context():
        session = flask_db.session
        World(session)
        member_ids = [factories.member(session, points=500).id for _ in range(6)]
        reward = make_reward(session, stock=3)
        reward_id = reward.id
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def take(member_id: int):
        with live.app_context():
            barrier.wait()
            try:
                rewards.redeem(flask_db.session, actor=SYSTEM,
                               member_id=member_id, reward_id=reward_id,
                               channel="portal", idempotency_key=f"race-{member_id}", now=NOW)
                outcomes.append("ok")
            except BadRequest:
                outcomes.append("out of stock")

    threads = [threading.Thread(target=take, args=(member_id,)) for member_id in member_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["ok"] * 3 + ["out of stock"] * 3
    with live.app_context():
        session = flask_db.session
        assert session.get(Reward, reward_id).stock == 0
        balances = sorted(session.get(Member, member_id).points_balance
                          for member_id in member_ids)
        assert balances == [200] * 3 + [500] * 3
