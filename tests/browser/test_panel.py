"""An operator serves a customer, an admin switches to English — in a real browser."""

import re
from datetime import UTC, datetime

from sqlalchemy import select

from backend.extensions import db
from backend.models import Member
from backend.services import members
from backend.unit_of_work import SYSTEM
from tests.browser.conftest import screenshot, sign_in
from tests.factories import card_number

PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def test_operator_creates_a_member_in_persian_and_records_a_purchase(page, live_server):
    sign_in(page, live_server, "operator", "operator1234")
    assert page.locator("html").get_attribute("dir") == "rtl"
    page.click("text=عضو جدید")
    card = card_number(777001)
    page.fill("#first_name", "مریم")
    page.fill("#last_name", "کاظمی")
    page.fill("#mobile", "۰۹۳۵۱۱۱۲۲۳۳")
    page.fill("#card_number", card.translate(PERSIAN))
    page.fill("#national_code", "۰۰۸۴۵۷۵۹۴۸")
    page.fill("#birth_date", "۱۳۶۸/۰۶/۳۱")
    page.select_option("#gender", "f")
    page.fill("#city", "اصفهان")
    page.click("button[type=submit]")
    page.wait_for_selector("#member-name")
    assert page.inner_text("#member-name") == "مریم کاظمی"
    # The club's welcome credit, shown in Persian digits with the Persian separator.
    assert page.inner_text("#credit-balance") == "۵۰٬۰۰۰ ریال"
    assert "۱۳۶۸/۰۶/۳۱" in page.content()

    page.fill("#amount", "۲۰۰٬۰۰۰")
    page.fill("#use_credit", "۱۰۰۰۰")
    with page.expect_navigation():  # not the previous page's message
        page.click("#record-purchase")
    page.wait_for_selector(".flash.success")
    assert page.inner_text(".flash.success") == "خرید ثبت شد."
    # bronze: 2 % credit back on 190,000 paid = 3,800; 50,000 - 10,000 + 3,800.
    assert page.inner_text("#credit-balance") == "۴۳٬۸۰۰ ریال"
    assert page.inner_text("#points-balance") == "۲۰"  # 1 point per 10,000 of the amount
    ledger = page.inner_text("#ledger")
    assert "خرید" in ledger and "هدیهٔ خوش‌آمد" in ledger
    screenshot(page, "member-fa")

    with live_server.app.app_context():
        member = db.session.scalars(select(Member).where(Member.mobile == "09351112233")).one()
        assert (member.credit_balance_rials, member.points_balance) == (43_800, 20)
        assert member.national_code == "0084575948" and member.city == "اصفهان"


def test_bad_input_is_explained_next_to_the_field(page, live_server):
    sign_in(page, live_server, "operator", "operator1234")
    page.goto(f"{live_server.url}/members/new")
    page.fill("#first_name", "<script>alert(1)</script>")
    page.fill("#last_name", "تست")
    page.fill("#mobile", "۱۲۳")
    page.click("button[type=submit]")
    error = page.locator('[data-error-for="mobile"]')
    assert error.inner_text() == "شمارهٔ موبایل باید مانند ۰۹۱۲۱۲۳۴۵۶۷ باشد."
    # What was typed stays in the form, as text.
    assert page.input_value("#first_name") == "<script>alert(1)</script>"


def test_admin_dashboard_and_member_page_in_both_languages(page, live_server):
    with live_server.app.app_context():
        members.register_member(db.session, actor=SYSTEM, first_name="Neda", last_name="Rahimi",
                                mobile="09127654321", card_number=card_number(777002),
                                now=datetime.now(UTC))
    sign_in(page, live_server, "admin", "admin1234")
    assert page.inner_text("h1") == "امروز"
    screenshot(page, "dashboard-fa")
    page.click("#switch-language")
    page.wait_for_selector("html[dir=ltr]")
    assert page.inner_text("h1") == "Today"
    assert re.search(r"Sales\s", page.inner_text("#sales"))
    screenshot(page, "dashboard-en")
    page.fill("input[name=q]", "09127654321")
    page.click("button.primary")
    page.wait_for_selector("#member-name")
    assert "Record a purchase" in page.content()
    screenshot(page, "member-en")
    page.click("#switch-language")
    page.wait_for_selector("html[dir=rtl]")


def test_date_fields_offer_a_jalali_calendar(page, live_server):
    sign_in(page, live_server, "operator", "operator1234")
    page.goto(f"{live_server.url}/members/new")
    page.click("#birth_date")
    calendar = page.locator("jdp-container")
    calendar.wait_for(state="visible")
    page.click("jdp-container .jdp-btn-today")
    typed = page.input_value("#birth_date")
    # Today in the Jalali calendar: a 14xx year, whichever digits the picker writes.
    assert re.fullmatch(r"(14|۱۴)\S\S/\S\S/\S\S", typed), typed


def test_admin_previews_and_sends_a_campaign_with_a_hold_out(page, live_server):
    """N3 in the browser: SMS texts with Jalali samples, a campaign's preview of count
    and SMS parts, the send, and its hold-out on the campaign's page."""
    from backend.models import CampaignRecipient, Tier
    from backend.notifications import campaigns

    with live_server.app.app_context():
        bronze_id = db.session.scalars(select(Tier.id).where(Tier.code == "bronze")).one()
        for index, name in enumerate(("آرش", "بهاره", "پویا", "ترانه", "ژاله")):
            members.register_member(db.session, actor=SYSTEM, first_name=name, last_name="نیکپور",
                                    mobile=f"0937000{index:04d}",
                                    card_number=card_number(779000 + index),
                                    now=datetime.now(UTC))
        eligible = len(campaigns.eligible_members(
            db.session, campaigns.Segment(tier_ids=(bronze_id,)), "sms", datetime.now(UTC)))
        db.session.rollback()
    sign_in(page, live_server, "admin", "admin1234")
    page.click("nav.side >> text=متن پیامک‌ها")
    assert "تبریک سارا عزیز! سطح عضویت شما به نقره‌ای ارتقا یافت." in page.inner_text(
        "#text-tier_upgrade")
    page.click("nav.side >> text=کمپین‌های پیامکی")
    page.click("text=کمپین تازه")
    page.fill("#name", "هفتهٔ برنزی")
    page.fill("#body", "{first_name} عزیز، این هفته خرید اعضای {tier} ده درصد تخفیف دارد.")
    page.check(f"input[name=tier_ids][value='{bronze_id}']")
    page.fill("#holdout_percent", "۲۰")
    page.click("button[value=preview]")
    page.wait_for_selector("#campaign-preview")
    held = (eligible * 20 + 50) // 100
    assert page.inner_text("#preview-eligible") == str(eligible).translate(PERSIAN)
    assert page.inner_text("#preview-held-out") == str(held).translate(PERSIAN)
    assert page.inner_text("#preview-parts") == "۱"  # under 70 characters: one UCS-2 part
    screenshot(page, "messages-campaign-preview-fa")
    page.click("#send-campaign")
    page.wait_for_selector("#campaign-counts")
    assert page.inner_text("#campaign-held-out") == str(held).translate(PERSIAN)
    with live_server.app.app_context():
        rows = db.session.scalars(select(CampaignRecipient)).all()
        assert len(rows) == eligible and sum(row.held_out for row in rows) == held
