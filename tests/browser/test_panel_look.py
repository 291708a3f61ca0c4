"""The panel as a shop owner sees it (issue 18 item 13), at desktop and phone sizes: the
Vazirmatn font really loaded, the sidebar grouped by task, the dashboard's figures equal
to the service's, and a Jalali calendar that stays beside its field and closes on Escape."""

from datetime import UTC, datetime

import pytest

from backend.extensions import db
from backend.models import Branch
from backend.services import counter, dashboard, members
from backend.unit_of_work import SYSTEM
from tests.browser.conftest import screenshot, sign_in
from tests.factories import card_number

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 700}
LATIN = str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789")

FONT_LOADED = """async () => {
    await document.fonts.ready;
    const faces = [...document.fonts].filter(
        (face) => face.family.replace(/"/g, "") === "Vazirmatn");
    return {
        check: document.fonts.check('16px Vazirmatn', 'سلام'),
        loaded: faces.filter((face) => face.status === "loaded").map((face) => face.weight),
        body: getComputedStyle(document.body).fontFamily,
    };
}"""


def test_vazirmatn_is_loaded_in_the_panel_and_the_portal(page, live_server):
    sign_in(page, live_server, "admin", "admin1234")
    font = page.evaluate(FONT_LOADED)
    assert font["check"] and "400" in font["loaded"], font
    assert font["body"].startswith("Vazirmatn")
    assert "700" in page.evaluate(FONT_LOADED)["loaded"]  # the headings are bold
    page.goto(f"{live_server.url}/portal/sign-in")
    font = page.evaluate(FONT_LOADED)
    assert font["check"] and "400" in font["loaded"], font


def box(page, selector):
    return page.evaluate(f"""() => {{
        const r = document.querySelector({selector!r}).getBoundingClientRect();
        return {{top: r.top, bottom: r.bottom, left: r.left, right: r.right}};
    }}""")


def test_the_sidebar_is_grouped_by_task_and_folds_at_phone_width(page, live_server):
    sign_in(page, live_server, "admin", "admin1234")
    page.goto(f"{live_server.url}/catalogue/offers")
    groups = page.locator("nav.side .group h2").all_inner_texts()
    assert groups == ["فروش", "باشگاه", "اعضا", "پیام‌ها و اخبار", "گزارش‌ها", "تنظیمات"]
    assert page.locator("nav.side [aria-current=page]").all_inner_texts() == [
        "پیشنهادها و کمپین‌ها"]
    assert not page.locator("#nav-toggle").is_visible()
    screenshot(page, "panel-sidebar-fa")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/dashboard")
    assert page.locator("#nav-toggle").is_visible()
    assert page.get_attribute("#nav-toggle", "aria-expanded") == "false"
    assert not page.locator("#nav-groups").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    page.click("#nav-toggle")
    assert page.locator("#nav-groups").is_visible()
    page.click("nav.side >> text=سطح‌ها")
    page.wait_for_url("**/catalogue/tiers")
    assert page.locator("nav.side [aria-current=page]").inner_text() == "سطح‌ها"


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_dashboard_shows_the_services_figures_and_draws_the_trend(page, live_server, size):
    with live_server.app.app_context():
        member = members.register_member(
            db.session, actor=SYSTEM, first_name="نیلوفر", last_name="صادقی",
            mobile=f"0912555{size['width']:04d}", card_number=card_number(778000 + size["width"]),
            now=datetime.now(UTC))
        branch_id = db.session.query(Branch.id).first()[0]
        counter.record_purchase(db.session, actor=SYSTEM, member_id=member.id, branch_id=branch_id,
                                amount_rials=432_100, use_credit_rials=10_000,
                                request_key=f"browser-dashboard-{size['width']}-purchase",
                                now=datetime.now(UTC))
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    # A CSP violation is reported on the console; the panel has no favicon (a 404).
    page.on("console", lambda message: message.type == "error"
            and "404" not in message.text and problems.append(message.text))
    page.set_viewport_size(size)
    sign_in(page, live_server, "admin", "admin1234")
    page.wait_for_selector("#trend-chart[data-drawn='1']")
    with live_server.app.app_context():
        expected = dashboard.overview(db.session, datetime.now(UTC))
    for change, tile in zip(expected.changes, ("purchases", "sales", "new-members",
                                                "credit-issued", "credit-spent"), strict=True):
        shown = page.locator(f"#{tile}")
        assert int(shown.get_attribute("data-today")) == change.today, tile
        assert int(shown.get_attribute("data-last-week")) == change.last_week, tile
        assert shown.get_attribute("data-direction") == change.direction, tile
    sales = expected.today.sales_rials
    assert page.inner_text("#sales strong") == f"{sales:,} ریال".translate(
        str.maketrans("0123456789,", "۰۱۲۳۴۵۶۷۸۹٬"))
    painted = page.evaluate("""() => {
        const canvas = document.querySelector("#trend-chart");
        const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
        return pixels.data.some((value) => value !== 0);
    }""")
    assert painted
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    screenshot(page, f"panel-dashboard-{'phone' if size is PHONE else 'desktop'}-fa")
    assert not problems, problems


def calendar_beside(page, field: str) -> None:
    """The open calendar is inside the viewport and does not overlap its field."""
    page.locator("jdp-container").wait_for(state="visible")
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => "
                  "requestAnimationFrame(done)))")  # placed in the frame after it opened
    calendar, input_box = box(page, "jdp-container"), box(page, field)
    viewport = page.viewport_size
    assert calendar["top"] >= 0 and calendar["bottom"] <= viewport["height"], calendar
    assert calendar["left"] >= 0 and calendar["right"] <= viewport["width"], calendar
    overlap = (calendar["top"] < input_box["bottom"] and input_box["top"] < calendar["bottom"]
               and calendar["left"] < input_box["right"] and input_box["left"] < calendar["right"])
    assert not overlap, (calendar, input_box)


def closes(page, *keys: str, click: str | None = None) -> None:
    """Press `keys` (or click `click`); the calendar closes and stays closed past the
    vendor's opening timer (jalali-calendar.js sends "jalali-calendar-closed" then)."""
    page.evaluate("""() => { window.calendarClosed = new Promise((done) =>
        document.addEventListener("jalali-calendar-closed", done, {once: true})); }""")
    if click:
        page.click(click)
    for key in keys:
        page.keyboard.press(key)
    page.evaluate("() => window.calendarClosed")
    assert not page.locator("jdp-container").is_visible()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_jalali_calendar_stays_beside_its_field_and_closes_on_escape(page, live_server,
                                                                         size):
    page.set_viewport_size(size)
    sign_in(page, live_server, "operator", "operator1234")
    page.goto(f"{live_server.url}/members/new")
    page.click("#birth_date")
    calendar_beside(page, "#birth_date")
    # Escape closes it at once and the field keeps the focus: typing goes on.
    closes(page, "Escape")
    assert page.evaluate("document.activeElement.id") == "birth_date"
    page.keyboard.type("۱۳۷۰/۰۱/۰۲")
    assert page.input_value("#birth_date") == "۱۳۷۰/۰۱/۰۲"
    # A click on the field that kept the focus opens it again (no focusin comes).
    page.click("#birth_date")
    page.locator("jdp-container").wait_for(state="visible")
    calendar_beside(page, "#birth_date")
    # Opened again, the calendar shows the typed day (its digits now Latin for it).
    page.click("#mobile")
    page.click("#birth_date")
    page.locator("jdp-container .jdp-day.selected").wait_for(state="visible")
    assert page.input_value("#birth_date") == "1370/01/02"
    assert "1370" in page.locator("jdp-container select").evaluate_all(
        "(selects) => selects.map((select) => select.value)")
    # Escape right after opening (the vendor's animation still running) closes it too.
    page.click("#mobile")
    page.click("#birth_date")
    closes(page, "Escape")
    # A click outside closes it; Tab to the next field closes it.
    page.click("#mobile")
    page.click("#birth_date")
    page.locator("jdp-container").wait_for(state="visible")
    closes(page, click="h1")
    page.focus("#birth_date")
    page.locator("jdp-container").wait_for(state="visible")
    page.keyboard.press("Tab")  # the next field is a date too: its calendar, beside it
    assert page.evaluate("document.activeElement.id") == "wedding_date"
    calendar_beside(page, "#wedding_date")
    closes(page, "Tab")
    assert page.evaluate("document.activeElement.id") not in ("birth_date", "wedding_date")
    # Near the bottom of the window it opens above the field, or the page makes room.
    page.evaluate("""() => {
        const field = document.querySelector('#birth_date');
        const rect = field.getBoundingClientRect();
        window.scrollBy(0, rect.bottom - innerHeight + 8);
    }""")
    page.click("#birth_date")
    calendar_beside(page, "#birth_date")
    screenshot(page, f"panel-datepicker-{'phone' if size is PHONE else 'desktop'}-fa")
    page.click("jdp-container .jdp-btn-today")
    assert page.input_value("#birth_date").startswith(("14", "۱۴"))
    # The keyboard alone: ↓ starts on the chosen day, ↓ a week on, ← the next day
    # (right to left), PageDown a month on, Enter takes it; the focus never leaves.
    page.fill("#birth_date", "۱۴۰۳/۰۷/۱۰")
    page.click("#mobile")
    page.focus("#birth_date")
    page.locator("jdp-container .jdp-day.selected").wait_for(state="visible")
    for key in ("ArrowDown", "ArrowDown", "ArrowLeft"):
        page.keyboard.press(key)
    assert page.inner_text("jdp-container .kbd-cursor") == "۱۸"
    closes(page, "Enter")
    assert page.input_value("#birth_date").translate(LATIN) == "1403/07/18"
    assert page.evaluate("document.activeElement.id") == "birth_date"
    page.click("#mobile")
    page.focus("#birth_date")
    page.locator("jdp-container .jdp-day.selected").wait_for(state="visible")
    closes(page, "ArrowDown", "PageDown", "Enter")
    assert page.input_value("#birth_date").translate(LATIN) == "1403/08/18"
    assert page.url.endswith("/members/new")  # Enter did not submit the form


def test_the_demo_club_for_the_readme(browser, page, demo_server):
    """The README's and docs' pictures, on the demo club with its past and a morning's
    sales (refreshed with VAFA_UPDATE_SCREENSHOT=1): the dashboard in Persian, a member's
    page in English, the portal on a phone — with a transfer's masked name."""
    from sqlalchemy import select

    from backend.models import Card, Member
    from backend.services import member_auth, statements, wallet

    now = datetime.now(UTC)
    with demo_server.app.app_context():
        session = db.session
        regulars = session.scalars(
            select(Member).join(Card, Card.member_id == Member.id)
            .where(Member.is_gift_account.is_(False), Card.status == "active")
            .order_by(Member.id).limit(6)).all()
        sara, friend = regulars[0], regulars[1]
        branch_id = sara.home_branch_id or session.query(Branch.id).first()[0]
        for index, (member, amount) in enumerate(zip(regulars, (
                1_250_000, 480_000, 2_150_000, 760_000, 330_000, 1_900_000), strict=True)):
            counter.record_purchase(session, actor=SYSTEM, member_id=member.id, branch_id=branch_id,
                                    amount_rials=amount, use_credit_rials=0,
                                    request_key=f"readme-morning-purchase-{index:02d}", now=now)
        wallet.transfer_credit(session, actor=SYSTEM,
                               from_member_id=sara.id, to_member_id=friend.id,
                               amount_rials=50_000, idempotency_key="readme-transfer", now=now)
        member_auth.set_password(session, sara.id, "sara-pass-1")
        sara_id, sara_mobile = sara.id, sara.mobile
        masked = statements.masked_name(friend.first_name, friend.last_name)
        expected = dashboard.overview(session, datetime.now(UTC))
    sign_in(page, demo_server, "admin", "admin1234")
    page.wait_for_selector("#trend-chart[data-drawn='1']")
    assert int(page.get_attribute("#sales", "data-today")) == expected.today.sales_rials
    assert sum(row.sales_rials for row in expected.trend[:-1]) > 0  # the demo's past
    screenshot(page, "panel-dashboard-fa", docs=True)
    page.goto(f"{demo_server.url}/members/{sara_id}")
    assert masked in page.inner_text("#ledger")
    screenshot(page, "panel-member-fa", docs=True)
    page.click("#switch-language")
    page.wait_for_selector("html[dir=ltr]")
    screenshot(page, "panel-member-en", docs=True)
    page.click("#switch-language")
    page.wait_for_selector("html[dir=rtl]")
    context = browser.new_context(viewport=PHONE | {"height": 844}, is_mobile=True,
                                  has_touch=True, locale="fa-IR")
    phone = context.new_page()
    try:
        phone.goto(f"{demo_server.url}/portal/sign-in")
        phone.fill("#mobile", sara_mobile)
        phone.fill("#password", "sara-pass-1")
        phone.click("button[type=submit]")
        phone.wait_for_selector("#credit-balance")
        assert phone.locator("ul.history .party").all_inner_texts() == [f"به {masked}"]
        # As tall as the page, so the fixed tab bar is drawn at its foot, not mid-page.
        height = phone.evaluate("document.documentElement.scrollHeight")
        phone.set_viewport_size({"width": PHONE["width"], "height": height})
        screenshot(phone, "portal-phone-fa", docs=True)
    finally:
        context.close()
