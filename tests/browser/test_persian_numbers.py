"""Issue 18 items 8 and 9 in a real browser: numbers typed with a Persian keyboard (key
by key, Persian digits and the Arabic separators it types) reach the server, and
percentages are typed and read as percent — at desktop and phone sizes."""

import pytest
from sqlalchemy import select

from backend.extensions import db
from backend.models import Offer, Tier
from tests.browser.conftest import screenshot, sign_in

SIZES = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def type_into(page, selector: str, text: str) -> None:
    """Click the field and type as a Persian keyboard does, one key at a time."""
    page.click(selector)
    page.keyboard.press("Control+A")
    page.keyboard.press("Backspace")
    page.keyboard.type(text)


@pytest.mark.parametrize("size", SIZES)
def test_a_tier_typed_with_persian_digits_is_saved_to_the_rial(page, live_server, size):
    page.set_viewport_size(SIZES[size])
    sign_in(page, live_server, "admin", "admin1234")
    page.goto(f"{live_server.url}/catalogue/tiers/new")
    assert page.locator('input[type="number"]').count() == 0
    assert page.get_attribute("#credit_percent", "inputmode") == "decimal"
    assert page.get_attribute("#rank", "inputmode") == "numeric"
    code = f"vip{size}"
    type_into(page, "#code", code)
    type_into(page, "#name", "VIP")
    type_into(page, "#rank", "۱۰")
    type_into(page, "#credit_percent", "۵٫۵")
    type_into(page, "#discount_percent", "۱۲")
    type_into(page, "#point_step", "۱۰٬۰۰۰")
    # Out of reach: the live server is shared, no other test's member may qualify.
    type_into(page, "#min_spend", "۱۰۰۰۰۰۰۰۰۰۰۰")
    type_into(page, "#points_per_step", "٣")  # Arabic-Indic digits too
    assert page.input_value("#min_spend") == "۱۰۰۰۰۰۰۰۰۰۰۰"  # the field kept what was typed
    with page.expect_navigation():  # not the previous page's message
        page.click("button[type=submit]")
    page.wait_for_selector(".flash.success")
    row = page.locator("table.list tr", has_text=code)
    assert "۵٫۵٪" in row.inner_text() and "۱۲٪" in row.inner_text()
    screenshot(page, f"tiers-percent-{size}")
    with live_server.app.app_context():
        tier = db.session.scalars(select(Tier).where(Tier.code == code)).one()
        assert (tier.rank, tier.credit_percent_bp, tier.discount_percent_bp) == (10, 550, 1200)
        assert (tier.point_step_rials, tier.min_spend_rials, tier.points_per_step) == (
            10_000, 10**11, 3)


def test_an_offer_of_ten_percent_is_typed_and_listed_as_ten_percent(page, live_server):
    sign_in(page, live_server, "admin", "admin1234")
    page.goto(f"{live_server.url}/catalogue/offers/new")
    type_into(page, "#name", "جشنوارهٔ زمستان")
    page.select_option("#reward_kind", "percent_discount")
    type_into(page, "#reward_value", "۱۰")
    type_into(page, "#max_uses_per_member", "۲")
    page.uncheck("#is_active")  # the live server is shared: no other test gets 10 % off
    with page.expect_navigation():  # not the previous page's message
        page.click("button[type=submit]")
    page.wait_for_selector(".flash.success")
    row = page.locator("table.list tr", has_text="جشنوارهٔ زمستان")
    assert "۱۰٪" in row.inner_text() and "۱۰۰۰" not in row.inner_text()
    with live_server.app.app_context():
        offer = db.session.scalars(select(Offer).where(Offer.name == "جشنوارهٔ زمستان")).one()
        assert (offer.reward_value, offer.max_uses_per_member) == (1000, 2)
