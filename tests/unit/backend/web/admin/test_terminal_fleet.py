"""Issue 16 on the panel: the terminals list and a terminal's page show its health and
warnings in Persian, remote config is saved and sent (applied vs pending), logs are
asked for and shown, the refund PIN reaches the terminal, and /metrics has it all."""

import json

import pytest
from sqlalchemy import select

from backend import protocol
from backend.models import AuditLog, Device, TerminalHealth
from backend.services import devices
from tests.conftest import NOW
from tests.unit.backend.web.admin import test_terminal_command as command_page
from tests.unit.backend.web.test_metrics import samples

branches = command_page.branches
sign_in = command_page.sign_in
STATE = {"online": True, "fw": "0.3.0", "queued": 1, "ts": 1, "up": 7260, "heap": 91000,
         "rssi": -61, "dead": 0, "oldest_s": 3600, "clk": False, "paper": False,
         "perr": None, "sec": 0, "cfg": 0, "crashes": 0}


@pytest.fixture
def sent(monkeypatch):
    frames = []
    monkeypatch.setattr("backend.web.admin.terminals._publish",
                        lambda: lambda topic, frame: frames.append((topic, frame)))
    return frames


def key(db, device_id="t01"):
    return bytes.fromhex(db.get(Device, device_id).key_hex)


def test_health_and_warnings_in_persian(client, db, branches):
    devices.record_state(db, "t01", json.dumps(STATE).encode(), NOW)
    sign_in(client, db)
    row = client.get("/terminals").get_data(as_text=True).split('data-device="t01"')[1]
    row = row.split("</tr>")[0]
    assert "ساعت تنظیم نیست" in row and "صف فروش گیر کرده" in row and "کاغذ تمام شده" in row
    page = client.get("/terminals/t01").get_data(as_text=True)
    health = page.split('id="terminal-health"')[1].split("</section>")[0]
    for code in ("clock", "stuck", "paper"):
        assert f'data-warning="{code}"' in health
    assert "۱۲۱ دقیقه" in health  # uptime 7260 s
    assert "-۶۱ dBm" in health or "−۶۱ dBm" in health or "۶۱- dBm" in health \
        or "-61 dBm" in health
    assert "۸۸ KB" in health  # 91000 bytes
    assert "تنظیم نیست" in health and "تمام شده" in health


def test_a_terminal_without_health_says_so(client, db, branches):
    sign_in(client, db)
    page = client.get("/terminals/t01").get_data(as_text=True)
    assert "این پایانه هنوز وضعیت سلامت خود را گزارش نکرده است." in page
    assert 'data-warning="offline"' in page


def test_remote_config_is_sent_signed_and_shown_pending_then_applied(client, db, branches,
                                                                     sent):
    sign_in(client, db)
    response = client.post("/terminals/t01/config", data={
        "lang": "fa", "contrast": "۱۲۰", "footer": "ممنون", "idle_s": "۳۰",
        "ops": ["purchase", "lookup"]})
    assert response.status_code == 302
    (topic, frame), = sent
    body = json.loads(protocol.decode_frame(frame, key(db)))
    assert topic == "vafa/v1/dev/t01/cmd"
    assert (body["op"], body["cfg_ver"]) == ("set", 1)
    assert body["settings"] == {"lang": "fa", "contrast": 120, "footer": "ممنون",
                                "idle_s": 30, "ops": ["purchase", "lookup"]}
    page = client.get("/terminals/t01").get_data(as_text=True)
    config = page.split('id="config-state"')[1].split("</p>")[0]
    assert "در انتظار" in config and 'value="ممنون"' not in config
    assert "ارسال دوباره" in page
    devices.record_state(db, "t01", json.dumps({**STATE, "cfg": 1}).encode(), NOW)
    page = client.get("/terminals/t01").get_data(as_text=True)
    assert "اعمال شد" in page.split('id="config-state"')[1].split("</p>")[0]
    assert db.scalars(select(AuditLog).where(AuditLog.action == "terminal_config")).all()


def test_a_bad_setting_is_refused_and_nothing_is_sent(client, db, branches, sent):
    sign_in(client, db)
    client.post("/terminals/t01/config", data={"lang": "fa", "contrast": "۳۰۰", "idle_s": "30",
                                               "ops": ["purchase"]})
    assert sent == [] and db.get(TerminalHealth, "t01") is None


def test_broker_down_keeps_the_config_pending(client, db, branches):
    sign_in(client, db)
    response = client.post("/terminals/t01/config", data={
        "lang": "en", "contrast": "10", "idle_s": "60", "ops": ["purchase"]},
        follow_redirects=True)
    assert "ذخیره شد، ارسال نشد" in response.get_data(as_text=True)
    row = db.get(TerminalHealth, "t01")
    assert row.pending_version == 1 and row.sent_at is None


def test_logs_are_fetched_and_shown(client, db, branches, sent):
    sign_in(client, db)
    assert client.post("/terminals/t01/logs").status_code == 302
    body = json.loads(protocol.decode_frame(sent[0][1], key(db)))
    assert body["op"] == "logs"
    assert "پایانه هنوز پاسخ نداده" in client.get("/terminals/t01").get_data(as_text=True)
    devices.record_logs(db, "t01", {"op": "logs", "lines": ["5 mqtt connected", "<b>x</b>"]},
                        NOW)
    page = client.get("/terminals/t01").get_data(as_text=True)
    logs = page.split('id="log-lines"')[1].split("</pre>")[0]
    assert "5 mqtt connected" in logs and "&lt;b&gt;x&lt;/b&gt;" in logs


def test_operators_of_another_branch_cannot_send(client, db, branches, sent):
    central, _ = branches
    sign_in(client, db, role="operator", branch_id=central.id, permissions=["devices"])
    assert client.post("/terminals/t02/logs").status_code == 404
    assert client.post("/terminals/t02/config", data={"lang": "en"}).status_code == 404
    assert sent == []


def test_the_refund_pin_reaches_the_terminal_as_a_digest(client, db, branches, sent):
    from tests.unit.backend.web.admin.test_terminals import SETTINGS

    sign_in(client, db)
    assert client.post("/terminals/t01", data=SETTINGS).status_code == 302
    body = json.loads(protocol.decode_frame(sent[-1][1], key(db)))
    import hashlib
    import hmac
    assert body["settings"]["pin_sha"] == hmac.new(key(db), b"pin:1357",
                                                   hashlib.sha256).hexdigest()
    assert "1357" not in json.dumps(body)


def test_metrics_per_terminal(client, db, app, branches):
    devices.record_state(db, "t01", json.dumps(STATE).encode(), NOW)
    values = samples(client.get("/metrics", environ_base={"REMOTE_ADDR": "127.0.0.1"})
                     .get_data(as_text=True))
    t01 = (("device", "t01"),)
    assert values[("vafa_terminal_free_heap_bytes", t01)] == 91000
    assert values[("vafa_terminal_wifi_rssi_dbm", t01)] == -61
    assert values[("vafa_terminal_uptime_seconds", t01)] == 7260
    assert values[("vafa_terminal_oldest_queued_seconds", t01)] == 3600
    assert values[("vafa_terminal_clock_synced", t01)] == 0
    assert values[("vafa_terminal_paper_ok", t01)] == 0
    assert values[("vafa_terminal_warning", (("device", "t01"), ("warning", "paper")))] == 1
    assert values[("vafa_terminal_warning", (("device", "t02"), ("warning", "offline")))] == 1


@pytest.mark.parametrize(("perr", "persian", "ltr"), [
    ("no answer to status request", "چاپگر پاسخ نمی‌دهد (خاموش است یا وصل نیست).", None),
    ("receipt dropped: queue full", "یک رسید چاپ نشد: صف چاپ پر بود.", None),
    ("write failed: [Errno 5] EIO", "ارسال به چاپگر ناموفق بود.", "[Errno 5] EIO"),
    ("paper jam", None, "paper jam"),
])
def test_printer_errors_in_persian_unknown_ones_as_sent(client, db, branches, perr, persian,
                                                        ltr):
    devices.record_state(db, "t01", json.dumps({**STATE, "perr": perr}).encode(), NOW)
    sign_in(client, db)
    page = client.get("/terminals/t01").get_data(as_text=True)
    shown = page.split('data-field="printer-error">')[1].split("</td>")[0]
    if persian:
        assert persian in shown and perr.split(":")[0] not in shown
    if ltr:
        assert f'<span dir="ltr">{ltr}</span>' in shown
    else:
        assert 'dir="ltr"' not in shown
    assert 'data-warning="printer"' in page


def test_a_config_resent_after_a_reflash_is_shown(client, db, branches, sent):
    from backend.services import terminal_commands

    sign_in(client, db)
    client.post("/terminals/t01/config", data={
        "lang": "fa", "contrast": "120", "footer": "", "idle_s": "30", "ops": ["purchase"]})
    devices.record_state(db, "t01", json.dumps({**STATE, "cfg": 1}).encode(), NOW)
    resent = []
    later = NOW + terminal_commands.RESEND_AFTER
    assert terminal_commands.take_state(db, lambda t, f: resent.append(t), "t01",
                                        json.dumps({**STATE, "cfg": 0}).encode(), later)
    assert resent == ["vafa/v1/dev/t01/cmd"]
    page = client.get("/terminals/t01").get_data(as_text=True)
    config = page.split('id="config-state"')[1].split("</p>")[0]
    assert "در انتظار" in config and "پس از فلش دوباره، خودکار دوباره ارسال شد" in config
