"""Item sales and paying with points from the simulator (the real firmware app) through
Mosquitto and the worker (issue 18 items 1 and 2): balances, ledger rows and stock to
the rial, and what the screen and the receipt said."""

from datetime import UTC, datetime

from sqlalchemy import select

from backend import ledger
from backend.extensions import db
from backend.models import (
    Card,
    LedgerEntry,
    LedgerTransaction,
    Member,
    Product,
    Purchase,
    PurchaseItem,
)
from tests.e2e.test_simulator_offline import SARA_CARD, steps
from tests.e2e.test_simulator_round_trip import simulate


def setup_shop(stack, points=1_000):
    """Two products; Sara (silver: 5% off, 5% back, 1 point per 10,000) gets points (the
    stack switches the demo's Saturday double points off, so the numbers hold any day)."""
    with stack.app.app_context():
        db.session.add_all([
            Product(sku="A12", name="Tea", price_rials=50_000, points_per_unit=20, stock=10),
            Product(sku="6260100000019", name="Cup", price_rials=150_000, stock=3),
        ])
        member = db.session.scalars(
            select(Member).join(Card).where(Card.number == SARA_CARD)).one()
        ledger.post(db.session, member=ledger.lock_member(db.session, member.id),
                    idempotency_key="e2e:points", kind="grant",
                    movements=[ledger.Movement("points", points)], reason="e2e",
                    now=datetime.now(UTC))
        db.session.commit()


def shop_state(stack):
    with stack.app.app_context():
        member = db.session.scalars(
            select(Member).join(Card).where(Card.number == SARA_CARD)).one()
        rows = db.session.execute(
            select(LedgerTransaction.kind, LedgerEntry.account, LedgerEntry.amount)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .where(LedgerEntry.member_id == member.id,
                   LedgerTransaction.kind.in_(("conversion", "purchase")))
            .order_by(LedgerEntry.id)).all()
        lines = db.session.execute(
            select(Product.sku, PurchaseItem.quantity, PurchaseItem.unit_price_rials)
            .join(Product, Product.id == PurchaseItem.product_id)
            .order_by(PurchaseItem.id)).all()
        purchases = db.session.execute(
            select(Purchase.amount_rials, Purchase.credit_used_rials, Purchase.payable_rials,
                   Purchase.offline)).all()
        return {
            "credit": member.credit_balance_rials,
            "credit_from_entries": ledger.balance_from_entries(db.session, member.id,
                                                               "credit"),
            "points": member.points_balance,
            "points_from_entries": ledger.balance_from_entries(db.session, member.id,
                                                               "points"),
            "entries": [tuple(row) for row in rows],
            "lines": [tuple(row) for row in lines],
            "purchases": [tuple(row) for row in purchases],
            "stock": dict(db.session.execute(select(Product.sku, Product.stock)).all()),
        }


def test_two_items_paid_partly_with_points(stack):
    setup_shop(stack)
    # Tea scanned, priced, then * makes it two; the cup's barcode scanned and priced;
    # U twice: pay with points; E sends.
    r = steps(stack, f"scan:{SARA_CARD},scan:A12,keys:50000E,keys:2R,"
                     "scan:6260100000019,keys:150000E,keys:UU,key:E")
    assert r.returncode == 0, r.stdout + r.stderr
    shown = r.stdout.split("[receipt]")[0]
    assert "Total: 250,000 (3)" in shown
    assert "Use points: yes" in shown
    # 250,000 − 5% = 237,500; 1,000 points pay 100,000; 137,500 to pay, 6,875 back;
    # 25 points for the amount and 2 × 20 for the tea.
    assert "Points used: 1,000" in shown
    assert "Pay: 137,500" in shown
    receipt = r.stdout.split("[receipt]")[1]
    assert "A12 x2 100,000" in receipt
    assert "6260100000019 x1 150,000" in receipt
    assert "Points used: 1000" in receipt
    assert "Credit from points: 100,000" in receipt
    assert "To pay: 137,500" in receipt
    state = shop_state(stack)
    assert state["credit"] == state["credit_from_entries"] == 50_000 + 6_875
    assert state["points"] == state["points_from_entries"] == 65
    assert state["entries"] == [
        ("conversion", "points", -1_000), ("conversion", "credit", 100_000),
        ("purchase", "credit", -100_000), ("purchase", "credit", 6_875),
        ("purchase", "points", 65)]
    assert state["lines"] == [("A12", 2, 50_000), ("6260100000019", 1, 150_000)]
    assert state["purchases"] == [(250_000, 100_000, 137_500, False)]
    assert state["stock"] == {"A12": 8, "6260100000019": 2}


def test_an_item_sale_made_offline_keeps_its_items_and_takes_stock_at_replay(stack):
    setup_shop(stack, points=0)
    r = steps(stack, f"net:off,scan:{SARA_CARD},scan:A12,keys:50000E,keys:3R,key:E")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Saved offline" in r.stdout
    assert "A12 x3 150,000" in r.stdout.split("[receipt]")[1]
    assert shop_state(stack)["stock"]["A12"] == 10
    r = steps(stack, "net:on,drain:15000")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "confirmed 1, refused 0" in r.stdout
    state = shop_state(stack)
    # 150,000 − 5% = 142,500 paid, 7,125 back; 15 + 3 × 20 points.
    assert state["purchases"] == [(150_000, 0, 142_500, True)]
    assert state["lines"] == [("A12", 3, 50_000)]
    assert state["stock"]["A12"] == 7
    assert state["credit"] == state["credit_from_entries"] == 50_000 + 7_125
    assert state["points"] == state["points_from_entries"] == 75


def test_headless_purchase_paid_with_points(stack):
    setup_shop(stack, points=300)
    r = simulate(stack, "--scan", SARA_CARD, "--amount", "100000", "--use-points")
    assert r.returncode == 0, r.stdout + r.stderr
    # 100,000 − 5% = 95,000; 300 points pay 30,000; 65,000 to pay, 3,250 back, 10 points.
    assert "Points used: 300" in r.stdout and "Pay: 65,000" in r.stdout
    state = shop_state(stack)
    assert state["purchases"] == [(100_000, 30_000, 65_000, False)]
    assert state["credit"] == state["credit_from_entries"] == 50_000 + 3_250
    assert state["points"] == state["points_from_entries"] == 10
