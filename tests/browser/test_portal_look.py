"""The portal on a phone and a desktop (issue 18 item 13): a transfer's other party by a
masked name, offers with their conditions in Persian, in the Vazirmatn font."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from backend.engine.calendar import local_day_end_utc
from backend.extensions import db
from backend.models import Offer, Tier, the_club
from backend.services import member_auth, members, wallet
from backend.unit_of_work import SYSTEM
from tests.browser.conftest import screenshot
from tests.browser.test_panel_look import calendar_beside, closes
from tests.factories import card_number

SIZES = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1280, "height": 900}}


@pytest.mark.parametrize("size", list(SIZES))
def test_history_names_the_friend_masked_and_offers_show_their_conditions(browser,
                                                                         live_server, size):
    serial = 777300 + len(size)
    now = datetime.now(UTC)
    with live_server.app.app_context():
        silver = db.session.scalars(select(Tier).where(Tier.code == "silver")).one()
        sender = members.register_member(
            db.session, actor=SYSTEM,
            first_name="شیرین", last_name="افشار", mobile=f"0913{serial:07d}",
            card_number=card_number(serial), now=now)
        friend = members.register_member(
            db.session, actor=SYSTEM, first_name="کامران", last_name="رستمی",
            mobile=f"0914{serial:07d}", card_number=card_number(serial + 50), now=now)
        sender.tier_id = silver.id
        club = the_club(db.session)
        club.max_transfer_rials = max(club.max_transfer_rials, 100_000)
        club.max_transfer_per_day_rials = max(club.max_transfer_per_day_rials, 100_000)
        db.session.commit()
        member_auth.set_password(db.session, sender.id, "shirin-pass-1")
        wallet.transfer_credit(db.session, actor=SYSTEM,
                               from_member_id=sender.id, to_member_id=friend.id,
                               amount_rials=20_000, idempotency_key=f"browser-look-{size}",
                               now=now)
        # Silver members only (the other browser tests' members are bronze), from 5,000,000.
        offer = Offer(name=f"جمعه‌های نقره‌ای {size}", reward_kind="bonus_points",
                      reward_value=50, min_amount_rials=5_000_000, weekdays=[6],
                      tier_codes="silver", max_uses_per_member=1,
                      ends_at=local_day_end_utc(date(2027, 3, 20)))
        db.session.add(offer)
        db.session.commit()
        offer_id, mobile = offer.id, sender.mobile
    context = browser.new_context(viewport=SIZES[size], is_mobile=size == "phone",
                                  has_touch=size == "phone", locale="fa-IR")
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/portal/sign-in")
        page.fill("#mobile", mobile)
        page.fill("#password", "shirin-pass-1")
        page.click("button[type=submit]")
        page.wait_for_selector("#credit-balance")
        page.goto(f"{live_server.url}/portal/history")
        party = page.locator("ul.history .party")
        assert party.all_inner_texts() == ["به ک*** ر***"]
        assert "رستمی" not in page.inner_text("ul.history")
        page.goto(f"{live_server.url}/portal/offers")
        section = page.locator(f"[data-offer='{offer_id}']")
        texts = section.locator("li").all_inner_texts()
        assert texts == ["برای خرید ۵٬۰۰۰٬۰۰۰ ریال یا بیشتر", "روزها: جمعه",
                         "ویژهٔ اعضای سطح: نقره‌ای", "تا ۱۴۰۵/۱۲/۲۹",
                         "برای هر عضو حداکثر ۱ بار"]
        assert "۵۰ امتیاز هدیه" in section.inner_text()
        assert page.evaluate("document.fonts.check('16px Vazirmatn', 'جمعه')")
        assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[size]["width"]
        screenshot(page, f"portal-offers-{size}-fa")
        # The profile's birth date has the panel's Jalali calendar, beside the field.
        page.goto(f"{live_server.url}/portal/profile")
        page.click("#birth_date")
        calendar_beside(page, "#birth_date")
        closes(page, "Escape")
        assert page.evaluate("document.activeElement.id") == "birth_date"
    finally:
        context.close()
        with live_server.app.app_context():
            db.session.get(Offer, offer_id).is_active = False
            db.session.commit()
