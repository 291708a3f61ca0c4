"""Paying with points at the terminal (issue 18 item 1, docs/protocol.md "Paying with
points") and selling items with stock (item 2), through terminal.answer, with worked
numbers. The default tier: 5% discount, 5% credit back, 1 point per 10,000 rials; the
club's point value 100 rials."""

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from backend import ledger
from backend.models import (
    Device,
    LedgerEntry,
    LedgerTransaction,
    Message,
    Product,
    Purchase,
    the_club,
)
from backend.protocol import Item, Request
from backend.services import terminal, terminal_policy
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW


def request(card, seq=1, amount=250_000, use_credit=0, use_points=-1, items=None):
    return Request(id=f"t01-{seq:06d}", seq=seq, ts=int(NOW.timestamp()), op="purchase",
                   card=card, amount=amount, use_credit=use_credit, items=items, ref=None,
                   offline=False, use_points=use_points)


@pytest.fixture
def till(db):
    factories.device(db, device_id="t01")
    db.commit()
    return "t01"


def balances(db, member):
    db.refresh(member)
    credit = ledger.balance_from_entries(db, member.id, "credit")
    points = ledger.balance_from_entries(db, member.id, "points")
    assert (credit, points) == (member.credit_balance_rials, member.points_balance)
    return credit, points


def entries(db, member):
    return [(tx_kind, account, amount) for tx_kind, account, amount in db.execute(
        select(LedgerTransaction.kind, LedgerEntry.account, LedgerEntry.amount)
        .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
        .where(LedgerEntry.member_id == member.id, LedgerTransaction.kind != "grant")
        .order_by(LedgerEntry.id))]


def test_all_the_points_the_purchase_can_take_are_converted_and_spent(db, till):
    """1,000 points are 100,000 rials: 250,000 less 5% is 237,500, of which the points pay
    100,000; 137,500 to pay, 5% of it (6,875) back as credit, 25 points earned."""
    member = factories.member(db, points=1_000)
    db.commit()
    card = factories.card_of(member)
    raw = terminal.answer(db, till, request(card), NOW)
    body = json.loads(raw)
    assert body["tx"] == {"amount": 250_000, "discount": 12_500, "credit_used": 100_000,
                          "payable": 137_500, "credit_earned": 6_875, "points_earned": 25,
                          "offers": [], "points_used": 1_000, "points_credit": 100_000}
    assert body["bal"] == {"credit": 6_875, "points": 25}
    assert balances(db, member) == (6_875, 25)
    assert entries(db, member) == [
        ("conversion", "points", -1_000), ("conversion", "credit", 100_000),
        ("purchase", "credit", -100_000), ("purchase", "credit", 6_875),
        ("purchase", "points", 25)]
    assert "Points used: 1000" in body["receipt"]
    assert "Credit from points: 100,000" in body["receipt"]
    # The conversion is spent at once: no "credit came in" message for it.
    assert db.scalars(select(Message.kind)).all().count("credit_increase") == 0
    # The retry gets the same bytes and converts nothing more.
    assert terminal.answer(db, till, request(card), NOW + timedelta(seconds=5)) == raw
    assert balances(db, member) == (6_875, 25)
    assert db.scalars(select(Purchase.credit_used_rials)).all() == [100_000]


def test_points_stop_at_the_per_invoice_cap_and_then_credit_is_not_needed(db, till):
    """A 50,000-rial cap per invoice: 500 of the 1,000 points, the rest stay."""
    tier = factories.tier(db, max_credit_per_invoice_rials=50_000)
    member = factories.member(db, points=1_000, credit_rials=30_000, tier_id=tier.id)
    db.commit()
    body = json.loads(terminal.answer(db, till, request(factories.card_of(member),
                                                        use_credit=-1), NOW))
    assert (body["tx"]["points_used"], body["tx"]["points_credit"],
            body["tx"]["credit_used"], body["tx"]["payable"]) == (500, 50_000, 50_000, 187_500)
    # 30,000 credit untouched (points first), + 5% of 187,500 = 9,375; 500 + 25 points.
    assert balances(db, member) == (39_375, 525)


def test_points_first_then_credit_up_to_the_cap(db, till):
    tier = factories.tier(db, max_credit_per_invoice_rials=120_000)
    member = factories.member(db, points=1_000, credit_rials=30_000, tier_id=tier.id)
    db.commit()
    body = json.loads(terminal.answer(db, till, request(factories.card_of(member),
                                                        use_credit=-1), NOW))
    assert (body["tx"]["points_used"], body["tx"]["credit_used"],
            body["tx"]["payable"]) == (1_000, 120_000, 117_500)
    # 30,000 + 100,000 − 120,000 + 5,875 back.
    assert balances(db, member) == (15_875, 25)


def test_exact_points_over_the_cap_are_refused_and_nothing_changes(db, till):
    tier = factories.tier(db, max_credit_per_invoice_rials=50_000)
    member = factories.member(db, points=1_000, tier_id=tier.id)
    db.commit()
    body = json.loads(terminal.answer(db, till, request(factories.card_of(member),
                                                        use_points=600), NOW))
    assert (body["ok"], body["code"]) == (False, "LIMIT")
    assert balances(db, member) == (0, 1_000)
    assert entries(db, member) == []


def test_more_points_than_the_member_has_are_refused(db, till):
    member = factories.member(db, points=100)
    db.commit()
    body = json.loads(terminal.answer(db, till, request(factories.card_of(member),
                                                        use_points=150), NOW))
    assert (body["ok"], body["code"]) == (False, "INSUFFICIENT_CREDIT")
    assert balances(db, member) == (0, 100)


def test_below_the_clubs_minimum_no_points_are_used_and_the_sale_goes_through(db, till):
    the_club(db).points_min_convert = 2_000
    member = factories.member(db, points=1_000)
    db.commit()
    body = json.loads(terminal.answer(db, till, request(factories.card_of(member)), NOW))
    assert body["ok"] is True
    assert (body["tx"]["points_used"], body["tx"]["points_credit"],
            body["tx"]["credit_used"], body["tx"]["payable"]) == (0, 0, 0, 237_500)
    assert balances(db, member) == (11_875, 1_025)


def test_the_clubs_point_value_prices_the_points(db, till):
    the_club(db).point_value_rials = 250
    member = factories.member(db, points=1_000)
    db.commit()
    body = json.loads(terminal.answer(db, till, request(factories.card_of(member)), NOW))
    # 237,500 // 250 = 950 points fit: 237,500 rials, nothing left to pay.
    assert (body["tx"]["points_used"], body["tx"]["points_credit"],
            body["tx"]["payable"], body["tx"]["credit_earned"]) == (950, 237_500, 0, 0)
    assert balances(db, member) == (0, 50 + 25)


def test_items_sold_at_the_terminal_decrement_stock_and_get_their_rules(db, till):
    """Two of A12 at 50,000 (20 points each, 10% off) and one B7 at 150,000 (stock not
    tracked): 250,000; paid partly with 300 points."""
    db.add_all([
        Product(sku="A12", name="Tea", price_rials=50_000, points_per_unit=20,
                discount_percent_bp=1_000, stock=5),
        Product(sku="B7", name="Cup", price_rials=150_000, stock=None),
    ])
    member = factories.member(db, points=300)
    db.commit()
    items = (Item("A12", 2, 50_000), Item("B7", 1, 150_000))
    body = json.loads(terminal.answer(db, till, request(factories.card_of(member),
                                                        items=items), NOW))
    # Item discount 10,000; tier 5% of 240,000 = 12,000; points pay 30,000.
    assert body["tx"]["discount"] == 22_000
    assert (body["tx"]["points_used"], body["tx"]["credit_used"]) == (300, 30_000)
    assert body["tx"]["payable"] == 198_000
    # 25 for the amount + 2 × 20 for the tea.
    assert body["tx"]["points_earned"] == 65
    stock = dict(db.execute(select(Product.sku, Product.stock)).all())
    assert stock == {"A12": 3, "B7": None}
    assert balances(db, member) == (198_000 * 5 // 100, 65)


def test_a_refund_gives_the_points_credit_back_as_credit(db, till):
    """The points were turned into credit and spent: a refund gives the credit spent
    back (100,000) and takes back what the purchase earned; the points stay converted."""
    terminal_policy.save_branch_refund_settings(db, db.get(Device, till).branch_id,
                                                pin="2468", window_hours=24, actor=SYSTEM)
    member = factories.member(db, points=1_000)
    db.commit()
    card = factories.card_of(member)
    assert json.loads(terminal.answer(db, till, request(card), NOW))["ok"]
    refund = Request(id="t01-000002", seq=2, ts=int(NOW.timestamp()), op="refund", card=card,
                     amount=None, use_credit=0, items=None, ref="t01-000001", offline=False,
                     pin="2468")
    body = json.loads(terminal.answer(db, till, refund, NOW + timedelta(minutes=5)))
    assert body["ok"], body
    assert (body["tx"]["credit_returned"], body["tx"]["credit_taken"],
            body["tx"]["points_taken"]) == (100_000, 6_875, 25)
    assert balances(db, member) == (100_000, 0)


def test_exact_points_under_the_clubs_minimum_are_a_bad_request(db, till):
    the_club(db).points_min_convert = 500
    member = factories.member(db, points=1_000)
    db.commit()
    body = json.loads(terminal.answer(db, till, request(factories.card_of(member),
                                                        use_points=400), NOW))
    assert (body["ok"], body["code"]) == (False, "BAD_REQUEST")
    assert balances(db, member) == (0, 1_000)


def test_a_gift_card_pays_with_no_points(db, till):
    member = factories.member(db, points=1_000, is_gift_account=True)
    db.commit()
    body = json.loads(terminal.answer(db, till, request(factories.card_of(member)), NOW))
    assert body["ok"] is True
    assert (body["tx"]["points_used"], body["tx"]["credit_used"]) == (0, 0)
