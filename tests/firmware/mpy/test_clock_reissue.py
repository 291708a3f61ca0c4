# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
# The clock after a power cut (fakeboard.FakeBoardClock restarts at 2000-01-01), the
# non-blocking SNTP, clk/age_s in requests, the seq floor and re-issue on REPLAY /
# ID_REUSED, the refund window.
import json

from fakeboard import EPOCH_2000_S, FakeBoardClock
from mpytest import KEY, FakeNet, check, config, done, eq, raises, tmpdir
from vafa import app as A
from vafa import ntp, protocol
from vafa.clock import Clock
from vafa.config import ConfigError, validate
from vafa.hw import Hardware
from vafa.journal import Journal
from vafa.states import OUT_TOO_LATE
from vafa.store import Store

CARD = "9900010000000019"
RES = "vafa/v1/dev/t01/res"
NOW = 1795443422


def signed(d):
    return protocol.encode_frame(json.dumps(d).encode(), KEY)


def ok(rid, **extra):
    d = {"v": 1, "id": rid, "ok": True, "code": "OK", "msg": "Thanks",
         "member": {"name": "Sara A.", "tier": "silver"}, "bal": {"credit": 9, "points": 1}}
    d.update(extra)
    return signed(d)


def refused(rid, code, **extra):
    d = {"v": 1, "id": rid, "ok": False, "code": code, "msg": code.lower(), "ts": NOW}
    d.update(extra)
    return signed(d)


def body(frame):
    return json.loads(protocol.decode_frame(frame, KEY))


def board_app(board, root, net, cfg=None):
    from mpytest import FakeDisplay, FakeIndicator, FakeKeypad, FakePrinter, FakeScanner

    clock = Clock(ticks_fn=board.ticks_ms, time_fn=board.time, set_fn=board.settime)
    hw = Hardware(FakeScanner(), FakeKeypad(), FakeDisplay(), FakePrinter(), FakeIndicator())
    cfg = cfg or config()
    app = A.App(cfg, hw, net, Store(root), journal=Journal(root), clock=clock,
                ticks_fn=board.ticks_ms)
    return app, hw


def sell(app, amount, board=None):
    app.on_key("C")
    app.on_scan(CARD)
    for k in str(amount) + "E":
        app.on_key(k)


def step(app, board, ms=20):
    board.advance(ms)
    app.tick(board.ticks_ms())


# -- power cut: the clock is unsynced at 2000; requests say clk:0 ------------------------
board = FakeBoardClock(unix_s=NOW - 3600)
board.power_cut()
eq(board.time(), EPOCH_2000_S, "the board's RTC restarts at 2000-01-01")
root = tmpdir()
net = FakeNet(connected=True)
app, hw = board_app(board, root, net)
check(not app.clock.synced, "unsynced after a power cut")
app.on_scan(CARD)
app.on_key("L")
b = body(net.published[-1])
eq((b["ts"], b["clk"]), (EPOCH_2000_S, 0), "request says its clock is not synced")

# -- offline sale at 2000, then the clock syncs from a response: the replay is corrected ---
net.connected = False
app.on_message(RES, ok(b["id"]))  # the lookup's answer lost with the link: not ours any more
sell(app, 7000)
eq(app.outcome, A.OUT_OFFLINE, "sale journaled while unsynced")
board.advance(90000)  # 90 s later
net.connected = True
app.on_key("C")
app.on_scan(CARD)
app.on_key("L")  # waits for the journal; meanwhile the replay goes first
step(app, board)
rp = body(net.published[-1])
eq((rp["id"], rp["clk"], rp["age_s"], rp["ts"]), ("t01-000002", 0, 90, EPOCH_2000_S),
   "replay before any sync: clk 0, age by the ticks")
app.on_message(RES, ok("t01-000002", ts=NOW))  # a replay's answer may be an old stored one
check(not app.clock.synced, "a replay's ts does not set the clock")
step(app, board)
lk = body(net.published[-1])
eq(lk["op"], "lookup", "then the waiting lookup")
app.on_message(RES, ok(lk["id"], ts=NOW))
check(app.clock.synced, "our own answer's ts syncs the clock")
eq(app.clock.now(), NOW, "to the backend's time")
eq(board.time(), NOW, "and sets the board's RTC")
# a later sale, offline, then replayed: ts is right, no clk field
net.connected = False
sell(app, 8000)
board.advance(30000)
net.connected = True
step(app, board)
rp = body(net.published[-1])
eq((rp["ts"], rp["age_s"], "clk" in rp), (NOW, 30, False), "synced sale: its own ts")
app.on_message(RES, ok(rp["id"], ts=NOW + 30))

# an unsynced sale replayed after the sync in the same boot: ts = now - age
board2 = FakeBoardClock()
r2 = tmpdir()
net2 = FakeNet(connected=False)
app2, hw2 = board_app(board2, r2, net2)
sell(app2, 5000)
board2.advance(40000)
app2.clock.set(NOW, "ntp")
board2.advance(20000)
net2.connected = True
step(app2, board2)
rp = body(net2.published[-1])
eq((rp["ts"], rp["age_s"], "clk" in rp), (NOW + 20 - 60, 60, False),
   "sale ts corrected: synced now - age")
# a power cut before the replay: the age is the uptime since (a lower bound), clk 0
net2.connected = False
sell(app2, 6000)
board2.power_cut()
board2.advance(15000)
app2, hw2 = board_app(board2, r2, net2)
net2.connected = True
step(app2, board2)
rp = body(net2.published[-1])
eq((rp["id"], rp["age_s"], rp["ts"], rp["clk"]), ("t01-000001", 15, EPOCH_2000_S, 0),
   "other boot, unsynced sale: clk 0, age = uptime (a lower bound)")
app2.on_message(RES, ok("t01-000001"))
step(app2, board2)
rp = body(net2.published[-1])
eq((rp["id"], rp["age_s"], rp["ts"], "clk" in rp), ("t01-000002", 15, NOW + 20, False),
   "other boot, synced sale: its own ts")

# the clock: drift beyond 2 s is corrected, within it left alone; a stored answer never
# turns it back
c = Clock(ticks_fn=board.ticks_ms, time_fn=board.time)
check(c.observe(NOW), "unsynced: set")
check(not c.observe(NOW + 2), "2 s off: left")
check(c.observe(NOW + 10), "10 s off: corrected")
check(not c.observe(NOW - 100, backward_ok=False), "not back from a resend's answer")
check(not c.observe(12345), "an impossible ts is ignored")

# -- non-blocking SNTP ------------------------------------------------------------------------
class FakeUDP:
    def __init__(self, world):
        self.world = world
        self.blocking = True
        world.socks.append(self)

    def setblocking(self, flag):
        self.blocking = flag

    def sendto(self, data, addr):
        self.world.sent.append((data, addr))

    def recv(self, n):
        if self.blocking:
            raise AssertionError("a blocking recv would stall the loop")
        if not self.world.inbox:
            raise OSError(11)
        return self.world.inbox.pop(0)

    def close(self):
        self.world.closed += 1


class FakeSocketModule:
    """MicroPython's socket module as Sntp uses it: no getaddrinfo here, on purpose
    (it blocks on DNS); sendto() takes an (IP, port) tuple."""

    AF_INET = 2
    SOCK_DGRAM = 2

    def __init__(self):
        self.socks = []
        self.sent = []
        self.inbox = []
        self.closed = 0

    def socket(self, af, kind):
        return FakeUDP(self)


def answer(req, unix, stratum=2):
    p = bytearray(48)
    p[0] = 0x24  # LI 0, v4, mode 4 (server)
    p[1] = stratum
    p[24:32] = req[40:48]
    secs = unix + ntp.NTP_TO_UNIX_S
    p[40:44] = bytes([(secs >> s) & 0xFF for s in (24, 16, 8, 0)])
    return bytes(p)


def dns_answer(query, ip, rcode=0):
    # header (id, answer, recursion available, 1 question, 1 answer), the question as
    # asked, then a CNAME-free A record whose name is a pointer to the question
    head = query[:2] + bytes([0x81, 0x80 | rcode, 0, 1, 0, 1, 0, 0, 0, 0])
    rr = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + bytes(ip)
    return head + query[12:] + rr


world = FakeSocketModule()
b3 = FakeBoardClock()
clock3 = Clock(ticks_fn=b3.ticks_ms, time_fn=b3.time)
link = [False]
sntp = ntp.Sntp(clock3, "10.0.0.1", socket_mod=world, link_ok=lambda: link[0])
sntp.poll(b3.ticks_ms())
eq(world.sent, [], "no Wi-Fi: nothing sent")
link[0] = True
sntp.poll(b3.ticks_ms())
eq(len(world.sent), 1, "an NTP request to the IP address, no DNS")
req, addr = world.sent[0]
eq((len(req), req[0] & 7, addr), (48, 3, ("10.0.0.1", 123)), "a client request")
check(not world.socks[-1].blocking, "the socket is non-blocking")
b3.advance(20)
sntp.poll(b3.ticks_ms())
check(not clock3.synced, "no answer yet: the poll returned at once")
world.inbox.append(answer(b"\0" * 48, NOW))  # not the answer to our request
world.inbox.append(answer(req, NOW, stratum=0))  # kiss-o'-death
b3.advance(20)
sntp.poll(b3.ticks_ms())
check(not clock3.synced, "foreign and unsynced answers ignored")
b3.advance(ntp.ATTEMPT_MS)
sntp.poll(b3.ticks_ms())
eq(world.closed, 1, "attempt abandoned after ATTEMPT_MS")
b3.advance(999)
sntp.poll(b3.ticks_ms())
eq(len(world.sent), 1, "backoff: no retry before 1 s")
b3.advance(1)
sntp.poll(b3.ticks_ms())
eq(len(world.sent), 2, "retry after 1 s")
b3.advance(ntp.ATTEMPT_MS)
sntp.poll(b3.ticks_ms())
b3.advance(1999)
sntp.poll(b3.ticks_ms())
eq(len(world.sent), 2, "the backoff doubled")
b3.advance(1)
sntp.poll(b3.ticks_ms())
eq(len(world.sent), 3, "retried after 2 s")
world.inbox.append(answer(world.sent[-1][0], NOW))
b3.advance(20)
sntp.poll(b3.ticks_ms())
check(clock3.synced and clock3.now() == NOW and clock3.source == "ntp", "synced by NTP")
b3.advance(1000)
sntp.poll(b3.ticks_ms())
eq(len(world.sent), 3, "no more requests once synced")
# a host name: resolved with one non-blocking DNS query to the Wi-Fi's DNS server
world = FakeSocketModule()
b4 = FakeBoardClock()
clock4 = Clock(ticks_fn=b4.ticks_ms, time_fn=b4.time)
sntp = ntp.Sntp(clock4, "pool.ntp.org", socket_mod=world, dns_server=lambda: "192.168.1.1")
sntp.poll(b4.ticks_ms())
query, addr = world.sent[0]
eq(addr, ("192.168.1.1", 53), "DNS query to the Wi-Fi's server")
check(b"\x04pool\x03ntp\x03org\x00\x00\x01\x00\x01" in query, "an A query for the name")
b4.advance(20)
sntp.poll(b4.ticks_ms())
eq(len(world.sent), 1, "waiting for DNS without blocking")
world.inbox.append(dns_answer(query, (9, 9, 9, 9), rcode=3))  # NXDOMAIN
world.inbox.append(dns_answer(query, (162, 159, 200, 1)))
b4.advance(20)
sntp.poll(b4.ticks_ms())
eq(world.sent[-1][1], ("162.159.200.1", 123), "then NTP to the address it answered")
world.inbox.append(answer(world.sent[-1][0], NOW + 5))
b4.advance(20)
sntp.poll(b4.ticks_ms())
eq(clock4.now(), NOW + 5, "synced")
eq(ntp.parse_dns(b"\x00" * 11, 0), None, "a short DNS answer is ignored")

# -- seq floor: from the config, and from REPLAY / ID_REUSED; re-issue once -----------------
cfg = config()
cfg["seq_floor"] = 41
cfg = validate(cfg)
for bad in (-1, "7", True):
    c2 = config()
    c2["seq_floor"] = bad
    raises(ConfigError, validate, c2)
c2 = config()
c2["refund_window_s"] = 0
raises(ConfigError, validate, c2)
# the enrolment reply's seq_floor (in the config or next to it) reaches config.json
from mpytest import KEY_HEX  # noqa: E402
from vafa.enrol import config_from_answer  # noqa: E402

qr = {"mqtt": {"host": "b", "port": 8883, "tls": True}, "wifi": {"ssid": "s", "password": "p"}}
enrolled = {"device_id": "t01", "key_hex": KEY_HEX, "mqtt": {"user": "t01", "password": "x"}}
eq(config_from_answer(qr, {"config": enrolled, "seq_floor": 812})["seq_floor"], 812,
   "seq_floor next to the config")
eq(config_from_answer(qr, {"config": dict(enrolled, seq_floor=9)})["seq_floor"], 9,
   "seq_floor in the config")
eq(config_from_answer(qr, {"config": enrolled})["seq_floor"], 0, "none: 0")
root = tmpdir()
net = FakeNet()
board = FakeBoardClock(unix_s=NOW)
app, hw = board_app(board, root, net, cfg)
app.clock.set(NOW, "ntp")
sell(app, 9000)
b = body(net.published[-1])
eq(b["seq"], 42, "never at or below the config's seq_floor")
app.on_message(RES, refused(b["id"], "ID_REUSED", last_seq=57))
b2 = body(net.published[-1])
eq((b2["seq"], b2["id"], b2["amount"], b2["card"]), (58, "t01-000058", 9000, CARD),
   "re-issued above the backend's last_seq, same sale")
eq(app.state, A.SENDING, "transparently: still sending")
app.on_message(RES, refused(b2["id"], "REPLAY", last_seq=60))
eq((app.state, len(net.published)), (A.RESULT, 2), "re-issued once only")
eq(hw.display.lines[:2], ["replay", "REPLAY"], "then the backend's message is shown")
eq(Store(root).last_seq(), 60, "the floor survives a reboot")
# a journaled sale answered REPLAY is saved again under a new seq; the old entry goes
net.connected = False
sell(app, 4000)
old = app.journal.seqs()
eq(old, [61], "journaled as 61")
net.connected = True
step(app, board)
app.on_message(RES, refused("t01-000061", "REPLAY", last_seq=70))
eq(app.journal.seqs(), [71], "re-issued in the journal as 71")
step(app, board)
rp = body(net.published[-1])
eq((rp["id"], rp["amount"], rp["offline"]), ("t01-000071", 4000, True), "and replayed")
check(app.store.last_sale_of(CARD)["id"] == "t01-000071", "refund last follows the new id")
app.on_message(RES, ok("t01-000071"))
eq(len(app.journal), 0, "drained")

# a power cut between saving the re-issued copy and dropping the old entry: the copy counts
net.connected = False
sell(app, 3000)
seq_old = app.journal.seqs()[0]
from vafa.journal import decode_sale, encode_sale  # noqa: E402

meta, raw = decode_sale(app.journal.peek()[1])
copy = json.loads(raw)
new_seq = app.store.next_seq()
copy_body = protocol.make_request("t01", new_seq, copy["ts"], "purchase", CARD, 3000, 0,
                                  None, True)
app.journal.append(new_seq, encode_sale(meta[0], meta[1], meta[2], meta[3], 1, copy_body))
app, hw = board_app(board, root, net, cfg)  # the reboot
app.clock.set(board.time(), "ntp")
net.connected = True
n = len(net.published)
step(app, board)
eq(body(net.published[-1])["seq"], seq_old, "the old entry replays first")
app.on_message(RES, refused("t01-%06d" % seq_old, "REPLAY", last_seq=new_seq))
eq(app.journal.seqs(), [new_seq], "it is dropped, not copied a second time")
step(app, board)
eq(body(net.published[-1])["seq"], new_seq, "the copy replays")
app.on_message(RES, ok("t01-%06d" % new_seq))
eq(len(net.published), n + 2, "two sends in all")

# a new sale waiting for the drain while a journaled one is re-issued above its seq: it is
# journaled under a new seq (it never left), the journal's seqs keep rising
net.connected = False
sell(app, 5000)
sell(app, 6000)
journaled = app.journal.seqs()
net.connected = True
step(app, board)
eq(body(net.published[-1])["seq"], journaled[0], "the first journaled sale replays")
sell(app, 7000)
waiting = app.inflight["seq"]
check(not app.inflight["sent"], "the new sale waits for the drain")
app.on_message(RES, refused("t01-%06d" % journaled[0], "ID_REUSED", last_seq=waiting + 50))
for _ in range(A.FALLBACK_MS // 20 + 2):
    step(app, board)
seqs = app.journal.seqs()
eq(seqs, sorted(seqs), "the journal's seqs rise")
eq(len(seqs), 3, "the re-issued sale, the second and the new one are journaled")
check(waiting not in seqs and seqs[-1] > waiting + 50, "the new sale took a new seq")

# -- refund window: an old sale is refused on the terminal --------------------------------------
board.advance((cfg["refund_window_s"] + 5) * 1000)
app.on_key("C")
app.on_scan(CARD)
app.on_key("R")
eq(app.outcome, OUT_TOO_LATE, "older than refund_window_s: refused here")
check("Too late" in hw.display.lines, "Too late shown")
done("test_clock_reissue")
