"""The record step: rows written with Core statements, read back as the database has them."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from backend import engine
from backend.errors import BadRequest
from backend.models import (
    CallTask,
    LedgerTransaction,
    Offer,
    OfferRedemption,
    Product,
    PurchaseItem,
)
from backend.services.purchase_pipeline import record
from tests import factories

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def purchase_columns(member, card) -> dict:
    return {"member_id": member.id, "card_id": card.id, "branch_id": 1, "device_id": None,
            "ledger_transaction_id": None, "amount_rials": 100_000, "discount_rials": 0,
            "credit_used_rials": 0, "payable_rials": 100_000, "credit_earned_rials": 0,
            "points_earned": 0, "offline": False, "commission_member_id": None,
            "commission_rials": 0, "refunded_amount_rials": 0, "created_at": NOW}


@pytest.fixture
def purchase(db):
    factories.club(db)
    branch = factories.branch(db)
    member = factories.member(db, credit_rials=1_000)  # a posting to hang the purchase on
    transaction_id = db.scalar(select(LedgerTransaction.id)
                               .where(LedgerTransaction.member_id == member.id))
    columns = {**purchase_columns(member, member.cards[0]), "branch_id": branch.id,
               "ledger_transaction_id": transaction_id}
    return record.insert_purchase(db, columns)


def test_the_purchase_its_happy_call_and_redemption_are_rows(db, purchase):
    record.insert_happy_call(db, purchase)
    offer = Offer(name="Bonus", reward_kind="bonus_points", reward_value=5)
    db.add(offer)
    db.flush()
    outcome = engine.PurchaseOutcome(
        amount_rials=100_000, discount_rials=0, credit_used_rials=0, payable_rials=100_000,
        credit_earned_rials=0, points_earned=5,
        offers=(engine.AppliedOffer(offer_id=offer.id, name=offer.name, points=5),))
    record.insert_redemptions(db, outcome, purchase.member_id, purchase.id, NOW)
    assert db.scalars(select(OfferRedemption.points)
                      .where(OfferRedemption.purchase_id == purchase.id)).all() == [5]
    task = db.scalars(select(CallTask).where(CallTask.purchase_id == purchase.id)).one()
    assert (task.status, task.attempts) == ("open", 0)


def test_a_line_beyond_the_stock_is_refused(db, purchase):
    product = Product(sku="p1", name="Tea", price_rials=1_000, stock=2)
    db.add(product)
    db.flush()
    line = type("Line", (), {"quantity": 2, "unit_price_rials": 1_000})()
    record.insert_lines(db, purchase.id, [product], [line])
    db.expire(product)
    assert product.stock == 0
    assert db.scalars(select(PurchaseItem.quantity)).all() == [2]
    with pytest.raises(BadRequest):
        record.insert_lines(db, purchase.id, [product], [line])
