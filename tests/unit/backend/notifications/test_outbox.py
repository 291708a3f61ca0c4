"""Which events queue which messages, in the event's own transaction: transactional
messages ignore the opt-out, promotional ones respect it (N2)."""

import re
from datetime import timedelta

from sqlalchemy import event, select

from backend.extensions import db as flask_db
from backend.models import Message
from backend.notifications import outbox
from backend.services import counter, members, tiers, wallet
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW


def messages(db, kind=None):
    statement = select(Message).order_by(Message.id)
    if kind:
        statement = statement.where(Message.kind == kind)
    return db.scalars(statement).all()


def buy(db, member, amount=100_000, key="outbox-test-purchase-0001"):
    branch = factories.branch(db)
    return counter.record_purchase(db, actor=SYSTEM, member_id=member.id, branch_id=branch.id,
                                   amount_rials=amount, use_credit_rials=0,
                                   request_key=key, now=NOW)


def test_purchase_thank_you_is_transactional_and_ignores_the_opt_out(db):
    factories.club(db)
    member = factories.member(db, promotional_opt_out=True, credit_rials=5_000)
    purchase = buy(db, member).purchase
    [message] = messages(db)
    assert (message.kind, message.category, message.recipient, message.member_id) == (
        "purchase", "transactional", member.mobile, member.id)
    assert message.params == {
        "amount": 100_000, "credit_earned": purchase.credit_earned_rials,
        "points_earned": purchase.points_earned,
        "credit_balance": member.credit_balance_rials,
        "points_balance": member.points_balance, "date": NOW.isoformat()}
    assert message.dedupe_key == f"purchase:{purchase.id}" and message.body == ""
    # The same request again records nothing and queues nothing.
    buy(db, member)
    assert len(messages(db)) == 1


def test_promotional_messages_respect_the_opt_out(db):
    opted_out = factories.member(db, promotional_opt_out=True)
    willing = factories.member(db)
    for member in (opted_out, willing):
        outbox.enqueue(db, kind="birthday", recipient=member.mobile, member=member, now=NOW)
    db.flush()
    assert [(m.member_id, m.category, m.priority) for m in messages(db)] == [
        (willing.id, "promotional", 2)]


def test_the_purchase_path_adds_one_insert_and_reads_no_message_tables(app, db):
    factories.club(db)
    member = factories.member(db)
    branch = factories.branch(db)
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement.lower())

    engine = flask_db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        counter.record_purchase(db, actor=SYSTEM, member_id=member.id, branch_id=branch.id,
                                amount_rials=120_000, use_credit_rials=0,
                                request_key="outbox-test-hot-path-01", now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    touching = [s for s in statements
                if re.search(r"\b(into|from|update|join) message(_\w+)?\b", s)]
    assert len(touching) == 1 and touching[0].startswith("insert into message ")


def test_credit_increases_are_announced_once(db):
    factories.club(db, max_transfer_rials=100_000, max_transfer_per_day_rials=100_000)
    tier = factories.tier(db)
    sara = factories.member(db, tier_id=tier.id, credit_rials=50_000)
    kaveh = factories.member(db, tier_id=tier.id)
    counter.top_up(db, actor=SYSTEM, member_id=sara.id, amount_rials=30_000,
                   request_key="outbox-test-topup-0001", now=NOW)
    counter.top_up(db, actor=SYSTEM, member_id=sara.id, amount_rials=30_000,
                   request_key="outbox-test-topup-0001", now=NOW)  # a resubmitted form
    wallet.transfer_credit(db, actor=SYSTEM, from_member_id=sara.id, to_member_id=kaveh.id,
                           amount_rials=20_000, idempotency_key="outbox-transfer", now=NOW)
    wallet.grant_credit(db, actor=SYSTEM,
                        amount_rials=7_000, reason="Nowruz", tier_id=tier.id, now=NOW)
    rows = [(m.member_id, m.params["amount"], m.params["credit_balance"])
            for m in messages(db, "credit_increase")]
    assert rows == [(sara.id, 30_000, 80_000), (kaveh.id, 20_000, 20_000),
                    (sara.id, 7_000, 67_000), (kaveh.id, 7_000, 27_000)]


def test_tier_upgrades_are_announced_downgrades_are_not(db):
    factories.club(db)
    bronze = factories.tier(db, code="bronze", name="bronze", name_fa="برنزی", rank=1)
    factories.tier(db, code="silver", name="silver", name_fa="نقره‌ای", rank=2,
                   min_spend_rials=200_000)
    member = factories.member(db, tier_id=bronze.id)
    result = buy(db, member, amount=300_000)
    assert result.new_tier == "silver"
    [upgrade] = messages(db, "tier_upgrade")
    assert upgrade.params == {"tier": {"fa": "نقره‌ای", "en": "silver"}}
    assert upgrade.category == "transactional"
    # A year later the nightly evaluation moves the member back down: no message.
    changes = tiers.evaluate_all(db, NOW + timedelta(days=400))
    assert [change.to_code for change in changes if change.member_id == member.id] == [
        "bronze"]
    assert len(messages(db, "tier_upgrade")) == 1


def test_joining_sends_login_details_and_tells_the_referrer(db):
    factories.club(db, referral_join_bonus_rials=20_000)
    factories.tier(db)
    friend = factories.member(db)
    member = members.register_member(
        db, actor=SYSTEM, first_name="Neda", last_name="Rahimi", mobile="09351112233",
        card_number=factories.card_number(424242), now=NOW, referrer_card_or_mobile=friend.mobile,
        notify=True)
    [welcome] = messages(db, "welcome")
    assert (welcome.member_id, welcome.params) == (member.id, {
        "card": factories.card_number(424242)})
    [bonus] = messages(db, "credit_increase")
    assert (bonus.member_id, bonus.params["amount"]) == (friend.id, 20_000)


def test_a_member_registered_without_notify_gets_no_welcome(db):
    factories.club(db)
    factories.tier(db)
    members.register_member(db, actor=SYSTEM,
                            first_name="Omid", last_name="Najafi", mobile="09351112234",
                            card_number=factories.card_number(424243), now=NOW)
    assert messages(db, "welcome") == []


def test_gift_accounts_get_nothing(db):
    factories.club(db)
    holder = factories.member(db, mobile=None, is_gift_account=True, credit_rials=90_000)
    assert buy(db, holder).purchase.member_id == holder.id
    assert messages(db) == []
