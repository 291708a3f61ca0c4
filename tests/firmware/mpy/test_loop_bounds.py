# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
# Issue 15 item 4: the real App + Session + MQTT client on the strict socket fakes
# (tests/firmware/mpy/lib/fakenet.py). Network down, broker unreachable or refusing, a
# silent link drop under TLS: every loop pass returns within LOOP_BOUND_MS of simulated
# time (the fakes charge the clock for what blocks on the device: DNS, a TLS handshake
# step; a call that would wait fails the test), keys typed meanwhile are all seen, and an
# earn-only sale whose send failed is journaled within FALLBACK_MS.
import fakenet
from fakenet import World
from mpytest import (
    Clock,
    FakeDisplay,
    FakeIndicator,
    FakePrinter,
    FakeScanner,
    check,
    config,
    done,
    eq,
    tmpdir,
)
from vafa import app as A
from vafa.hw import Hardware
from vafa.journal import Journal
from vafa.mqtt import Client
from vafa.net import Session
from vafa.store import Store

CARD = "9900010000000019"
LOOP_BOUND_MS = 100
KEY_GAP_MS = 150  # a brisk cashier
HOLD_MS = 120  # how long a finger holds a key: a pass must not block longer than this


class Rig:
    def __init__(self, broker="up", tls=False, link_ok=True):
        self.clock = Clock(1000)
        self.world = World(self.clock, broker)
        self.world.handshake_step_ms = 30  # model: one step of the handshake's crypto
        self.world.dns_ms = 40
        self.link_ok = link_ok
        self.ctx = None
        if tls:
            self.ctx = fakenet.FakeSSLContext(self.world)
            self.ctx.verify_mode = self.ctx.CERT_REQUIRED
        self.socks = fakenet.sockets(self.world)
        self.logs = []
        self.keypad = fakenet.TimedKeypad(self.clock, HOLD_MS)
        self.hw = Hardware(FakeScanner(), self.keypad, FakeDisplay(), FakePrinter(),
                           FakeIndicator())
        self.net = Session(self.make, "t01", time_fn=lambda: 1763800000,
                           link_ok=lambda: self.link_ok, log=self.logs.append)
        root = tmpdir()
        self.app = A.App(config("t01"), self.hw, self.net, Store(root),
                         ticks_fn=self.clock, time_fn=lambda: 1763800000,
                         journal=Journal(root), log=self.logs.append)
        self.net.busy = self.app.typing
        self.worst = 0
        self.passes = 0
        self.app.show_idle()

    def make(self):
        return Client("t01", "broker.example", 8883 if self.ctx else 1883, user="t01",
                      password="pw", keepalive_s=30, tls=self.ctx, sockets=self.socks)

    def run(self, ms, until=None):
        end = self.clock.t + ms
        while self.clock.t < end:
            t0 = self.clock.t
            check(self.app.safe_step(t0), "no crash in a pass")
            took = self.clock.t - t0
            if took > self.worst:
                self.worst = took
            self.passes += 1
            self.clock.t += A.LOOP_MS
            if until is not None and until():
                return True
        return False

    def sale(self, amount):
        """Scan, then type the amount and E as timed key presses; returns the time of E."""
        self.hw.scanner.queue.append(CARD)
        self.run(40)
        t = self.clock.t
        for k in str(amount) + "E":
            t += KEY_GAP_MS
            self.keypad.press_at(t, k)
        return t

    def crashed(self):
        return [x for x in self.logs if x.startswith("crash")]


def offline_sale_within_bounds(rig, what):
    rig.run(3000)  # attempts under way, failing, backing off
    t_e = rig.sale(250000)
    rig.run(t_e - rig.clock.t + A.FALLBACK_MS, until=lambda: rig.app.outcome is not None)
    eq(rig.keypad.lost(), [], what + ": no key lost")
    eq(rig.app.outcome, A.OUT_OFFLINE, what + ": journaled")
    check(rig.clock.t - t_e <= A.FALLBACK_MS, what + ": within FALLBACK_MS of E")
    rig.run(40000)  # forty seconds of reconnect attempts
    check(rig.worst <= LOOP_BOUND_MS, what + ": worst pass %d ms" % rig.worst)
    eq(rig.crashed(), [], what + ": no crash")
    eq(len(rig.app.journal), 1, what + ": one sale in the journal")


# -- Wi-Fi up, broker unreachable (SYNs dropped), plain and TLS ----------------------------
for tls in (False, True):
    rig = Rig("silent", tls=tls)
    offline_sale_within_bounds(rig, "unreachable%s" % (" TLS" if tls else ""))
    # DNS blocks on the device: looked up at the start and again only after
    # RESOLVE_AFTER_FAILS failed connects, not for every attempt.
    attempts = len(rig.world.sockets)
    check(attempts >= 5 and rig.world.lookups <= 1 + attempts // 5,
          "DNS %d times for %d attempts" % (rig.world.lookups, attempts))

# -- broker refuses -------------------------------------------------------------------------
rig = Rig("refuse")
offline_sale_within_bounds(rig, "refused")

# -- Wi-Fi down ------------------------------------------------------------------------------
rig = Rig("up", link_ok=False)
offline_sale_within_bounds(rig, "wifi down")
eq(rig.world.sockets, [], "no socket while the Wi-Fi is down")

# -- online over TLS, then a silent link drop while a sale is being sent -----------------------
rig = Rig("up", tls=True)
check(rig.run(3000, until=lambda: rig.net.connected), "connected over TLS")
raises_attr = False
try:
    rig.net.client.sock.settimeout(5)
except AttributeError:
    raises_attr = True
check(raises_attr, "the TLS socket has no settimeout (as on the ESP32)")
t_e = rig.sale(250000)
rig.run(t_e - rig.clock.t - 10)  # typed up to just before E
rig.world.link = False  # the access point loses its uplink: nothing comes back
rig.run(A.FALLBACK_MS + 200, until=lambda: rig.app.outcome is not None)
eq(rig.keypad.lost(), [], "silent drop: no key lost")
eq(rig.app.outcome, A.OUT_OFFLINE, "silent drop: journaled")
check(rig.clock.t - t_e <= A.FALLBACK_MS, "silent drop: journaled within FALLBACK_MS of E"
      " (%d ms)" % (rig.clock.t - t_e))
req = [p for p in rig.world.mqtt.published if p[0].endswith("/req")]
eq(req, [], "the request never reached the broker")
rig.world.link = True
rig.run(20000, until=lambda: not rig.app.queued())
eq(rig.app.queued(), 1, "replay waits for an answer (none comes from this broker)")
req = [p for p in rig.world.mqtt.published if p[0].endswith("/req")]
check(len(req) >= 1 and b'"offline":true' in req[0][1], "replayed offline after the link came back")
check(rig.worst <= LOOP_BOUND_MS, "TLS: worst pass %d ms" % rig.worst)
eq(rig.crashed(), [], "TLS: no crash")

# -- the online fast path is unchanged: a sale sent and answered -------------------------------
rig = Rig("up")
rig.world.write_chunk = 1460  # one TCP segment per write
check(rig.run(2000, until=lambda: rig.net.connected), "connected")
t_e = rig.sale(1000)
rig.run(t_e - rig.clock.t + 100)
eq(rig.app.state, A.SENDING, "sent, waiting for the response")
eq(len([p for p in rig.world.mqtt.published if p[0].endswith("/req")]), 1, "one request")
rig.run(A.FALLBACK_MS + 500)
eq(rig.app.state, A.SENDING, "acknowledged by the broker: no fallback, awaits the answer")

# -- a balance lookup waiting for the journal when the connection drops -------------------------
from mpytest import FakeNet, make_app  # noqa: E402

app, hw, net, clock = make_app(net=FakeNet(connected=True))
app.journal.append(1, b'{"id":"t01-000001"}\n' + b"0" * 64)
net.queued = 1
app.on_scan(CARD)
app.on_key("L")
eq(app.state, A.SENDING, "lookup waits for the journal to drain")
net.connected = False
clock.t += A.FALLBACK_MS - 20
app.tick(clock.t)
eq(app.state, A.SENDING, "still waiting")
clock.t += 20
app.tick(clock.t)
eq(app.outcome, A.OUT_NO_CONNECTION, "connection gone: 'No connection' within FALLBACK_MS")
done("test_loop_bounds")
