"""The terminal page (issues 15 and 17): an admin allows top-ups with limits and sets the
refund PIN in Persian digits; errors at the field; operators reach their branch only;
the refusals and the refused sales are listed in Persian with Jalali dates."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.models import AuditLog, Branch, Device, TerminalRequest
from tests import factories
from tests.conftest import NOW
from tests.unit.backend.web.admin import test_terminal_command as command_page

SETTINGS = {"topup_allowed": "y", "topup_max_rials": "۵۰۰٬۰۰۰",
            "topup_max_per_day_rials": "٢٠٠٠٠٠٠", "refund_allowed": "y",
            "refund_max_rials": "", "refund_max_per_day_rials": "", "refund_window_hours": "۴۸",
            "refund_pin": "۱۳۵۷"}

# The command page's club: branches Central (t01) and North (t02), the clock at NOW.
branches = command_page.branches
sign_in = command_page.sign_in


def test_admin_allows_top_ups_with_limits_and_sets_the_pin_in_persian_digits(client, db,
                                                                            branches):
    sign_in(client, db)
    page = client.get("/terminals/t01").get_data(as_text=True)
    assert 'id="topup_max_rials"' in page and 'inputmode="numeric"' in page
    assert 'type="number"' not in page
    assert "رمز بازگشت خرید" in page
    row = client.get("/terminals").get_data(as_text=True).split('data-device="t01"')[1]
    assert "خاموش" in row.split("</tr>")[0]  # top-ups: off
    response = client.post("/terminals/t01", data=SETTINGS)
    assert response.status_code == 302
    row = client.get("/terminals").get_data(as_text=True).split('data-device="t01"')[1]
    assert "مجاز" in row.split("</tr>")[0]
    device = db.get(Device, "t01")
    assert (device.topup_allowed, device.topup_max_rials, device.topup_max_per_day_rials,
            device.refund_window_hours) == (True, 500_000, 2_000_000, 48)
    assert device.refund_pin_hash.startswith("scrypt:")
    from werkzeug.security import check_password_hash
    assert check_password_hash(device.refund_pin_hash, "1357")
    (row,) = db.scalars(select(AuditLog).where(AuditLog.action == "terminal_settings")).all()
    assert row.entity_id == "t01" and row.details["changes"]["refund_pin"] == "set"
    assert "1357" not in str(row.details) and "۱۳۵۷" not in str(row.details)


@pytest.mark.parametrize(("change", "field", "shown"), [
    ({"topup_max_per_day_rials": ""}, "topup_max_per_day_rials",
     "برای روشن کردن شارژ هر دو سقف را تعیین کنید."),
    ({"refund_pin": "۱۲۳"}, "refund_pin", "رمز بازگشت خرید ۴ تا ۸ رقم است."),
    ({"topup_max_rials": "۰"}, "topup_max_rials", "مبلغی بیشتر از صفر وارد کنید."),
    ({"refund_window_hours": "۰"}, "refund_window_hours", None),
])
def test_what_cannot_be_saved_is_explained_at_its_field(client, db, branches, change, field,
                                                        shown):
    sign_in(client, db)
    response = client.post("/terminals/t01", data={**SETTINGS, **change})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'data-error-for="{field}"' in page
    if shown:
        assert shown in page
    device = db.get(Device, "t01")
    assert (device.topup_allowed, device.refund_pin_hash) == (False, None)
    assert db.scalars(select(AuditLog).where(AuditLog.action == "terminal_settings")).all() == []


def test_a_terminal_can_go_back_to_the_branch_pin(client, db, branches):
    sign_in(client, db)
    client.post("/terminals/t01", data=SETTINGS)
    state = client.get("/terminals/t01").get_data(as_text=True).split('id="refund-pin-state"')[1]
    assert "با رمز ویژهٔ خود آن" in state.split("</p>")[0]
    client.post("/terminals/t01", data={**SETTINGS, "refund_pin": "", "clear_refund_pin": "y"})
    assert db.get(Device, "t01").refund_pin_hash is None
    state = client.get("/terminals/t01").get_data(as_text=True).split('id="refund-pin-state"')[1]
    assert "رمز بازگشت خرید تعیین نشده است" in state.split("</p>")[0]


def test_branch_pin_and_window(client, db, branches):
    central, _ = branches
    sign_in(client, db)
    page = client.get("/terminals/t01").get_data(as_text=True)
    assert f"/terminals/branches/{central.id}" in page
    response = client.post(f"/terminals/branches/{central.id}",
                           data={"refund_window_hours": "۷۲", "refund_pin": "٤٣٢١"})
    assert response.status_code == 302
    branch = db.get(Branch, central.id)
    assert branch.refund_window_hours == 72
    from werkzeug.security import check_password_hash
    assert check_password_hash(branch.refund_pin_hash, "4321")
    # Empty PIN: unchanged.
    client.post(f"/terminals/branches/{central.id}", data={"refund_window_hours": "24"})
    assert check_password_hash(db.get(Branch, central.id).refund_pin_hash, "4321")
    (first, second) = db.scalars(select(AuditLog).where(
        AuditLog.action == "branch_refund_settings").order_by(AuditLog.id)).all()
    assert first.details["changes"] == {"refund_window_hours": 72, "refund_pin": "set"}
    assert second.details["changes"] == {"refund_window_hours": 24}


def test_operators_need_devices_and_reach_their_branch_only(client, db, branches):
    central, north = branches
    factories.staff_user(db, username="tech", role="operator", branch_id=central.id,
                         permissions=["devices"])
    factories.staff_user(db, username="clerk", role="operator", branch_id=central.id)
    client.post("/login", data={"username": "clerk", "password": "admin-password"})
    assert client.get("/terminals/t01").status_code == 403
    client.post("/logout")
    client.post("/login", data={"username": "tech", "password": "admin-password"})
    assert client.get("/terminals/t01").status_code == 200
    assert client.get("/terminals/t02").status_code == 404
    assert client.post("/terminals/t02", data=SETTINGS).status_code == 404
    assert client.get(f"/terminals/branches/{north.id}").status_code == 404
    assert client.post(f"/terminals/branches/{north.id}",
                       data={"refund_window_hours": "1"}).status_code == 404
    assert db.get(Device, "t02").topup_allowed is False
    listing = client.get("/terminals").get_data(as_text=True)
    assert 'href="/terminals/t01"' in listing and 'href="/terminals/t02"' not in listing
    links = listing.split('id="branch-refund-links"')[1].split("</p>")[0]
    assert f"/terminals/branches/{central.id}" in links
    assert f"/terminals/branches/{north.id}" not in links


def test_refusals_and_refused_sales_are_listed_in_persian(client, db, branches):
    db.add_all([
        AuditLog(at=NOW, action="terminal_refused", entity="device", entity_id="t01",
                 details={"op": "topup", "request_id": "t01-000007", "card": "4321",
                          "amount_rials": 300_000, "code": "NOT_ALLOWED",
                          "reason": "topup_day", "limit": 1_000_000, "left": 200_000}),
        AuditLog(at=NOW, action="terminal_refused", entity="device", entity_id="t02",
                 details={"op": "topup", "card": "9999", "code": "NOT_ALLOWED",
                          "reason": "topup_off"}),
        TerminalRequest(device_id="t01", request_id="t01-000003", seq=3, op="purchase",
                        received_at=NOW - timedelta(days=1), response_body="{}",
                        code="STALE", offline=True, card_number="9900010000005678",
                        amount_rials=250_000),
        TerminalRequest(device_id="t01", request_id="t01-000004", seq=4, op="purchase",
                        received_at=NOW, response_body="{}", code="OK", offline=False,
                        card_number="9900010000001111", amount_rials=90_000),
    ])
    db.flush()
    sign_in(client, db)
    page = client.get("/terminals/t01").get_data(as_text=True)
    refusals = page.split('id="terminal-refusals"')[1].split("</table>")[0]
    assert "۱۴۰۵/۰۸/۳۰" in refusals  # NOW in Jalali
    assert "…4321" in refusals and "۳۰۰٬۰۰۰ ریال" in refusals
    assert "بیش از سقف روزانهٔ شارژ ۱٬۰۰۰٬۰۰۰ ریال؛ ۲۰۰٬۰۰۰ ریال مانده بود." in refusals
    assert "9999" not in refusals  # another terminal's
    sales = page.split('id="refused-sales"')[1].split("</table>")[0]
    assert "…5678" in sales and "9900010000005678" not in sales
    assert "۲۵۰٬۰۰۰ ریال" in sales and "۱۴۰۵/۰۸/۲۹" in sales
    assert "خرید آفلاین قدیمی‌تر از مهلت آفلاین باشگاه بود." in sales
    assert "…1111" not in sales  # an accepted sale
