# ruff: noqa: UP031  (MicroPython script: %-formatting kept on purpose)
# Run by bench/firmware.py under the real MicroPython interpreter (WebAssembly port, via
# tests/firmware/run_micropython.mjs): heap in use after importing every firmware module,
# then after one purchase through the app's real flow, then with a FULL offline journal:
# the terminal reboots onto a journal one entry short of full, saves one more sale
# offline (the journal is then full: MAX_ENTRIES or MAX_BYTES), and starts replaying it
# when the broker is back. All over the real MQTT client (vafa.mqtt): only the sockets
# (tests/firmware/mpy/lib/fakenet.py: MicroPython's non-blocking behaviour, an in-process
# broker) and the hardware parts are fakes; the fake broker answers with a response
# signed with the terminal's key. Prints one line "BENCH_JSON {...}".
import gc
import json
import sys

KEY_HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
CARD = "9900010000000019"
AMOUNT_KEYS = "250000E"
MAX_STEPS = 50  # loop passes the purchase may take before the bench gives up


def heap():
    gc.collect()
    return gc.mem_alloc()


# The ESP32 drivers import machine, which this port lacks; importing them only needs the
# names (nothing is constructed here). On the board machine lives in ROM.
class _Peripheral:
    OUT = 1
    IN = 0
    PULL_UP = 2

    def __init__(self, *args, **kwargs):
        pass


class _Machine:
    Pin = I2C = PWM = UART = _Peripheral


sys.modules["machine"] = _Machine
# Standard modules the firmware uses that the ESP32 port has built in (C, no heap) but
# this port ships as frozen Python that allocates when imported (binascii: 7 KB): loaded
# before the baseline so that they are not counted as the firmware's.
for name in ("binascii", "hashlib", "json", "os", "time"):
    __import__(name)
# --8<-- runPython
baseline = heap()
after_each = []
# IMPORTS: bench/firmware.py puts each module's import in a part of its own here.
# --8<-- runPython
after_import = heap()
# --8<-- runPython

# ---- one purchase ------------------------------------------------------------------
import os  # noqa: E402

import fakenet  # noqa: E402  (tests/firmware/mpy/lib, on /lib)
from mpytest import Clock  # noqa: E402
from vafa import config as vconfig  # noqa: E402
from vafa import protocol  # noqa: E402
from vafa.app import App  # noqa: E402
from vafa.hw import Display, Hardware, Indicator, Keypad, Printer, Scanner  # noqa: E402
from vafa.journal import Journal  # noqa: E402
from vafa.mqtt import Client  # noqa: E402
from vafa.net import Session  # noqa: E402
from vafa.store import Store  # noqa: E402

KEY = bytes(bytearray(int(KEY_HEX[i:i + 2], 16) for i in range(0, 64, 2)))


class QueueScanner(Scanner):
    def __init__(self):
        self.queue = []

    def read(self):
        return self.queue.pop(0) if self.queue else None


class QueueKeypad(Keypad):
    def __init__(self):
        self.queue = []

    def get_key(self):
        return self.queue.pop(0) if self.queue else None


class ScreenDisplay(Display):
    def __init__(self):
        self.lines = []

    def show(self, lines):
        self.lines = list(lines)


class PaperPrinter(Printer):
    def __init__(self):
        self.receipts = 0
        self.last = None

    def print_lines(self, lines):
        self.receipts += 1
        self.last = list(lines)


class Beeper(Indicator):
    def __init__(self):
        self.last = None

    def ok(self):
        self.last = "ok"

    def error(self):
        self.last = "error"


def answer(topic, msg):
    """The backend: a request published on .../req is answered at once on .../res,
    signed with the terminal's key."""
    if not topic.endswith("/req"):
        return None
    body = protocol.decode_frame(msg, KEY)
    if body is None:
        raise AssertionError("request not correctly signed")
    req = json.loads(body)
    amount = req["amount"]
    discount = amount // 20
    res = {"v": 1, "id": req["id"], "ok": True, "code": "OK", "msg": "Thank you Sara",
           "member": {"name": "Sara A.", "tier": "silver"},
           "bal": {"credit": 61875, "points": 25},
           "tx": {"amount": amount, "discount": discount, "credit_used": 0,
                  "payable": amount - discount, "credit_earned": 11875,
                  "points_earned": 25, "offers": []},
           "receipt": ["Vafa Demo Club", "Sara A.", "Tier: silver",
                       "Amount: 250,000", "Discount: 12,500", "Pay: 237,500",
                       "Points: +25", "Thank you"],
           "ts": req["ts"]}
    return topic[:-3] + "res", protocol.encode_frame(json.dumps(res).encode(), KEY)


# --8<-- runPython
# The bench's own code (this script's classes and functions) is not the firmware's.
bench_code = heap() - after_import
# --8<-- runPython
os.mkdir("/data")
cfg = vconfig.validate({
    "device_id": "t01", "key_hex": KEY_HEX, "lang": "en", "club_name": "Vafa Demo Club",
    "mqtt": {"host": "broker.invalid", "port": 1883, "user": "t01", "password": "pw",
             "tls": False, "keepalive_s": 30},
})
hw = Hardware(QueueScanner(), QueueKeypad(), ScreenDisplay(), PaperPrinter(), Beeper())
clock = Clock(1000)
world = fakenet.World(clock)
world.write_chunk = 4096  # a socket that takes whole packets
broker = world.mqtt
broker.answer = answer
socks = fakenet.sockets(world)
net = Session(lambda: Client("t01", "broker.invalid", 1883, user="t01", password="pw",
                             sockets=socks), "t01", keepalive_s=30, time_fn=lambda: 1763800000)
app = App(cfg, hw, net, Store("/data"), ticks_fn=lambda: clock.t,
          time_fn=lambda: 1763800000, journal=Journal("/data"))
# --8<-- runPython
phases = [["imported", after_import], ["app built", heap() - bench_code]]
app.show_idle()
for _ in range(MAX_STEPS):  # connects: TCP, CONNECT, CONNACK, over the fake socket
    clock.t += 20
    app.step(clock.t)
    if net.connected:
        break
if not net.connected:
    raise AssertionError("fake broker not connected")
# --8<-- runPython
phases.append(["connected", heap() - bench_code])
hw.scanner.queue.append(CARD)
clock.t += 20
app.step(clock.t)
# --8<-- runPython
phases.append(["card scanned", heap() - bench_code])
hw.keypad.queue.extend(AMOUNT_KEYS)
for _ in range(MAX_STEPS):
    clock.t += 20
    app.step(clock.t)
    if hw.printer.receipts:
        break
requests = len([1 for p in broker.published if p[0].endswith("/req")])
if requests != 1 or hw.printer.receipts != 1 or hw.indicator.last != "ok":
    raise AssertionError("purchase did not complete: requests=%d receipts=%d beep=%r"
                         % (requests, hw.printer.receipts, hw.indicator.last))
if "Pay: 237,500" not in hw.display.lines:
    raise AssertionError("unexpected display %r" % (hw.display.lines,))
# --8<-- runPython
after_purchase = heap() - bench_code  # the app still holds the result on screen, as on the board

# --8<-- runPython
# ---- a full journal --------------------------------------------------------------------
# Fill the journal with sales as the app saves them, to one entry short of full (bench
# work: its garbage is collected before the next measurement).
from vafa.journal import encode_sale  # noqa: E402

fill = Journal("/data")
seq = app.store.last_seq()
while len(fill) < fill.max_entries - 1:
    body = protocol.make_request("t01", seq + 1, 1763800000, "purchase", CARD, 250000, 0,
                                 None, True)
    sale = encode_sale(1, 7, 1000, seq + 1, 0, body)
    if not fill.room_for(2 * len(sale)):
        break
    seq += 1
    fill.append(seq, sale)
app.store.raise_floor(seq)
del fill, body, sale
# --8<-- runPython
# Reboot onto it with the broker unreachable. The previous app, session and client are
# dropped (the old client's callback would keep the old app alive).
app = net = None
world.broker = "refuse"
hw.printer.receipts = 0
net = Session(lambda: Client("t01", "broker.invalid", 1883, user="t01", password="pw",
                             sockets=socks), "t01", keepalive_s=30, time_fn=lambda: 1763800000)
app = App(cfg, hw, net, Store("/data"), ticks_fn=lambda: clock.t,
          time_fn=lambda: 1763800000, journal=Journal("/data"))
# --8<-- runPython
full_phases = [["full journal opened", heap() - bench_code]]
app.show_idle()
hw.scanner.queue.append(CARD)
hw.keypad.queue.extend(AMOUNT_KEYS)
for _ in range(MAX_STEPS):
    clock.t += 20
    app.step(clock.t)
    if hw.printer.receipts:
        break
if net.connected or hw.printer.receipts != 1 or "Saved offline" not in hw.display.lines:
    raise AssertionError("offline sale not saved: %r" % (hw.display.lines,))
journal_entries = len(app.journal)
journal_bytes = app.journal.size_bytes()
if app.journal.room_for(300):
    raise AssertionError("the journal is not full: %d entries, %d bytes"
                         % (journal_entries, journal_bytes))
# --8<-- runPython
full_phases.append(["offline sale saved, journal full", heap() - bench_code])
world.broker = "up"
requests_before = len([1 for p in broker.published if p[0].endswith("/req")])
replayed = requests_before
for _ in range(MAX_STEPS * 4):
    clock.t += 250  # past the reconnect backoff
    app.step(clock.t)
    replayed = len([1 for p in broker.published if p[0].endswith("/req")])
    if replayed > requests_before + 1:
        break
if replayed <= requests_before + 1:
    raise AssertionError("the full journal did not replay")
# --8<-- runPython
full_phases.append(["replaying the full journal", heap() - bench_code])
heap_full_journal = max(x[1] for x in full_phases)

# The interned strings (names, short string constants) of everything loaded: their pools
# are part of the heap figures, and each new pool is twice the size of the one before
# (the steps of the per-module figures). bench/firmware.py reads the printed line.
import micropython  # noqa: E402

micropython.qstr_info()
impl = sys.implementation
print("BENCH_JSON " + json.dumps({
    "micropython_version": "%d.%d.%d" % impl.version[:3],
    "heap_baseline_bytes": baseline,
    "heap_after_import_bytes": after_import,
    "heap_after_purchase_bytes": after_purchase,
    "heap_bench_code_bytes": bench_code,
    "heap_total_bytes": gc.mem_alloc() + gc.mem_free(),
    "heap_after_each_import": after_each,
    "heap_phases": phases + [["purchase answered", after_purchase]],
    "heap_full_journal_bytes": heap_full_journal,
    "heap_full_journal_phases": full_phases,
    "journal_entries": journal_entries,
    "journal_bytes": journal_bytes,
    "display": hw.display.lines,
}))
