"""Issue 16 in a real browser: an admin sees a terminal's health and warnings in Persian
on the Terminals page and its own page, and saves its remote config (the broker of this
server is not running, so it stays pending, which the page says)."""

import json
from datetime import UTC, datetime

from sqlalchemy import select

from backend.extensions import db
from backend.models import Branch, TerminalHealth
from backend.services import devices
from backend.unit_of_work import SYSTEM
from tests.browser.conftest import screenshot, sign_in

STATE = {"online": True, "fw": "0.3.0", "queued": 2, "ts": 1, "up": 5400, "heap": 88000,
         "rssi": -70, "dead": 0, "oldest_s": 1800, "clk": True, "paper": False,
         "perr": None, "sec": 0, "cfg": 0, "crashes": 0}


def test_admin_sees_health_and_saves_the_remote_config(page, live_server):
    with live_server.app.app_context():
        branch = db.session.scalars(select(Branch).where(Branch.code == "central")).one()
        devices.register_device(db.session, actor=SYSTEM, device_id="t88", branch_id=branch.id)
        devices.record_state(db.session, "t88", json.dumps(STATE).encode(), datetime.now(UTC))
    sign_in(page, live_server, "admin", "admin1234")
    page.goto(f"{live_server.url}/terminals")
    row = page.inner_text("tr[data-device='t88']")
    assert "کاغذ تمام شده" in row and "صف فروش گیر کرده" in row
    page.click("a[href='/terminals/t88']")
    page.wait_for_selector("#terminal-health")
    health = page.inner_text("#terminal-health")
    assert "سلامت" in health and "۹۰ دقیقه" in health and "کاغذ تمام شده" in health
    page.select_option("#lang", "fa")
    page.fill("#contrast", "۱۵۰")
    page.fill("#footer", "از خرید شما سپاسگزاریم")
    page.fill("#idle_s", "۴۵")
    page.uncheck("#terminal-config input[value='credit']")
    page.click("#terminal-config button.primary")
    page.wait_for_selector("#config-state")
    assert "در انتظار" in page.inner_text("#config-state")
    assert "پیکربندی اعمال نشده" in page.inner_text("#terminal-warnings")
    assert page.input_value("#footer") == "از خرید شما سپاسگزاریم"
    screenshot(page, "terminal-health-fa")
    with live_server.app.app_context():
        row = db.session.get(TerminalHealth, "t88")
        assert row.pending == {"lang": "fa", "contrast": 150, "footer": "از خرید شما سپاسگزاریم",
                               "idle_s": 45, "ops": ["purchase", "lookup", "refund"]}
        db.session.rollback()
