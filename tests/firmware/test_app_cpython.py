"""CPython unit tests of the app state machine and config (fast, no node needed)."""

import asyncio
import json

import pytest
from mpytest import KEY, KEY_HEX, FakeNet, make_app
from vafa import app as A
from vafa import config as vconfig
from vafa import protocol

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
        for _ in range(100):
            if net.published:
                break
            await asyncio.sleep(0.01)
        app.stop()
        await task

    asyncio.run(go())
    assert len(net.published) == 1 and feeds and net.polls


def test_offline_net_not_blocking(tmp_path):
    net = FakeNet(connected=False)
    app, hw, net, clock = make_app(net=net, store_root=str(tmp_path))
    app.on_scan(CARD)
    for k in "1E":
        app.on_key(k)
    assert app.state == A.SENDING and not net.published
    app.on_key("C")
    assert app.state == A.IDLE


def _cfg(**over):
    c = {"device_id": "t01", "key_hex": KEY_HEX, "mqtt": {"host": "h", "port": 18830}}
    c.update(over)
    return c


def test_config_defaults_and_errors(tmp_path):
    c = vconfig.validate(_cfg())
    assert c["mqtt"]["keepalive_s"] == 30 and c["mqtt"]["user"] == "t01"
    assert c["pins"]["keypad_rows"] == [13, 12, 14, 27]
    assert vconfig.key_bytes(c) == KEY
    for bad in (_cfg(device_id="T 1"), _cfg(key_hex="zz" * 32), _cfg(key_hex="00"),
                _cfg(mqtt={"host": ""}), _cfg(mqtt={"host": "h", "port": 70000})):
        with pytest.raises(vconfig.ConfigError):
            vconfig.validate(bad)
    p = tmp_path / "config.json"
    p.write_text(json.dumps(_cfg()))
    assert vconfig.load(str(p))["device_id"] == "t01"
    p.write_text("{nope")
    with pytest.raises(vconfig.ConfigError):
        vconfig.load(str(p))
