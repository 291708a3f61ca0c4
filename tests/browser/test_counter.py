"""Issue 18 items 2 and 6 in a real browser: a cashier sells products with item lines
typed on a Persian keyboard (SKU in Persian digits, a product by its name), adds and
removes lines without losing input, sees one summary with the terminal's figures to the
rial, and refunds after a confirmation — at desktop and phone sizes, and without
JavaScript."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.extensions import db
from backend.models import Branch, Member, Product, Purchase, Tier
from tests import factories
from tests.browser.conftest import screenshot, sign_in
from tests.browser.test_persian_numbers import SIZES, type_into
from tests.conftest import NOW

# A Sunday, 13:00 in Tehran: no weekday multiplier another test may set for Saturday,
# and not the Thursday happy hour.
SUNDAY = NOW + timedelta(days=1)
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


@pytest.fixture
def shop(live_server, request):
    """Two products and a bronze member of their own, the panel's clock on SUNDAY."""
    app = live_server.app
    suffix = request.node.callspec.id if hasattr(request.node, "callspec") else "nojs"
    serial = {"desktop": 1, "phone": 2, "nojs": 3}[suffix]
    with app.app_context():
        bronze = db.session.scalars(select(Tier).where(Tier.code == "bronze")).one()
        coffee = Product(sku=f"710{serial}", name=f"قهوه اسپرسو {serial}", price_rials=250_000,
                         points_per_unit=3, discount_percent_bp=1000,
                         extra_credit_per_unit_rials=1_000, stock=5)
        tea = Product(sku=f"TEA-{serial}", name=f"چای سبز {serial}", price_rials=80_000)
        db.session.add_all([coffee, tea])
        member = factories.member(db.session, tier_id=bronze.id, credit_rials=30_000,
                                  first_name="نگار", last_name=f"صادقی {serial}")
        central = db.session.scalars(select(Branch).where(Branch.code == "central")).one()
        factories.staff_user(db.session, username=f"cashier{serial}", full_name="صندوق‌دار",
                             role="operator", branch_id=central.id, password="cashier1234",
                             permissions=["refunds"])
        db.session.commit()
        ids = (member.id, coffee.sku, tea.name)
    app.config["CLOCK"] = lambda: SUNDAY
    yield type("Shop", (), {"member_id": ids[0], "coffee": ids[1], "tea": ids[2],
                            "cashier": f"cashier{serial}"})
    app.config.pop("CLOCK", None)


def stock(live_server, sku):
    with live_server.app.app_context():
        return db.session.scalars(select(Product.stock).where(Product.sku == sku)).one()


def check_sale(page, live_server, shop):
    """580,000: coffee 2 × 250,000 less its 10 % (50,000), tea 80,000; 10,000 credit spent;
    bronze gives 2 % of the 520,000 paid (10,400) and the coffee 2 × 1,000; points 58 for
    the amount and 2 × 3 for the coffee."""
    figures = {name: page.inner_text(f"#purchase-summary [data-figure={name}]")
               for name in ("amount", "discount", "credit_used", "payable", "credit_earned",
                            "points_earned")}
    assert figures == {"amount": "۵۸۰٬۰۰۰ ریال", "discount": "۵۰٬۰۰۰ ریال",
                       "credit_used": "۱۰٬۰۰۰ ریال", "payable": "۵۲۰٬۰۰۰ ریال",
                       "credit_earned": "۱۲٬۴۰۰ ریال", "points_earned": "۶۴"}
    assert "دریافتی از مشتری" in page.inner_text("#purchase-summary")
    assert page.inner_text("#credit-balance") == "۳۲٬۴۰۰ ریال"  # 30,000 − 10,000 + 12,400
    assert stock(live_server, shop.coffee) == 3
    with live_server.app.app_context():
        purchase = db.session.scalars(select(Purchase).where(
            Purchase.member_id == shop.member_id)).one()
        member = db.session.get(Member, shop.member_id)
        assert (purchase.amount_rials, purchase.payable_rials, purchase.points_earned) == (
            580_000, 520_000, 64)
        assert (member.credit_balance_rials, member.points_balance) == (32_400, 64)
    return purchase


def refund_with_confirmation(page, live_server, shop, purchase):
    page.click(f"tr[data-purchase='{purchase.id}'] .refund-button")
    page.wait_for_selector("#refund-confirm")
    assert "این خرید مرجوع شود؟" in page.inner_text("#refund-confirm")
    assert stock(live_server, shop.coffee) == 3  # asked, not refunded yet
    with page.expect_navigation():  # not the previous page's message
        page.click("#confirm-refund")
    page.wait_for_selector(".flash.success")
    assert page.inner_text("#credit-balance") == "۳۰٬۰۰۰ ریال"
    assert stock(live_server, shop.coffee) == 5


@pytest.mark.parametrize("size", SIZES)
def test_a_cashier_sells_items_typed_in_persian_and_sees_one_summary(page, live_server, shop,
                                                                     size):
    page.set_viewport_size(SIZES[size])
    sign_in(page, live_server, shop.cashier, "cashier1234")
    page.goto(f"{live_server.url}/members/{shop.member_id}")
    assert page.locator('input[type="number"]').count() == 0
    line = page.locator(".item-line")
    type_into(page, ".item-line >> nth=0 >> input[name=item_sku]", shop.coffee.translate(PERSIAN))
    # The product's list price fills the line and cannot be changed.
    price = line.nth(0).locator("input[name=item_price]")
    assert price.input_value() == "250000" and price.get_attribute("readonly") is not None
    type_into(page, ".item-line >> nth=0 >> input[name=item_qty]", "۲")
    page.click(".add-line")
    assert line.count() == 2
    type_into(page, ".item-line >> nth=1 >> input[name=item_sku]", shop.tea)
    assert line.nth(1).locator("input[name=item_price]").input_value() == "80000"
    page.click(".add-line")
    type_into(page, ".item-line >> nth=2 >> input[name=item_sku]", "چیزی")
    page.click(".item-line >> nth=2 >> .remove-line")
    assert line.count() == 2  # removed in place: the other lines keep what was typed
    assert line.nth(0).locator("input[name=item_qty]").input_value() == "۲"
    assert line.nth(1).locator("input[name=item_sku]").input_value() == shop.tea
    assert page.inner_text("#lines-total") == "جمع ردیف‌ها: ۵۸۰٬۰۰۰"
    type_into(page, "#use_credit", "۱۰٬۰۰۰")
    page.keyboard.press("Enter")  # Enter records the sale (the form's default button)
    page.wait_for_selector("#purchase-summary")
    purchase = check_sale(page, live_server, shop)
    # The summary, the form and the wide tables (scrolled inside their box) fit the width.
    for box in page.locator("#purchase-summary, #purchase-form, .table-scroll").all():
        edges = box.bounding_box()
        assert edges["x"] >= 0 and edges["x"] + edges["width"] <= SIZES[size]["width"] + 1
    screenshot(page, f"counter-summary-{size}")
    refund_with_confirmation(page, live_server, shop, purchase)


def test_the_form_works_without_javascript(browser, live_server, shop):
    context = browser.new_context(viewport=SIZES["desktop"], locale="fa-IR",
                                  java_script_enabled=False)
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        sign_in(page, live_server, shop.cashier, "cashier1234")
        page.goto(f"{live_server.url}/members/{shop.member_id}")
        # Part of the name, then the product picked from the suggestions.
        type_into(page, ".item-line >> nth=0 >> input[name=item_sku]", "سبز")
        page.click(".add-line")  # a round trip that keeps the line
        page.wait_for_selector(".item-line >> nth=1")
        page.click(f".item-line >> nth=0 >> button.pick:has-text('{shop.tea}')")
        page.wait_for_selector(".item-line >> nth=0 >> .line-product")
        assert page.locator(".item-line >> nth=0 >> input[name=item_sku]").input_value() == (
            "TEA-3")
        # The server filled the known product's list price, read-only.
        tea_price = page.locator(".item-line >> nth=0 >> input[name=item_price]")
        assert tea_price.input_value() == "80000"
        type_into(page, ".item-line >> nth=1 >> input[name=item_sku]",
                  shop.coffee.translate(PERSIAN))
        type_into(page, ".item-line >> nth=1 >> input[name=item_qty]", "۲")
        page.click(".add-line")
        page.wait_for_selector(".item-line >> nth=2")
        type_into(page, ".item-line >> nth=2 >> input[name=item_sku]", "چیزی")
        page.click(".item-line >> nth=2 >> .remove-line")
        page.wait_for_function("document.querySelectorAll('.item-line').length === 2")
        assert page.locator(".item-line >> nth=1 >> input[name=item_qty]").input_value() == "۲"
        type_into(page, "#use_credit", "۱۰٬۰۰۰")
        page.click("#record-purchase")
        page.wait_for_selector("#purchase-summary")
        purchase = check_sale(page, live_server, shop)
        refund_with_confirmation(page, live_server, shop, purchase)
    finally:
        context.close()
