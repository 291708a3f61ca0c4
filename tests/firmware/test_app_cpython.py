"""CPython unit tests of the app state machine and config (fast, no node needed)."""

import asyncio
import json

import pytest
from mpytest import KEY, KEY_HEX, FakeNet, make_app
from vafa import app as A
from vafa import config as vconfig
from vafa import labels, pins, protocol
from vafa.journal import decode_sale

from tests.support.waiting import wait_for_async

CARD = "9900010000000019"


def _signed(d):
    return protocol.encode_frame(json.dumps(d).encode(), KEY)


def test_full_purchase_flow(tmp_path):
    app, hw, net, clock = make_app(store_root=str(tmp_path))
    app.show_idle()
    assert app.state == A.IDLE and "Scan card" in hw.display.lines
    app.on_scan(CARD)
    for k in "250000E":
        app.on_key(k)
    assert app.state == A.SENDING
    (frame,) = net.published
    body = protocol.decode_frame(frame, KEY)
    assert json.loads(body)["amount"] == 250000
    app.on_message("vafa/v1/dev/t1/res", _signed({
        "v": 1, "id": "t01-000001", "ok": True, "code": "OK", "msg": "Thanks",
        "member": {"name": "Sara A.", "tier": "gold"}, "bal": {"credit": 5, "points": 1},
        "tx": {"amount": 250000, "discount": 0, "credit_used": 0, "payable": 250000}}))
    assert hw.display.lines[-1] == "Pay: 250,000"
    # no receipt lines in the response: the terminal prints its own summary
    assert hw.printer.receipts and "Amount: 250,000" in hw.printer.receipts[0]
    assert (tmp_path / "seq").read_text() == "1"


def test_seq_persists_across_app_instances(tmp_path):
    for expected in (1, 2, 3):
        app, hw, net, clock = make_app(store_root=str(tmp_path))
        app.on_scan(CARD)
        app.on_key("L")
        assert json.loads(protocol.decode_frame(net.published[0], KEY))["seq"] == expected


def test_cmd_display_and_reboot(tmp_path):
    app, hw, net, clock = make_app(store_root=str(tmp_path))
    app.show_idle()
    rebooted = []
    app.on_reboot = lambda: rebooted.append(1)
    app.on_message("vafa/v1/dev/t1/cmd", _signed({"op": "display", "lines": ["Hello", "x"]}))
    assert hw.display.lines == ["Hello", "x"]
    app.on_message("vafa/v1/dev/t1/cmd", b'{"op":"reboot"}\n' + b"0" * 64)  # unsigned
    assert rebooted == [] and app.security_events == 1
    app.on_message("vafa/v1/dev/t1/cmd", _signed({"op": "reboot"}))
    assert rebooted == [1]


def test_run_loop_is_the_only_loop(tmp_path):
    app, hw, net, clock = make_app(store_root=str(tmp_path))
    hw.scanner.queue.append(CARD)
    hw.keypad.queue.extend("9E")
    feeds = []

    async def go():
        task = asyncio.ensure_future(app.run(feed=lambda: feeds.append(1)))
        await wait_for_async(lambda: net.published, 5, "the sale was published")
        app.stop()
        await task

    asyncio.run(go())
    assert len(net.published) == 1 and feeds and net.polls


def test_offline_sale_is_journaled_and_spend_needs_the_network(tmp_path):
    net = FakeNet(connected=False)
    app, hw, net, clock = make_app(net=net, store_root=str(tmp_path))
    app.on_scan(CARD)
    for k in "1E":
        app.on_key(k)
    assert app.state == A.RESULT and app.outcome == A.OUT_OFFLINE and not net.published
    assert hw.display.lines[-2:] == ["Points will be", "added later"]
    assert "Points will be added later" in hw.printer.receipts[-1]
    assert len(app.journal) == 1 and net.queued == 1
    meta, raw = decode_sale(app.journal.peek()[1])
    body = json.loads(raw)
    assert meta[0] == 1 and meta[1] == app.clock.boot_id  # synced, this boot
    assert body["offline"] is True and body["use_credit"] == 0 and body["amount"] == 1
    app.on_key("C")
    assert app.state == A.IDLE and "Queued: 1" in hw.display.lines
    app.on_scan(CARD)
    for k in "5UE":
        app.on_key(k)
    assert app.outcome == A.OUT_NEEDS_ONLINE and "Needs connection" in hw.display.lines
    assert len(app.journal) == 1 and not net.published


def _cfg(**over):
    c = {"device_id": "t01", "key_hex": KEY_HEX, "mqtt": {"host": "h", "port": 18830}}
    c.update(over)
    return c


def test_config_defaults_and_errors(tmp_path):
    c = vconfig.validate(_cfg())
    assert c["mqtt"]["keepalive_s"] == 30 and c["mqtt"]["user"] == "t01"
    assert c["pins"] == pins.MAPS["esp32"] and c["chip"] == "esp32"  # vafa/pins.py
    c3 = vconfig.validate(_cfg(chip="esp32c3"))
    assert c3["pins"] == pins.MAPS["esp32c3"]
    assert vconfig.key_bytes(c) == KEY
    assert vconfig.validate(_cfg(pins={"keymap": "123U456B789CR0EL"}))["pins"]["keymap"]
    for bad in (_cfg(device_id="T 1"), _cfg(key_hex="zz" * 32), _cfg(key_hex="00"),
                _cfg(mqtt={"host": ""}), _cfg(mqtt={"host": "h", "port": 70000}),
                _cfg(pins={"keymap": "123"}), _cfg(pins={"keymap": "X" * 16}),
                _cfg(chip="esp8266")):
        with pytest.raises(vconfig.ConfigError):
            vconfig.validate(bad)
    p = tmp_path / "config.json"
    p.write_text(json.dumps(_cfg()))
    assert vconfig.load(str(p))["device_id"] == "t01"
    p.write_text("{nope")
    with pytest.raises(vconfig.ConfigError):
        vconfig.load(str(p))


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_display_texts_fit_the_oled(lang):
    # Every label, in either language, is drawn whole by vafa.text: wrapped into rows of
    # at most 128 pixels, a label on one row (two for the Persian receipt-only ones).
    from vafa import text

    table = labels.texts(lang)
    assert table.keys() == labels.TEXT_EN.keys()
    if lang == "fa":
        assert all(v != labels.TEXT_EN[k] for k, v in table.items()), "untranslated labels"
    text.set_lang(lang)
    font = text.font("d16.vft")
    try:
        for key, label in table.items():
            rows = text.screen_rows([label.strip()])
            assert all(font.width(text.shape(row)) <= text.SCREEN_W for row in rows), key
            drawn = "".join(rows).replace(" ", "").replace("\u200f", "")
            assert drawn == label.replace(" ", ""), key
            assert len(rows) <= 2, (key, rows)
    finally:
        text.set_lang("en")
