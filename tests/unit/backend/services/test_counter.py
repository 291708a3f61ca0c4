"""Issue 18 items 2 and 6: products sold at the counter (and so through the API) with
item lines, through the terminal's own purchase service; the cashier's summary carries the
terminal's figures; a cap refusal says which cap and how much it still allows."""

import json
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from backend import protocol
from backend.errors import BadRequest, CreditCapReached
from backend.models import LedgerTransaction, Member, Offer, Product, Purchase, PurchaseItem
from backend.services import counter, terminal
from backend.services.reports.lists import products as products_report
from backend.services.reports.periods import Period
from backend.services.reports.sql import Filters
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW

Line = counter.ItemLine


@pytest.fixture
def shop(db):
    factories.club(db)
    branch = factories.branch(db)
    # The factory's silver: 5 % discount, 5 % credit back, 1 point per 10,000 rials.
    tier = factories.tier(db, code="silver")
    db.add_all([
        Product(sku="COF", name="Coffee beans", price_rials=400_000, points_per_unit=5,
                discount_percent_bp=1000, extra_credit_per_unit_rials=2_000, stock=10),
        Product(sku="CUP", name="Cup of tea", price_rials=100_000),
        Product(sku="123", name="قهوه ترک", price_rials=50_000, stock=3),
        Product(sku="SRV", name="Repair", price_rials=0),  # open price
        Product(sku="OLD", name="Old", price_rials=10_000, is_active=False),
    ])
    db.commit()
    return type("Shop", (), {"branch": branch, "tier": tier})


def buy(db, shop, member, items=(), amount=None, use_credit=0, key="counter-items-0001",
        at=NOW):
    return counter.record_purchase(db, actor=SYSTEM, member_id=member.id, branch_id=shop.branch.id,
                                   amount_rials=amount, use_credit_rials=use_credit,
                                   request_key=key, now=at, items=items)


def stock(db, sku):
    db.expire_all()
    return db.scalars(select(Product.stock).where(Product.sku == sku)).one()


def count(db, model):
    return db.scalar(select(func.count()).select_from(model))


def test_item_lines_price_the_sale_with_each_products_rules(db, shop):
    sara = factories.member(db, tier_id=shop.tier.id)
    result = buy(db, shop, sara, [Line("COF", 2), Line("CUP", 1)])
    purchase = result.purchase
    # 900,000; product discount 10 % of 800,000 = 80,000; tier 5 % of 820,000 = 41,000.
    assert (purchase.amount_rials, purchase.discount_rials, purchase.payable_rials) == (
        900_000, 121_000, 779_000)
    # Credit 5 % of 779,000 = 38,950 plus 2 × 2,000; points 90 plus 2 × 5.
    assert (purchase.credit_earned_rials, purchase.points_earned) == (42_950, 100)
    assert stock(db, "COF") == 8 and stock(db, "CUP") is None
    lines = db.execute(select(PurchaseItem.quantity, PurchaseItem.unit_price_rials)
                       .where(PurchaseItem.purchase_id == purchase.id)
                       .order_by(PurchaseItem.id)).all()
    assert [tuple(line) for line in lines] == [(2, 400_000), (1, 100_000)]
    db.refresh(sara)
    assert (sara.credit_balance_rials, sara.points_balance) == (42_950, 100)


def test_an_amount_sent_with_lines_must_be_their_total(db, shop):
    sara = factories.member(db, tier_id=shop.tier.id)
    assert buy(db, shop, sara, [Line("CUP", 2)], amount=200_000).purchase.amount_rials == 200_000
    with pytest.raises(BadRequest, match="add up to 100,000") as refused:
        buy(db, shop, sara, [Line("CUP", 1)], amount=90_000, key="counter-items-0002")
    assert refused.value.field == "amount" and refused.value.params == {"total_rials": 100_000}
    assert count(db, Purchase) == 1


def test_products_are_found_by_sku_in_any_digits_or_by_name(db, shop):
    sara = factories.member(db, tier_id=shop.tier.id)
    purchase = buy(db, shop, sara, [Line("۱۲۳", 1), Line("cup of tea", 1),
                                    Line("SRV", 1, 70_000)]).purchase
    assert purchase.amount_rials == 50_000 + 100_000 + 70_000
    assert stock(db, "123") == 2


@pytest.mark.parametrize(("items", "field", "words"), [
    ([Line("NOPE", 1)], "items[0].sku", "No product"),
    ([Line("CUP", 1), Line("OLD", 1)], "items[1].sku", "No product"),
    ([Line("CUP", 0)], "items[0].quantity", "quantity from 1"),
    ([Line("CUP", -2)], "items[0].quantity", "quantity from 1"),
    ([Line("COF", 11)], "items[0].quantity", "Only 10"),
    ([Line("COF", 6), Line("COF", 5)], "items[1].quantity", "Only 10"),
    ([Line("CUP", 1, 90_000)], "items[0].price", "list price, 100,000"),
    ([Line("SRV", 1)], "items[0].price", "no list price"),
    ([Line("CUP", 1)] * 51, "items", "At most 50"),
])
def test_a_bad_line_is_refused_by_name_and_nothing_is_written(db, shop, items, field, words):
    sara = factories.member(db, tier_id=shop.tier.id, credit_rials=10_000)
    db.commit()  # a refused sale rolls its own transaction back, not the shop
    before = count(db, LedgerTransaction)
    with pytest.raises(BadRequest, match=words) as refused:
        buy(db, shop, sara, items, use_credit=-1)
    assert refused.value.field == field
    assert count(db, Purchase) == 0 and count(db, PurchaseItem) == 0
    assert count(db, LedgerTransaction) == before and stock(db, "COF") == 10
    db.refresh(sara)
    assert sara.credit_balance_rials == 10_000 and sara.purchase_count == 0


def test_a_resent_form_returns_the_first_sale_even_when_stock_ran_out(db, shop):
    sara = factories.member(db, tier_id=shop.tier.id)
    first = buy(db, shop, sara, [Line("123", 3)]).purchase
    again = buy(db, shop, sara, [Line("123", 3)]).purchase
    assert again.id == first.id and stock(db, "123") == 0 and count(db, Purchase) == 1


def test_the_products_report_counts_units_and_revenue_and_a_refund_returns_stock(db, shop):
    sara = factories.member(db, tier_id=shop.tier.id)
    admin = factories.staff_user(db, username="owner")
    sold = buy(db, shop, sara, [Line("COF", 2), Line("CUP", 3)]).purchase
    filters = Filters(Period(date(2026, 11, 20), date(2026, 11, 22)))
    rows = {row["sku"]: row for row in products_report(db, filters).rows}
    assert (rows["COF"]["units"], rows["COF"]["revenue"], rows["COF"]["stock"]) == (
        2, 800_000, 8)
    assert (rows["CUP"]["units"], rows["CUP"]["revenue"]) == (3, 300_000)
    # A partial refund cannot tell which unit came back: stock stays until the rest is.
    counter.refund(db, actor=SYSTEM,
                   purchase_id=sold.id, amount_rials=100_000, staff_user_id=admin.id,
                   request_key="counter-items-refund-1", now=NOW)
    assert stock(db, "COF") == 8
    counter.refund(db, actor=SYSTEM, purchase_id=sold.id, amount_rials=None, staff_user_id=admin.id,
                   request_key="counter-items-refund-2", now=NOW)
    assert stock(db, "COF") == 10
    rows = {row["sku"]: row for row in products_report(db, filters).rows}
    assert rows["COF"]["units"] == 0 and rows["COF"]["stock"] == 10


def test_the_summary_has_the_figures_the_terminal_prints(db, shop):
    """The same sale at a terminal and at the counter, for two members alike: an offer
    and a tier upgrade included, the counter's summary is the terminal's `tx`."""
    bronze = factories.tier(db, code="bronze", name="bronze", rank=1, credit_percent_bp=200,
                            discount_percent_bp=0)
    factories.tier(db, code="gold", name="gold", rank=3, credit_percent_bp=800,
                   min_spend_rials=500_000, min_purchases=1, qualify_mode="any")
    db.add(Offer(name="Autumn", reward_kind="percent_discount", reward_value=1000))
    factories.device(db, device_id="t01", branch_id=shop.branch.id)
    at_terminal = factories.member(db, tier_id=bronze.id, credit_rials=30_000)
    at_counter = factories.member(db, tier_id=bronze.id, credit_rials=30_000)
    db.commit()
    items = (protocol.Item("COF", 2, 400_000), protocol.Item("CUP", 1, 100_000))
    request = protocol.Request(
        id="t01-000001", seq=1, ts=int(NOW.timestamp()), op="purchase",
        card=factories.card_of(at_terminal), amount=900_000, use_credit=-1, items=items,
        ref=None, offline=False)
    body = json.loads(terminal.answer(db, "t01", request, NOW))
    assert body["ok"], body
    sale = buy(db, shop, at_counter, [Line("COF", 2), Line("CUP", 1)], use_credit=-1)
    summary = counter.purchase_summary(db, member_id=at_counter.id,
                                       purchase_id=sale.purchase.id)
    # 900,000 − 80,000 product discount − 10 % offer (82,000) = 738,000; 30,000 credit.
    assert summary.tx == body["tx"] == {
        "amount": 900_000, "discount": 162_000, "credit_used": 30_000, "payable": 708_000,
        "credit_earned": 14_160 + 4_000, "points_earned": 90 + 10, "offers": ["Autumn"],
        "tier_up": "gold"}
    assert (summary.credit_balance_rials, summary.points_balance) == (
        body["bal"]["credit"], body["bal"]["points"])
    assert [(product.sku, line.quantity) for product, line in summary.items] == [
        ("COF", 2), ("CUP", 1)]
    assert counter.purchase_summary(db, member_id=at_terminal.id,
                                    purchase_id=sale.purchase.id) is None


def test_a_cap_refusal_says_which_cap_and_how_much_it_allows(db, shop):
    shop.tier.max_credit_per_invoice_rials = 200_000
    shop.tier.max_credit_per_day_rials = 300_000
    sara = factories.member(db, tier_id=shop.tier.id, credit_rials=1_000_000)
    db.commit()
    with pytest.raises(CreditCapReached) as refused:
        buy(db, shop, sara, amount=1_000_000, use_credit=250_000)
    assert (refused.value.cap, refused.value.allowed_rials, refused.value.code) == (
        "per-invoice", 200_000, "LIMIT")
    buy(db, shop, sara, amount=1_000_000, use_credit=200_000, key="counter-items-0003")
    with pytest.raises(CreditCapReached) as refused:
        buy(db, shop, sara, amount=1_000_000, use_credit=150_000, key="counter-items-0004",
            at=NOW + timedelta(hours=1))
    assert (refused.value.cap, refused.value.allowed_rials) == ("daily", 100_000)
    db.refresh(sara)
    # 1,000,000 − 5 % = 950,000, less 200,000 credit: pays 750,000, earns 5 % = 37,500.
    assert sara.credit_balance_rials == 1_000_000 - 200_000 + 37_500


def test_products_are_suggested_by_sku_prefix_or_part_of_the_name(db, shop):
    def skus(text):
        return [product.sku for product in counter.search_products(db, text)]

    assert skus("co") == ["COF"]  # SKU prefix, any case
    assert skus("BEANS") == ["COF"]  # in the name ("Coffee beans")
    assert skus("قهوه") == ["123"] and skus("۱۲") == ["123"]
    assert skus("o") == ["COF", "CUP"]  # by name; the inactive "Old" is not offered
    assert skus("%") == [] and skus("_") == [] and skus("") == []


def test_a_top_up_is_audited_once_and_a_refused_one_not_at_all(db, staff, audit_rows):
    sara = factories.member(db)
    db.commit()  # the refusal below rolls back what is not committed
    with pytest.raises(BadRequest):
        counter.top_up(db, actor=staff, member_id=sara.id, amount_rials=0,
                       request_key="audit-top-up-refused", now=NOW)
    counter.top_up(db, actor=staff, member_id=sara.id, amount_rials=25_000,
                   request_key="audit-top-up-done", now=NOW)
    [row] = audit_rows("top_up")
    assert (row.entity, row.entity_id, row.details) == \
        ("member", str(sara.id), {"amount_rials": 25_000})
    assert db.get(Member, sara.id).credit_balance_rials == 25_000
