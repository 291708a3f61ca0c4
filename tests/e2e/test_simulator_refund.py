"""Refund last (T7) end to end: key R on the terminal refunds its last purchase."""

from sqlalchemy import select

from backend.extensions import db
from backend.models import Purchase
from tests.e2e.test_simulator_offline import SARA_CARD, sara_purchases, steps


def test_refund_last_purchase_restores_the_balance(stack):
    r = steps(stack, f"scan:{SARA_CARD},keys:250000E,key:C,key:R")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Refund last?" in r.stdout and "250,000" in r.stdout
    r = steps(stack, "key:R,key:E")  # a new process: the last purchase is kept on flash
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Refunded" in r.stdout, r.stdout
    _, credit, points = sara_purchases(stack)
    assert (credit, points) == (50_000, 0)
    with stack.app.app_context():
        (p,) = db.session.scalars(select(Purchase)).all()
        assert p.refunded_amount_rials == 250_000
    r = steps(stack, "key:R")
    assert "None to refund" in r.stdout
