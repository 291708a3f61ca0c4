"""An admin sets a terminal's refund PIN on its page, typing Persian digits, in a real
browser (issue 15 item 8)."""

from sqlalchemy import select
from werkzeug.security import check_password_hash

from backend.extensions import db
from backend.models import Branch, Device
from backend.services import devices
from backend.unit_of_work import SYSTEM
from tests.browser.conftest import screenshot, sign_in


def test_admin_sets_the_refund_pin_in_persian_digits(page, live_server):
    with live_server.app.app_context():
        branch = db.session.scalars(select(Branch).where(Branch.code == "central")).one()
        devices.register_device(db.session, actor=SYSTEM, device_id="t77", branch_id=branch.id,
                                name="صندوق ۱")
    sign_in(page, live_server, "admin", "admin1234")
    page.goto(f"{live_server.url}/terminals")
    page.click("a[href='/terminals/t77']")
    page.wait_for_selector("#terminal-settings")
    assert "تعیین نشده است" in page.inner_text("#refund-pin-state")
    assert page.get_attribute("#refund_pin", "inputmode") == "numeric"
    assert page.get_attribute("#refund_max_rials", "type") == "text"
    page.fill("#refund_pin", "۲۴۶۸")
    page.fill("#refund_window_hours", "۴۸")
    page.click("#terminal-settings button[type=submit]")
    page.wait_for_selector(".flash.success")
    assert page.inner_text(".flash.success") == "ذخیره شد."
    assert "رمز ویژهٔ خود آن" in page.inner_text("#refund-pin-state")
    assert page.input_value("#refund_pin") == ""  # never shown back
    screenshot(page, "terminal-page-fa")
    with live_server.app.app_context():
        device = db.session.get(Device, "t77")
        assert check_password_hash(device.refund_pin_hash, "2468")
        assert device.refund_window_hours == 48 and device.topup_allowed is False
        db.session.rollback()
