"""The load step: the member's context read only as far as a rule can use it."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import event

from backend.errors import BadRequest
from backend.models import Product
from backend.services.purchase_pipeline import ItemRequest, load
from tests import factories

NOW = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


def statements_of(db, work) -> int:
    seen = []
    connection = db.connection()
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(connection, "before_cursor_execute", listener)
    try:
        work()
    finally:
        event.remove(connection, "before_cursor_execute", listener)
    return len(seen)


def test_a_purchase_spending_nothing_with_unlimited_offers_reads_nothing(db):
    member = factories.member(db)
    assert statements_of(db, lambda: load.member_context(
        db, member, NOW, spends_credit=False, counts_offer_uses=False)) == 0
    assert statements_of(db, lambda: load.member_context(db, member, NOW)) == 2


def test_item_lines_get_their_products_rules_and_are_refused_beyond_stock(db):
    db.add(Product(sku="tea", name="Tea", price_rials=1_000, stock=1, points_per_unit=3))
    db.flush()
    products, lines = load.items(db, [ItemRequest("tea", 1, 1_000)])
    assert products[0].sku == "tea" and lines[0].points_per_unit == 3
    with pytest.raises(BadRequest):
        load.items(db, [ItemRequest("tea", 2, 1_000)])
    with pytest.raises(BadRequest):
        load.items(db, [ItemRequest("coffee", 1, 1_000)])
