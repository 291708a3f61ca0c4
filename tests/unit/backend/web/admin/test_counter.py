"""The counter's purchase form with item lines, without JavaScript (issue 18 items 2 and
6): lines typed in Persian digits, added and removed by a round trip that keeps them,
errors next to their line; after the sale one summary with the terminal's figures; a cap
refusal naming its cap; a refund that asks first; spend and earn as separate ledger lines."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import func, select

from backend.models import Product, Purchase, PurchaseItem
from tests import factories
from tests.conftest import NOW
from tests.unit.backend.web.admin.test_members import form_key, sign_in


@pytest.fixture
def counter_page(client, db, app):
    app.config["CLOCK"] = lambda: NOW
    branch = factories.branch(db)
    tier = factories.tier(db, code="silver")  # 5 % discount, 5 % back, 1 point / 10,000
    db.add_all([
        Product(sku="COF", name="Coffee beans", price_rials=400_000, points_per_unit=5,
                discount_percent_bp=1000, extra_credit_per_unit_rials=2_000, stock=10),
        Product(sku="CUP", name="Cup of tea", price_rials=100_000),
        Product(sku="SRV", name="Repair", price_rials=0),
    ])
    member = factories.member(db, tier_id=tier.id, home_branch_id=branch.id,
                              credit_rials=50_000)
    sign_in(client, db, role="operator", branch_id=branch.id, perms=("refunds",))
    page = client.get(f"/members/{member.id}").get_data(as_text=True)
    return type("Counter", (), {"member": member, "tier": tier, "key": form_key(page),
                                "url": f"/members/{member.id}/purchase", "page": page})


def lines(*rows):
    """Form data of item lines: repeated item_sku, item_qty, item_price."""
    return {"item_sku": [row[0] for row in rows], "item_qty": [row[1] for row in rows],
            "item_price": [row[2] for row in rows]}


def count(db, model):
    return db.scalar(select(func.count()).select_from(model))


def line_values(page: str, name: str) -> list[str]:
    return re.findall(rf'name="{name}" value="([^"]*)"', page)


def test_the_form_has_item_lines_and_no_number_inputs(counter_page):
    page = counter_page.page
    assert 'type="number"' not in page
    assert line_values(page, "item_sku") == [""]
    assert 'list="product-list"' in page and '<option value="COF"' in page
    assert "Coffee beans · ۴۰۰٬۰۰۰ ریال" in page and "Repair · قیمت آزاد" in page
    assert 'name="add_line"' in page and 'name="remove_line"' in page


def test_a_sale_with_lines_in_persian_digits_shows_one_summary(client, db, counter_page):
    response = client.post(counter_page.url, data={
        "request_key": counter_page.key, "amount": "", "use_credit": "۰",
        **lines(("COF", "۲", ""), ("cup of tea", "", ""), ("SRV", "١", "۷۰٬۰۰۰"))})
    assert response.status_code == 302, response.get_data(as_text=True)
    location = urlsplit(response.headers["Location"])
    purchase = db.scalars(select(Purchase)).one()
    assert parse_qs(location.query)["purchase"] == [str(purchase.id)]
    assert location.fragment == "purchase-summary"
    # 970,000; products' discount 80,000; tier 5 % of 890,000 = 44,500; pays 845,500.
    assert (purchase.amount_rials, purchase.discount_rials, purchase.payable_rials) == (
        970_000, 124_500, 845_500)
    # 5 % of 845,500 = 42,275 plus 2 × 2,000; points 97 plus 2 × 5.
    assert (purchase.credit_earned_rials, purchase.points_earned) == (46_275, 107)
    assert count(db, PurchaseItem) == 3
    assert db.scalars(select(Product.stock).where(Product.sku == "COF")).one() == 8
    page = client.get(f"{location.path}?{location.query}").get_data(as_text=True)
    summary = page[page.index('id="purchase-summary"'):page.index('class="actions-grid"')]
    figures = dict(re.findall(r'data-figure="(\w+)" data-(?:rials|points)="(\d+)"', summary))
    assert figures == {"amount": "970000", "discount": "124500", "credit_used": "0",
                       "payable": "845500", "credit_earned": "46275", "points_earned": "107"}
    assert "دریافتی از مشتری" in summary and "۸۴۵٬۵۰۰ ریال" in summary
    assert "Coffee beans" in summary and "۸۰۰٬۰۰۰" in summary  # the line's total
    assert "اعتبار فعلی" in summary and "۹۶٬۲۷۵ ریال" in summary  # 50,000 + 46,275


def test_lines_are_added_and_removed_without_javascript_keeping_input(client, db, counter_page):
    typed = {"request_key": counter_page.key, "amount": "", "use_credit": "۱۰٬۰۰۰",
             **lines(("COF", "۲", ""), ("قهوه", "۳", "۵۰۰"))}
    added = client.post(counter_page.url, data={**typed, "add_line": "1"})
    assert added.status_code == 200
    page = added.get_data(as_text=True)
    assert line_values(page, "item_sku") == ["COF", "قهوه", ""]
    assert line_values(page, "item_qty") == ["۲", "۳", ""]
    # A known product's list price is filled in, read-only; the rest as typed.
    assert line_values(page, "item_price") == ["400000", "۵۰۰", ""]
    assert re.search(r'name="item_price" value="400000"[^>]*readonly', page)
    assert 'value="۱۰٬۰۰۰"' in page and form_key(page) == counter_page.key
    removed = client.post(counter_page.url, data={**typed, "remove_line": "0"})
    assert line_values(removed.get_data(as_text=True), "item_sku") == ["قهوه"]
    assert count(db, Purchase) == 0


@pytest.mark.parametrize(("row", "name", "message"), [
    (("NOPE", "1", ""), "item_sku", "کالایی با این کد یا نام نیست."),
    (("COF", "۰", ""), "item_qty", "تعداد را از ۱ تا ۱٬۰۰۰٬۰۰۰ وارد کنید."),
    (("COF", "۱۱", ""), "item_qty", "از این کالا فقط ۱۰ عدد موجود است."),
    (("COF", "-1", ""), "item_qty", "عدد صحیح"),
    (("CUP", "1", "۹۰٬۰۰۰"), "item_price", "این کالا به قیمت ثابتش، ۱۰۰٬۰۰۰ ریال، فروخته"),
    (("SRV", "1", ""), "item_price", "این کالا قیمت ثابت ندارد"),
])
def test_a_bad_line_is_shown_next_to_it_and_nothing_is_written(client, db, counter_page, row,
                                                               name, message):
    response = client.post(counter_page.url, data={
        "request_key": counter_page.key, "use_credit": "0",
        **lines(("CUP", "1", ""), row)})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    second = page[page.index('data-line="1"'):page.index('data-line="1"') + 3000]
    assert f'data-error-for="{name}"' in second and message in second
    assert line_values(page, "item_sku") == ["CUP", row[0]]
    assert count(db, Purchase) == 0 and count(db, PurchaseItem) == 0
    assert db.scalars(select(Product.stock).where(Product.sku == "COF")).one() == 10


def test_an_amount_that_is_not_the_lines_total_is_refused(client, db, counter_page):
    response = client.post(counter_page.url, data={
        "request_key": counter_page.key, "amount": "۱۰۰", **lines(("CUP", "2", ""))})
    assert response.status_code == 400
    assert "جمع ردیف‌های کالا ۲۰۰٬۰۰۰ ریال است" in response.get_data(as_text=True)
    empty = client.post(counter_page.url, data={"request_key": counter_page.key, "amount": ""})
    assert "مبلغ خرید را وارد کنید یا ردیف کالا بیفزایید." in empty.get_data(as_text=True)
    assert count(db, Purchase) == 0


def test_a_cap_refusal_says_which_cap_and_how_much_is_left(client, db, counter_page):
    counter_page.tier.max_credit_per_invoice_rials = 20_000
    db.flush()
    response = client.post(counter_page.url, data={
        "request_key": counter_page.key, "amount": "200000", "use_credit": "۳۰٬۰۰۰"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert ('<span class="error" data-error-for="use_credit">سقف مصرف اعتبار در هر فاکتور '
            'حداکثر ۲۰٬۰۰۰ ریال در یک خرید است.</span>') in page
    counter_page.tier.max_credit_per_invoice_rials = None
    counter_page.tier.max_credit_per_day_rials = 25_000
    db.flush()
    assert client.post(counter_page.url, data={
        "request_key": counter_page.key, "amount": "200000", "use_credit": "۲۰٬۰۰۰"}
    ).status_code == 302
    page = client.get(f"/members/{counter_page.member.id}").get_data(as_text=True)
    response = client.post(counter_page.url, data={
        "request_key": form_key(page), "amount": "200000", "use_credit": "۱۰٬۰۰۰"})
    assert "سقف روزانهٔ مصرف اعتبار امروز فقط ۵٬۰۰۰ ریال دیگر اجازه می‌دهد." in (
        response.get_data(as_text=True))
    assert count(db, Purchase) == 1


def test_spend_and_earn_are_separate_ledger_lines_and_a_refund_asks_first(client, db,
                                                                          counter_page):
    assert client.post(counter_page.url, data={
        "request_key": counter_page.key, "amount": "200000", "use_credit": "۲۰٬۰۰۰"}
    ).status_code == 302
    purchase = db.scalars(select(Purchase)).one()
    page = client.get(f"/members/{counter_page.member.id}").get_data(as_text=True)
    rows = re.findall(rf'<tr data-transaction="{purchase.ledger_transaction_id}" '
                      r'data-direction="(\w+)">(.*?)</tr>', page, re.S)
    assert [direction for direction, _ in rows] == ["out", "in"]
    spent, earned = rows[0][1], rows[1][1]
    # 200,000 − 10,000 discount − 20,000 credit = 170,000 paid; 5 % back, 20 points.
    assert "اعتبار مصرفی" in spent and "−۲۰٬۰۰۰" in spent and "plus" not in spent
    assert "کسب‌شده" in earned and "+۸٬۵۰۰" in earned and "+۲۰" in earned
    prefix = f"refund{purchase.id}"
    refund = {f"{prefix}-request_key": form_key(page, prefix), f"{prefix}-amount": "۵۰٬۰۰۰"}
    asked = client.post(f"/members/{counter_page.member.id}/refund/{purchase.id}", data=refund)
    assert asked.status_code == 200
    confirm = asked.get_data(as_text=True)
    assert "این خرید مرجوع شود؟" in confirm and 'data-rials="50000"' in confirm
    # A quarter of the purchase: 42,500 cash, 5,000 credit back, 2,125 credit, 5 points.
    assert 'data-rials="42500"' in confirm and 'data-rials="5000"' in confirm
    assert 'data-rials="2125"' in confirm and 'name="confirm" value="1"' in confirm
    db.refresh(purchase)
    assert purchase.refunded_amount_rials == 0
    done = client.post(f"/members/{counter_page.member.id}/refund/{purchase.id}",
                       data={**refund, "confirm": "1"})
    assert done.status_code == 302
    db.refresh(purchase)
    assert purchase.refunded_amount_rials == 50_000


def test_more_than_fifty_lines_are_refused_above_the_lines(client, db, counter_page):
    response = client.post(counter_page.url, data={
        "request_key": counter_page.key, **lines(*[("CUP", "1", "")] * 51)})
    assert response.status_code == 400
    assert ('<p class="error" data-error-for="items">هر خرید حداکثر ۵۰ ردیف کالا دارد.</p>'
            in response.get_data(as_text=True))
    assert count(db, Purchase) == 0


def test_the_summary_names_the_offers_and_the_new_tier(client, db, counter_page):
    from backend.models import Offer

    factories.tier(db, code="gold", name="gold", name_fa="طلایی", rank=3,
                   min_spend_rials=100_000, min_purchases=1, qualify_mode="any")
    db.add(Offer(name="جشن پاییز", reward_kind="bonus_points", reward_value=7))
    db.flush()
    response = client.post(counter_page.url, data={
        "request_key": counter_page.key, **lines(("CUP", "۲", ""))})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    summary = page[page.index('id="purchase-summary"'):page.index('class="actions-grid"')]
    assert re.search(r'data-figure="offers">\s*جشن پاییز', summary)
    # 200,000: 20 points for the amount and 7 of the offer.
    assert 'data-figure="points_earned" data-points="27"' in summary
    assert "سطح جدید" in summary and "طلایی" in re.search(
        r'data-figure="tier_up">(.*?)</dd>', summary, re.S).group(1)


def test_a_product_is_found_by_part_of_its_name_without_javascript(client, db, counter_page):
    typed = {"request_key": counter_page.key, **lines(("tea", "۳", ""))}
    response = client.post(counter_page.url, data=typed)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "کالایی با این کد یا نام نیست." in page
    assert 'name="pick_line" value="0:CUP"' in page and "Cup of tea" in page
    picked = client.post(counter_page.url, data={**typed, "pick_line": "0:CUP"})
    assert picked.status_code == 200
    page = picked.get_data(as_text=True)
    assert line_values(page, "item_sku") == ["CUP"] and line_values(page, "item_qty") == ["۳"]
    assert line_values(page, "item_price") == ["100000"]
    assert count(db, Purchase) == 0
