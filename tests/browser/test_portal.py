"""The members' portal on a phone-sized screen, in a real browser."""

from datetime import UTC, datetime

from backend.extensions import db
from backend.models import Branch
from backend.services import counter, member_auth, members
from backend.unit_of_work import SYSTEM
from tests.browser.conftest import screenshot
from tests.factories import card_number


def test_member_signs_in_on_a_phone_and_sees_every_rial(browser, live_server):
    with live_server.app.app_context():
        member = members.register_member(db.session, actor=SYSTEM,
                                         first_name="Leila", last_name="Karimi",
                                         mobile="09198887766", card_number=card_number(777101),
                                         now=datetime.now(UTC))
        member_auth.set_password(db.session, member.id, "leila-pass-1")
        branch_id = db.session.query(Branch.id).first()[0]
        counter.record_purchase(db.session, actor=SYSTEM, member_id=member.id, branch_id=branch_id,
                                amount_rials=300_000, use_credit_rials=0,
                                request_key="browser-portal-purchase", now=datetime.now(UTC))
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, locale="fa-IR")
    page = context.new_page()
    page.goto(f"{live_server.url}/portal/sign-in")
    page.fill("#mobile", "۰۹۱۹۸۸۸۷۷۶۶")
    page.fill("#password", "leila-pass-1")
    page.click("button[type=submit]")
    page.wait_for_selector("#credit-balance")
    # 50,000 welcome + 2 % of 300,000 back (bronze) = 56,000.
    assert page.inner_text("#credit-balance") == "۵۶٬۰۰۰ ریال"
    assert page.inner_text("#points-balance") == "۳۰"
    assert page.locator(".qr svg").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
    screenshot(page, "portal-phone-fa")
    page.click("nav.tabs >> text=سابقه")
    page.wait_for_selector("ul.history")
    history = page.inner_text("ul.history")
    assert "خرید ۳۰۰٬۰۰۰ ریالی" in history and "هدیهٔ خوش‌آمد" in history
    context.close()


def test_a_visitor_joins_on_a_phone_with_the_sms_code(browser, live_server):
    """M2 end to end: the join form, the code by SMS (the console provider's file, as a
    developer would read it), a password, and the new member's home with the welcome
    credit and the digital card."""
    import json
    from pathlib import Path

    from backend.jobs import scheduler as jobs

    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                  has_touch=True, locale="fa-IR")
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{live_server.url}/portal/sign-in")
    page.click("text=هنوز عضو نیستید؟ عضو شوید")
    page.fill("#first_name", "مهسا")
    page.fill("#last_name", "کاظمی")
    page.fill("#mobile", "۰۹۳۳ ۴۴۴ ۵۵۶۶")
    page.click("#join-form button[type=submit]")
    page.wait_for_selector("#code")
    assert "۰۹۳۳۴۴۴۵۵۶۶" in page.inner_text("main")
    screenshot(page, "portal-join-code-fa")
    # The jobs process would send it within seconds; here one tick does.
    jobs.Scheduler(live_server.app, run_daily=False).tick()
    log = Path(live_server.app.config["INSTANCE_DIR"]) / "outbox" / "sms.log"
    sent = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    [otp] = [line for line in sent if line["to"] == "0933***5566"]  # masked
    code = otp["body"].split(": ", 1)[1][:6]
    assert code.isdigit()
    page.fill("#code", code)
    page.fill("#password", "mahsa-pass-1")
    page.click("#code-form button[type=submit]")
    page.wait_for_selector("#credit-balance")
    assert page.inner_text("#credit-balance") == "۵۰٬۰۰۰ ریال"
    assert "به باشگاه خوش آمدید" in page.inner_text("main")
    assert page.locator(".qr svg").count() == 1
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "portal-join-phone-fa")
    context.close()
