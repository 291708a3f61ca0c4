"""Issue 18 items 1, 3 and 5 in a real browser, each reached through its user's own
page, with Persian digits typed key by key as a Persian keyboard types them."""

from datetime import UTC, datetime

from sqlalchemy import select

from backend.extensions import db
from backend.models import Member, Offer, Reward, the_club
from backend.services import member_auth, members
from backend.unit_of_work import SYSTEM
from tests.browser.conftest import screenshot, sign_in
from tests.factories import card_number


def _member(live, mobile: str, serial: int, points: int, password: str) -> int:
    with live.app.app_context():
        member = members.register_member(db.session, actor=SYSTEM,
                                         first_name="Nasrin", last_name="Jafari",
                                         mobile=mobile, card_number=card_number(serial),
                                         now=datetime.now(UTC))
        member_auth.set_password(db.session, member.id, password)
        if points:
            from backend import ledger
            ledger.post(db.session, member=ledger.lock_member(db.session, member.id),
                        idempotency_key=f"browser-points-{member.id}", kind="grant",
                        movements=[ledger.Movement("points", points)],
                        reason="test grant", now=datetime.now(UTC))
            db.session.commit()
        return member.id


def _phone(browser):
    return browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                               has_touch=True, locale="fa-IR")


def _portal_sign_in(page, live, mobile_fa: str, password: str) -> None:
    page.goto(f"{live.url}/portal/sign-in")
    page.locator("#mobile").press_sequentially(mobile_fa)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("#credit-balance")


def test_a_member_converts_points_and_takes_a_reward_on_a_phone(browser, live_server):
    """L1 in the portal: 1,000 points at 100 rials; 400 typed as ۴۰۰ become 40,000
    rials of credit on top of the 50,000 welcome credit; the 300-point coffee adds 30,000
    more and leaves 300 points."""
    member_id = _member(live_server, "09127770001", 777201, 1_000, "nasrin-pass-1")
    with live_server.app.app_context():
        db.session.add(Reward(name="قهوهٔ رایگان", kind="discount", points_cost=300,
                              value_rials=30_000, stock=5))
        db.session.commit()
    context = _phone(browser)
    page = context.new_page()
    _portal_sign_in(page, live_server, "۰۹۱۲۷۷۷۰۰۰۱", "nasrin-pass-1")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.click("#use-points")
    page.wait_for_selector("#spendable-points")
    assert page.inner_text("#spendable-points") == "۱٬۰۰۰"
    page.locator("#points").press_sequentially("۴۰۰")
    with page.expect_navigation():  # not the previous page's message
        page.click("#convert-form button[type=submit]")
    page.wait_for_selector(".flash.success")
    assert page.inner_text("#credit-balance") == "۹۰٬۰۰۰ ریال"
    assert page.inner_text("#spendable-points") == "۶۰۰"
    with page.expect_navigation():  # not the previous page's message
        page.locator(".reward", has_text="قهوهٔ رایگان").locator("button").click()
    page.wait_for_selector(".flash.success")
    assert page.inner_text("#credit-balance") == "۱۲۰٬۰۰۰ ریال"
    assert page.inner_text("#spendable-points") == "۳۰۰"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "portal-points-fa")
    context.close()
    with live_server.app.app_context():
        member = db.session.get(Member, member_id)
        assert (member.credit_balance_rials, member.points_balance) == (120_000, 300)


def test_the_cashier_converts_points_at_the_counter(page, live_server):
    member_id = _member(live_server, "09127770002", 777202, 500, "nasrin-pass-2")
    sign_in(page, live_server, "operator", "operator1234")
    page.goto(f"{live_server.url}/members/{member_id}")
    page.locator("#convert-points").press_sequentially("۲۵۰")
    with page.expect_navigation():  # not the previous page's message
        page.click("#convert-form button[type=submit]")
    page.wait_for_selector(".flash.success")
    assert page.inner_text(".flash.success") == "امتیاز به اعتبار تبدیل شد."
    with live_server.app.app_context():
        member = db.session.get(Member, member_id)
        # 50,000 welcome credit + 250 points at 100 rials.
        assert (member.credit_balance_rials, member.points_balance) == (75_000, 250)


def test_the_admin_sets_weekday_points_and_a_happy_hour(page, live_server):
    """L7: Saturday double points typed as ۲۰۰, and a Thursday 17:00–19:00 offer."""
    sign_in(page, live_server, "admin", "admin1234")
    page.goto(f"{live_server.url}/settings")
    saturday = page.locator("#weekday_0")
    saturday.fill("")
    saturday.press_sequentially("۲۰۰")
    with page.expect_navigation():  # not the previous page's message
        page.click("button[type=submit]")
    page.wait_for_selector(".flash.success")
    page.click("text=پیشنهادها و کمپین‌ها")
    page.click("a.button.primary >> text=افزودن")
    page.fill("#name", "ساعت شاد پنجشنبه")
    page.select_option("#reward_kind", "fixed_discount")
    page.locator("#reward_value").press_sequentially("۱۰٬۰۰۰")
    page.check("input[name=weekdays][value='5']")
    page.locator("#from_time").press_sequentially("۱۷:۰۰")
    page.locator("#until_time").press_sequentially("۱۹:۰۰")
    with page.expect_navigation():  # not the previous page's message
        page.click("button[type=submit]")
    page.wait_for_selector(".flash.success")
    with live_server.app.app_context():
        club = the_club(db.session)
        assert club.weekday_points_percent == [200, 100, 100, 100, 100, 100, 100]
        offer = db.session.scalars(select(Offer).where(Offer.name == "ساعت شاد پنجشنبه")).one()
        assert (offer.weekdays, offer.from_minute, offer.until_minute) == ([5], 1020, 1140)
        club.weekday_points_percent = [100] * 7  # the other browser tests expect 1x
        offer.is_active = False
        db.session.commit()


def test_a_member_completes_the_profile_and_gets_the_reward_once(browser, live_server):
    """P2: birth date typed Jalali in Persian digits, gender and city; 500 points once."""
    with live_server.app.app_context():
        club = the_club(db.session)
        club.profile_reward_kind, club.profile_reward_value = "points", 500
        db.session.commit()
    member_id = _member(live_server, "09127770003", 777203, 0, "nasrin-pass-3")
    context = _phone(browser)
    page = context.new_page()
    _portal_sign_in(page, live_server, "۰۹۱۲۷۷۷۰۰۰۳", "nasrin-pass-3")
    page.click("nav.tabs >> text=من")
    page.wait_for_selector("#profile-reward")
    page.locator("#birth_date").press_sequentially("۱۳۷۰/۰۸/۳۰")
    page.keyboard.press("Escape")  # close the Jalali picker
    page.select_option("#gender", "f")
    page.locator("#city").press_sequentially("شیراز")
    with page.expect_navigation():  # not the previous page's message
        page.click("form.card button[type=submit]")
    page.wait_for_selector(".flash.success")
    assert "هدیهٔ شما" in page.inner_text("main")
    assert page.locator("#profile-reward").count() == 0
    page.click("form.card button[type=submit]")  # saving again gives nothing more
    page.wait_for_selector(".flash.success")
    context.close()
    with live_server.app.app_context():
        member = db.session.get(Member, member_id)
        assert member.points_balance == 500 and member.city == "شیراز"
        assert member.birth_date.isoformat() == "1991-11-21"
        club = the_club(db.session)
        club.profile_reward_kind, club.profile_reward_value = "none", 0
        db.session.commit()
