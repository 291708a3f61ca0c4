# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
# Offline journal replay, refund last, cmd topic, idle timeout, crash recovery.
import json
import sys

from mpytest import KEY, FakeNet, check, done, eq, make_app, tmpdir
from vafa import app as A
from vafa import protocol
from vafa.journal import Journal
from vafa.states import OUT_NOTHING_TO_REFUND

CARD = "9900010000000019"
RES = "vafa/v1/dev/t01/res"
CMD = "vafa/v1/dev/t01/cmd"


def signed(d):
    return protocol.encode_frame(json.dumps(d).encode(), KEY)


def ok(rid, **extra):
    d = {"v": 1, "id": rid, "ok": True, "code": "OK", "msg": "Thanks",
         "member": {"name": "Sara A.", "tier": "silver"}, "bal": {"credit": 9, "points": 1}}
    d.update(extra)
    return signed(d)


def err(rid, code):
    return signed({"v": 1, "id": rid, "ok": False, "code": code, "msg": code.lower()})


def body_of(frame):
    return json.loads(protocol.decode_frame(frame, KEY))


def sell(app, amount, extra=""):
    app.on_key("C")
    app.on_scan(CARD)
    for k in str(amount) + extra + "E":
        app.on_key(k)


# -- three offline sales, replayed in order, one in flight, before a new request ---------
root = tmpdir()
logs = []
net = FakeNet(connected=False)
app, hw, net, clock = make_app(net=net, store_root=root, log=logs.append)
for amt in (1000, 2000, 3000):
    sell(app, amt)
    eq(app.outcome, A.OUT_OFFLINE, "offline sale %d" % amt)
eq(app.journal.seqs(), [1, 2, 3], "three journaled")
eq(net.queued, 3, "queued count for the state topic")
sell(app, 10, "U")  # spending credit needs the backend
eq(app.outcome, A.OUT_NEEDS_ONLINE, "spend refused offline")
app.on_key("C")
app.on_key("R")
eq((app.state, hw.display.lines[1]), (A.REFUND, "Scan the card"), "refund asks for the card")
app.on_scan(CARD)
check("t01-000003" in hw.display.lines and "3,000" in hw.display.lines,
      "a journaled sale counts for refund last")
app.on_key("C")

# reboot, network back: the journal goes first, one entry at a time
app, hw, net, clock = make_app(net=net, store_root=root, log=logs.append)
net.connected = True
app.show_idle()
check("Queued: 3" in hw.display.lines, "queued count on the idle screen")
sell(app, 500)  # a new online sale while the journal is not empty: it waits
eq(app.state, A.SENDING, "new sale waits")
clock.t += 20
app.tick(clock.t)
eq(len(net.published), 1, "one replay in flight")
eq(body_of(net.published[0])["id"], "t01-000001", "oldest first")
clock.t += 20
app.tick(clock.t)
eq(len(net.published), 1, "still one in flight")
app.on_message(RES, err("t01-000001", "UNAVAILABLE"))
eq(app.journal.seqs(), [1, 2, 3], "UNAVAILABLE keeps the entry")
eq(app.state, A.SENDING, "the new sale still waits")
clock.t += A.FALLBACK_MS
app.tick(clock.t)
# The waiting earn-only sale gave up after FALLBACK_MS: journaled behind the others.
eq(app.journal.seqs(), [1, 2, 3, 4], "waiting sale journaled within FALLBACK_MS")
eq(app.outcome, A.OUT_OFFLINE, "waiting sale saved offline")
clock.t += A.REPLAY_PAUSE_MS
app.tick(clock.t)
eq(len(net.published), 2, "retried after the pause")
eq(body_of(net.published[1])["id"], "t01-000001", "same entry again")
app.on_message(RES, ok("t01-000001"))
app.tick(clock.t)
eq(body_of(net.published[2])["id"], "t01-000002", "then the second")
app.on_message(RES, err("t01-000002", "STALE"))
eq(app.rejected, [("t01-000002", "STALE", "stale")], "refused replay reported")
eq(app.journal.seqs(), [3, 4], "a refused entry leaves the journal too")
# no answer at all: resends, then a pause, never dropped
app.tick(clock.t)
eq(body_of(net.published[3])["id"], "t01-000003", "third")
for _ in range(A.MAX_RESENDS + 1):
    clock.t += A.RESPONSE_TIMEOUT_MS
    app.tick(clock.t)
eq(len(net.published), 4 + A.MAX_RESENDS, "resends of the replay")
eq(app.journal.seqs(), [3, 4], "unanswered entry kept")
clock.t += A.REPLAY_PAUSE_MS
app.tick(clock.t)
eq(body_of(net.published[-1])["id"], "t01-000003", "replay resumes after the pause")
app.on_message(RES, ok("t01-000003"))
app.tick(clock.t)
last = body_of(net.published[-1])
eq((last["id"], last["amount"], last["offline"]), ("t01-000004", 500, True),
   "the waiting sale is replayed with its own id, marked offline")
app.on_message(RES, ok("t01-000004"))
eq(len(app.journal), 0, "journal drained")
eq(net.states[-1], 0, "state queued 0")
sell(app, 500)
eq(app.state, A.SENDING, "empty journal: sent at once")
last = body_of(net.published[-1])
eq((last["id"], "offline" in last), ("t01-000005", False), "online sale")
app.on_message(RES, ok("t01-000005", tx={"amount": 500, "payable": 500}))
eq(app.outcome, A.OUT_OK, "online sale ok")

# -- refund last: persisted, survives a reboot, sent with ref, card and PIN --------------------
app, hw, net, clock = make_app(net=net, store_root=root)
app.show_idle()
app.on_key("R")
app.on_scan(CARD)
eq(app.state, A.REFUND, "refund confirmation")
check("Refund last?" in hw.display.lines and "500" in hw.display.lines
      and "t01-000005" in hw.display.lines, "the card's last sale shown")
n = len(net.published)
app.on_key("C")
eq((app.state, len(net.published)), (A.IDLE, n), "C cancels the refund")
app.on_scan(CARD)
app.on_key("R")  # R with the card on screen: no second scan
eq(app.state, A.REFUND, "R on a card screen")
for k in "12B34":
    app.on_key(k)
check("PIN: ***" in hw.display.lines, "PIN shown as stars")
app.on_key("E")
eq(len(net.published), n, "a 3-digit PIN is not sent")
app.on_key("5")
app.on_key("E")
rb = protocol.decode_frame(net.published[-1], KEY)
eq(rb, b'{"v":1,"id":"t01-000006","seq":6,"ts":1763800000,"op":"refund",'
       b'"card":"9900010000000019","ref":"t01-000005","pin":"1345"}', "refund request body")
check("vafa.refund" in sys.modules, "the refund flow is loaded by the R key")
app.on_message(RES, ok("t01-000006", tx={"amount": -500}))
eq(hw.display.lines[0], "Refunded", "refund shown")
app.on_key("C")
check("vafa.refund" not in sys.modules, "and dropped again at the idle screen")
h = app.health()
check("up" in h and "vafa.remote" not in sys.modules, "health fields: vafa.remote dropped after")
app.on_key("R")
app.on_scan(CARD)
check("t01-000004" in hw.display.lines, "the refunded sale is gone: the one before it")
app.on_key("C")
app.on_scan("9900010000000027")
app.on_key("R")
eq(app.outcome, OUT_NOTHING_TO_REFUND, "another card has nothing to refund")
app.on_key("C")
app.on_scan(CARD)
app.on_key("R")
for k in "1111E":
    app.on_key(k)
app.on_message(RES, err("t01-000007", "PIN_WRONG"))
eq(hw.display.lines[:2], ["pin_wrong", "PIN_WRONG"], "the backend's PIN_WRONG shown")
net.connected = False
app.on_key("C")
app.on_scan(CARD)
app.on_key("R")
for k in "1234E":
    app.on_key(k)
eq(app.outcome, A.OUT_NEEDS_ONLINE, "refund needs the backend")

# -- journal full: the earn-only sale is refused with a message, nothing dropped -------------
r2 = tmpdir()
net = FakeNet(connected=False)
app, hw, net, clock = make_app(net=net, store_root=r2, journal=Journal(r2, max_entries=2))
for amt in (1, 2, 3):
    sell(app, amt)
eq(app.outcome, A.OUT_JOURNAL_FULL, "third refused")
check("Sale NOT saved" in hw.display.lines, "full message")
eq(app.journal.seqs(), [1, 2], "first two kept")

# -- torn record reported at boot ----------------------------------------------------------
with open(r2 + "/journal.log", "rb") as f:
    data = f.read()
with open(r2 + "/journal.log", "wb") as f:
    f.write(data[:-7])
logs = []
app, hw, net, clock = make_app(net=net, store_root=r2, log=logs.append)
eq(app.journal.seqs(), [1], "intact entry kept")
check([x for x in logs if "torn" in x], "torn record logged")

# -- cmd topic: display text, config reload, reboot (deferred during a sale) --------------------
cfgs = []


def loader():
    from mpytest import config

    c = config()
    c["club_name"] = "Renamed Club"
    cfgs.append(c)
    return c


app, hw, net, clock = make_app(config_loader=loader)
app.show_idle()
app.on_message(CMD, signed({"op": "display", "text": "Hello\nWorld"}))
eq(hw.display.lines, ["Hello", "World"], "display text")
app.on_message(CMD, signed({"op": "config"}))
eq((len(cfgs), app.club_name), (1, "Renamed Club"), "config reloaded")
reboots = []
app.on_reboot = lambda: reboots.append(1)
app.on_message(CMD, b'{"op":"reboot"}\n' + b"a" * 64)
eq((reboots, app.security_events), ([], 1), "bad signature ignored")
app.on_scan(CARD)
app.on_message(CMD, signed({"op": "reboot"}))
eq(reboots, [], "no reboot in the middle of a sale")
app.on_message(CMD, signed({"op": "display", "text": "Later"}))
eq(app.state, A.CARD, "display does not interrupt a sale")
app.on_key("C")
eq(reboots, [1], "reboot once idle")
eq(hw.display.lines, ["Later"], "pending display shown once idle")
app2, hw2, net2, clock2 = make_app()
check(not app2.reload_config(), "no loader: reload refused")

# -- idle timeout, crash in a handler -----------------------------------------------------------
app, hw, net, clock = make_app()
app.show_idle()
app.on_scan(CARD)
app.on_key("5")
clock.t += A.IDLE_TIMEOUT_MS - 1
app.tick(clock.t)
eq(app.state, A.AMOUNT, "not yet idle")
clock.t += 1
app.tick(clock.t)
eq(app.state, A.IDLE, "idle timeout")
logs = []
app, hw, net, clock = make_app(log=logs.append)
app.show_idle()


def boom():
    raise KeyError("bad")


hw.scanner.read = boom
app.on_scan(CARD)
eq(app.safe_step(clock.t), False, "crash caught")
eq(app.state, A.IDLE, "back to idle after a crash")
check([x for x in logs if "crash in handler" in x], "crash logged")
hw.scanner.read = lambda: None
eq(app.safe_step(clock.t), True, "next pass fine")
eq(app.crashes, 0, "crash counter reset")
hw.scanner.read = boom
try:
    for _ in range(A.MAX_CRASHES):
        app.safe_step(clock.t)
    check(False, "endless crashes must raise")
except KeyError:
    pass
done("test_app_more")
