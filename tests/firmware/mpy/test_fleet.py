# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
# Issue 16: health in the state, remote config (cmd "set"), remote logs (cmd "logs").
import binascii
import json

from mpytest import KEY, FakeNet, check, done, eq, make_app, raises, tmpdir
from vafa import app as A
from vafa import config as C
from vafa import protocol
from vafa.logring import LogRing
from vafa.net import MAX_STATE_BYTES, Session

CARD = "9900010000000019"
CMD = "vafa/v1/dev/t01/cmd"


def signed(d):
    return protocol.encode_frame(json.dumps(d).encode(), KEY)


def body_of(frame):
    return json.loads(protocol.decode_frame(frame, KEY))


class Probe:
    def free_heap(self):
        return 91000

    def rssi(self):
        return -61


# -- the log ring: bounded lines and width, newest kept, tail within a budget ----------
ring = LogRing(size=4, width=20)
for i in range(10):
    ring.add("line %d" % i)
eq(ring.lines(), ["line 6", "line 7", "line 8", "line 9"], "ring keeps the newest 4")
eq(ring.count, 10, "ring counts every line")
ring.add("x" * 50)
eq(len(ring.lines()[-1]), 20, "a long line is cut to the width")
eq(ring.tail(42), ["line 9", "x" * 17 + "..."], "tail: the newest that fit")

# -- health: the state body carries every field, within the bound ---------------------
root = tmpdir()
logs = []
net = FakeNet(connected=False)
app, hw, net, clock = make_app(net=net, store_root=root, log=logs.append)
hw.probe = Probe()
app.on_scan(CARD)
for k in "1200E":
    app.on_key(k)
eq(app.outcome, A.OUT_OFFLINE, "an offline sale is queued")
clock.t += 125000  # the sale is 125 s old
h = app.health()
eq((h["heap"], h["rssi"], h["clk"], h["cfg"]), (91000, -61, True, 0), "probe, clock, config")
eq(h["oldest_s"], 125, "age of the oldest queued sale")
check(h["up"] >= 0 and h["paper"] is None and h["perr"] is None, "uptime, paper unknown")

s = Session(lambda: None, "t01", time_fn=lambda: 1763800000)
s.health = app.health
s.queued = 1
st = json.loads(s.state_body(True))
eq((st["online"], st["queued"], st["oldest_s"], st["rssi"]), (True, 1, 125, -61),
   "the state body holds the health fields")
s.health = lambda: {"junk": "x" * 2000}
st = s.state_body(True)
check(len(st) <= MAX_STATE_BYTES and b"junk" not in st, "oversize health is left out")


def broken():
    raise OSError(5)


s.health = broken
eq(json.loads(s.state_body(True))["queued"], 1, "a failing probe costs only the health")

# -- remote config: checked, written (temp then rename), applied, confirmed -----------
raises(C.ConfigError, C.check_settings, {"contrast": 300})
raises(C.ConfigError, C.check_settings, {"idle_s": 2})
raises(C.ConfigError, C.check_settings, {"ops": ["purchase", "fly"]})
raises(C.ConfigError, C.check_settings, {"lang": "de"})
raises(C.ConfigError, C.check_settings, {"colour": "red"})
raises(C.ConfigError, C.check_settings, {"pin_sha": "zz"})
eq(C.check_settings({"ops": ["refund", "purchase"]})["ops"], ["purchase", "refund"],
   "ops normalised")

cfg_path = tmpdir() + "/config.json"
saved = []


def saver(cfg):
    C.save(cfg, cfg_path)
    saved.append(cfg["cfg_ver"])


net2 = FakeNet(connected=True)
app, hw, net2, clock = make_app(net=net2, log=logs.append)
C.save(app.cfg, cfg_path)
app.set_config_saver(saver)
pin_sha = binascii.hexlify(protocol.hmac_sha256(KEY, b"pin:4321")).decode()
app.on_message(CMD, signed({"v": 1, "id": "cmd-1", "op": "set", "cfg_ver": 3, "settings": {
    "lang": "fa", "contrast": 40, "footer": "Thank you!", "idle_s": 20, "pin_sha": pin_sha,
    "ops": ["purchase", "lookup", "refund"]}}))
eq(saved, [3], "config written once")
eq(app.cfg_ver, 3, "config version applied")
on_flash = C.load(cfg_path)
eq((on_flash["cfg_ver"], on_flash["lang"], on_flash["footer"], on_flash["idle_s"]),
   (3, "fa", "Thank you!", 20), "config.json holds the new settings")
eq(app.health()["cfg"], 3, "the state confirms cfg 3")
check(len(net2.states) >= 1, "a state went out after the change")
# the settings take effect: idle timeout, ops, footer
app.on_scan(CARD)
app.on_key("U")
eq(hw.display.lines, [A.TEXT["not_here"], A.TEXT["not_here2"]], "credit is not allowed now")
app.on_key("C")
app.on_scan(CARD)
clock.t += 20000
app.tick(clock.t)
eq(app.state, A.IDLE, "idle after 20 s (idle_s)")
# the local PIN check: wrong refused here, right one sent
app.store.add_sale("t01-000009", CARD, 500, 1763800000, True, app.clock.boot_id,
                   app.clock.uptime_ms())
app.on_key("R")
app.on_scan(CARD)
for k in "1111E":
    app.on_key(k)
eq(hw.display.lines[0], A.TEXT["wrong_pin"], "wrong PIN refused on the terminal")
before = len(net2.published)
app.on_key("C")
app.on_key("R")
app.on_scan(CARD)
for k in "4321E":
    app.on_key(k)
eq(len(net2.published), before + 1, "the right PIN goes to the backend")
eq(body_of(net2.published[-1])["pin"], "4321", "with the PIN")
app.on_key("C")
# same version again: only confirmed; an older one: ignored
app.on_message(CMD, signed({"v": 1, "id": "cmd-2", "op": "set", "cfg_ver": 3,
                            "settings": {"lang": "en"}}))
eq((saved, app.cfg["lang"]), ([3], "fa"), "a repeated cfg_ver is not applied twice")
# an invalid setting: nothing applied, the error is reported
app.on_message(CMD, signed({"v": 1, "id": "cmd-3", "op": "set", "cfg_ver": 4,
                            "settings": {"lang": "en", "idle_s": 1}}))
eq((saved, app.cfg_ver, app.cfg["lang"]), ([3], 3, "fa"), "a bad setting applies nothing")
check(app.health()["cfg_err"].startswith("4:"), "and the state says why")
# a write failure keeps the old config


def full(cfg):
    raise OSError(28)


app.set_config_saver(full)
app.on_message(CMD, signed({"v": 1, "id": "cmd-4", "op": "set", "cfg_ver": 5,
                            "settings": {"lang": "en"}}))
eq((app.cfg_ver, app.cfg["lang"]), (3, "fa"), "flash full: the old config stays")
# a frame with a bad signature is not obeyed
app.set_config_saver(saver)
bad = protocol.encode_frame(json.dumps({"v": 1, "op": "set", "cfg_ver": 9,
                                        "settings": {"lang": "en"}}).encode(), b"k" * 32)
app.on_message(CMD, bad)
eq((app.cfg_ver, app.health()["sec"]), (3, 1), "unsigned set ignored, counted")
# footer under receipts
app._print(["Receipt"])
eq(hw.printer.receipts[-1], ["Receipt", "Thank you!"], "the footer is printed")

# -- remote logs: a signed req op logs, bounded to the frame ---------------------------
for i in range(200):
    app._say("filler line number %d with some more words to make it longer" % i)
app.on_message(CMD, signed({"v": 1, "id": "cmd-logs1", "op": "logs"}))
frame = net2.published[-1]
check(len(frame) <= protocol.MAX_FRAME, "logs frame within 4 KiB")
b = body_of(frame)
eq((b["op"], b["id"]), ("logs", "cmd-logs1"), "logs answer names the command")
check(b["lines"][-1].endswith("number 199 with some more words to make it longer"),
      "newest line last")
check(0 < len(b["lines"]) <= 60, "bounded count of lines")
app.on_message(CMD, signed({"v": 1, "id": "cmd-logs2", "op": "logs", "n": 3}))
eq(len(body_of(net2.published[-1])["lines"]), 3, "n lines when asked")

# -- the session: state with health on connect, and again every STATE_EVERY_MS ----------
import fakenet  # noqa: E402
from mpytest import Clock  # noqa: E402
from vafa import mqtt  # noqa: E402
from vafa.net import STATE_EVERY_MS  # noqa: E402

clock3 = Clock(0)
world = fakenet.World(clock3)
shared = fakenet.sockets(world)
sess = Session(lambda: mqtt.Client("t1", "broker.example", 1883, sockets=shared,
                                   keepalive_s=30), "t1", time_fn=lambda: 1763800000)
sess.health = lambda: {"up": clock3.t // 1000, "clk": True}


def states():
    return [json.loads(p) for t, p, q, r in world.mqtt.published if t.endswith("/state")]


def run(ms):
    end = clock3.t + ms
    while clock3.t < end:
        sess.poll(clock3.t)
        clock3.t += 20


run(1000)
check(sess.connected, "session up")
eq([(s["online"], s["clk"]) for s in states()], [(True, True)], "health in the first state")
run(STATE_EVERY_MS - 1200)
eq(len(states()), 1, "no second state before a minute")
run(1000)
eq(len(states()), 2, "a state every minute")
check(states()[1]["up"] >= 60, "with fresh health")
check(not sess.state_due(clock3.t), "a change waits STATE_MIN_MS after a state")

done("test_fleet.py")
