"""Refund last (T7) end to end: key R, the card, the PIN: the terminal refunds the last
purchase of that card."""

from sqlalchemy import select

from backend.extensions import db
from backend.models import Purchase
from tests.e2e.test_simulator_offline import SARA_CARD, sara_purchases, steps


def test_refund_last_purchase_restores_the_balance(stack):
    r = steps(stack, f"scan:{SARA_CARD},keys:250000E,key:C,key:R")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Scan the card" in r.stdout
    r = steps(stack, f"scan:{SARA_CARD},keys:100000E,key:C,scan:9900010000000027,key:R")
    assert "None to refund" in r.stdout  # another card: not Sara's sales
    # a new process: the sales are kept on flash; R with Sara's card on screen
    r = steps(stack, f"scan:{SARA_CARD},key:R,keys:1234E")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Refund last?" in r.stdout and "100,000" in r.stdout and "PIN: ****" in r.stdout
    assert "Refunded" in r.stdout, r.stdout
    with stack.app.app_context():
        first, second = db.session.scalars(select(Purchase).order_by(Purchase.id)).all()
        assert (first.refunded_amount_rials, second.refunded_amount_rials) == (0, 100_000)
    r = steps(stack, f"key:R,scan:{SARA_CARD},keys:1234E")  # then the sale before it
    assert "250,000" in r.stdout and "Refunded" in r.stdout, r.stdout
    _, credit, points = sara_purchases(stack)
    assert (credit, points) == (50_000, 0)
    r = steps(stack, f"key:R,scan:{SARA_CARD}")
    assert "None to refund" in r.stdout
