"""Cheques and instalments (L13, issue 18 item 4) in a real browser: the cashier records
a cheque and an instalment plan from the member's page with Persian digits typed key by
key, bounces and clears the cheque, reads the history; the member reads them on a phone."""

from datetime import UTC, datetime

import jdatetime
from sqlalchemy import select

from backend.extensions import db
from backend.models import Branch, PaymentInstrument
from backend.services import member_auth, members
from backend.unit_of_work import SYSTEM
from tests.browser.conftest import screenshot, sign_in
from tests.factories import card_number


def _member(live, mobile: str, serial: int, password: str) -> int:
    with live.app.app_context():
        branch = db.session.scalars(select(Branch).where(Branch.code == "central")).one()
        member = members.register_member(db.session, actor=SYSTEM,
                                         first_name="نسرین", last_name="جعفری",
                                         mobile=mobile, card_number=card_number(serial),
                                         now=datetime.now(UTC), branch_id=branch.id)
        member_auth.set_password(db.session, member.id, password)
        return member.id


def main_fits(page) -> bool:
    """The page's content needs no sideways scrolling on a phone (wide tables scroll in
    their own box). The panel's top bar is the base layout's, not checked here."""
    return page.evaluate("(() => { const m = document.querySelector('main');"
                         " return m.scrollWidth <= m.clientWidth && m.clientWidth <= 390 })()")


def close_picker(page) -> None:
    """Close the Jalali calendar the date field opened, as a user does: a tap beside it
    (on a phone, on the overlay it lays over the page). The calendar ignores taps until
    it has finished opening (300 ms, not observable from outside), so a tap that did not
    close it is repeated, a few times at most."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    calendar = page.locator("jdp-container")
    for _ in range(5):
        overlay = page.locator("jdp-overlay")
        if overlay.is_visible():
            overlay.click(position={"x": 20, "y": 20})
        else:
            page.click("h1")
        try:
            calendar.wait_for(state="hidden", timeout=1_000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError("the Jalali calendar does not close")


def send(page, button: str) -> None:
    """Click a form's `button` and wait for the page it leads to, then for its success
    message (or, failing, say what it said). Waiting for the navigation first matters:
    the page before it may still show the previous form's success message."""
    with page.expect_navigation():
        page.click(button)
    try:
        page.wait_for_selector(".flash.success")
    except Exception:
        raise AssertionError(page.url + "\n" + page.inner_text("main")[:600]) from None


def _type(page, selector: str, text: str) -> None:
    page.locator(selector).press_sequentially(text)


def _record_cheque_and_plan(page, live, member_id: int, number: str,
                            phone: bool = False) -> None:
    """From the member's page on a desktop; on a phone straight to the forms (the member
    page's own wide tables are not this feature's), each page checked for width."""
    def start(link: str, path: str) -> None:
        if phone:
            page.goto(f"{live.url}/members/{member_id}/{path}")
        else:
            page.goto(f"{live.url}/members/{member_id}")
            page.click(link)

    def fits() -> None:
        if phone:
            assert main_fits(page)

    start("#new-cheque", "cheques/new")
    fits()
    page.select_option("#bank", "mellat")
    _type(page, "#number", number)
    _type(page, "#due_date", "۱۴۰۵/۰۹/۱۵")
    close_picker(page)
    _type(page, "#amount", "۲۵٬۰۰۰٬۰۰۰")
    _type(page, "#note", "خرید مبلمان")
    send(page, "#instrument-form button[type=submit]")
    assert page.inner_text("#instrument-amount") == "۲۵٬۰۰۰٬۰۰۰ ریال"
    assert page.inner_text("#instrument-due") == "۱۴۰۵/۰۹/۱۵"
    assert "بانک ملت" in page.inner_text("#instrument-title")
    fits()
    _type(page, "#note", "کسری موجودی")
    send(page, "#status-form button[value=bounced]")
    assert page.inner_text("#instrument-status").startswith("برگشت خورد")
    send(page, "#status-form button[value=cleared]")
    assert page.inner_text("#instrument-status") == "وصول شد"
    assert page.locator("#status-form").count() == 0
    history = page.locator("#instrument-history tbody tr")
    assert history.count() == 3
    assert "کسری موجودی" in history.nth(1).inner_text()
    assert "اپراتور مرکزی" in history.nth(2).inner_text()

    fits()
    start("#new-plan", "instalment-plans/new")
    _type(page, "#total", "۱۰٬۰۰۰٬۰۰۰")
    _type(page, "#count", "۳")
    _type(page, "#first_due", "۱۴۰۵/۰۶/۳۱")
    close_picker(page)
    send(page, "#instrument-form button[type=submit]")
    rows = page.locator("#instrument-rows tbody tr")
    assert rows.count() == 3
    assert "۳٬۳۳۳٬۳۳۴ ریال" in rows.nth(2).inner_text()
    assert "۱۴۰۵/۰۷/۳۰" in rows.nth(1).inner_text()  # Mehr has 30 days
    fits()


def test_the_cashier_records_and_clears_a_cheque_and_a_plan_on_a_desktop(page, live_server):
    member_id = _member(live_server, "09127780001", 778201, "nasrin-cheque-1")
    sign_in(page, live_server, "operator", "operator1234")
    _record_cheque_and_plan(page, live_server, member_id, "۱۲۳۴۵۶۷۸۹۰۱۲۳۴۵۶")
    screenshot(page, "panel-instalment-plan-fa")
    with live_server.app.app_context():
        rows = db.session.scalars(select(PaymentInstrument).where(
            PaymentInstrument.member_id == member_id).order_by(PaymentInstrument.id)).all()
        assert [(row.kind, row.amount_rials, row.status) for row in rows] == [
            ("cheque", 25_000_000, "cleared"), ("instalment", 3_333_333, "pending"),
            ("instalment", 3_333_333, "pending"), ("instalment", 3_333_334, "pending")]
        assert rows[0].reference == "1234567890123456"
        assert jdatetime.date.fromgregorian(date=rows[0].due_date).strftime("%Y/%m/%d") == \
            "1405/09/15"


def test_the_cashier_works_on_a_phone_and_the_member_reads_their_own(browser, live_server):
    member_id = _member(live_server, "09127780002", 778202, "nasrin-cheque-2")
    phone = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
             "locale": "fa-IR"}
    context = browser.new_context(**phone)
    context.set_default_timeout(10_000)
    page = context.new_page()
    sign_in(page, live_server, "operator", "operator1234")
    _record_cheque_and_plan(page, live_server, member_id, "۶۵۴۳۲۱۰۹۸۷۶۵۴۳۲۱", phone=True)
    page.goto(f"{live_server.url}/instruments")
    assert page.locator("#instrument-rows tbody tr").count() >= 3
    assert main_fits(page)
    screenshot(page, "panel-instruments-phone-fa")
    context.close()

    context = browser.new_context(**phone)
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/portal/sign-in")
    _type(page, "#mobile", "۰۹۱۲۷۷۸۰۰۰۲")
    page.fill("#password", "nasrin-cheque-2")
    page.click("button[type=submit]")
    page.wait_for_selector("#credit-balance")
    page.click("#instruments-link")
    page.wait_for_selector("#owed")
    assert page.inner_text("#owed") == "۱۰٬۰۰۰٬۰۰۰ ریال"  # the cheque cleared
    items = page.locator(".instrument")
    assert items.count() == 4
    text = page.inner_text("main")
    assert "بانک ملت" in text and "۶۵۴۳۲۱۰۹۸۷۶۵۴۳۲۱" in text and "وصول شد" in text
    assert "قسط ۳ از ۳" in text and "۳٬۳۳۳٬۳۳۴ ریال" in text
    assert page.locator("main form").count() == 0  # read-only
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "portal-instruments-fa")
    context.close()
