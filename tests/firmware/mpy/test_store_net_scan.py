# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
from mpytest import FakeUMQTT, check, done, eq, tmpdir
from vafa import escpos
from vafa.hw.scan import ScanDecoder
from vafa.net import Session
from vafa.store import Store

# -- store: seq strictly increasing, persists ------------------------------------------
root = tmpdir()
s = Store(root)
eq(s.last_seq(), 0, "fresh store")
eq(s.next_seq(), 1, "seq 1")
eq(s.next_seq(), 2, "seq 2")
s2 = Store(root)  # "reboot"
eq(s2.next_seq(), 3, "seq survives reboot")
with open(root + "/seq.tmp", "w") as f:
    f.write("10")  # crash after writing the temp file, before the rename
eq(Store(root).next_seq(), 11, "temp file value honoured")
with open(root + "/seq.tmp", "w") as f:
    f.write("garb")
eq(Store(root).next_seq(), 12, "garbage temp file ignored")

# -- scanner byte stream -----------------------------------------------------------------
d = ScanDecoder()
eq(d.feed(b"9900010000000019\r", 0), ["9900010000000019"], "CR line")
eq(d.feed(b"9900010000000019\r\n", 100), [], "repeat within 1.5 s debounced")
eq(d.feed(b"9900010000000019\r\n", 1500), [], "still held: debounced")
eq(d.feed(b"9900010000000019\r\n", 3300), ["9900010000000019"], "after a pause read again")
eq(d.feed(b"]E09900010000000027\r\n", 3400), ["9900010000000027"], "AIM prefix stripped")
eq(d.feed(b"99000100", 5000), [], "partial kept")
eq(d.feed(b"00000035\n", 5100), ["9900010000000035"], "split read joined")
eq(d.feed(b"12345", 6000), [], "partial")
eq(d.feed(b"678\r", 7000), ["678"], "stale partial dropped")
eq(d.feed(b"\x00\xff\x019900\r\n", 8000), [], "noise dropped")
eq(d.feed(b"x" * 100 + b"\r", 9000), [], "over-long line dropped")
eq(d.feed(b"\r\n\r\n", 9100), [], "empty lines")
eq(d.feed(b"A1\rB2\r", 9200), ["A1", "B2"], "two codes in one read")

# -- escpos ----------------------------------------------------------------------------
data = escpos.encode_receipt(["Vafa", "x" * 40, "\u0633\u0627\u0631\u0627"])
check(data.startswith(b"\x1b@\x1bt\x00"), "ESC @, ESC t 0 first")
check(data.endswith(b"\x1bd\x06\x1dV\x00"), "feed then cut")
check(b"Vafa\n" + b"x" * 32 + b"\n" + b"x" * 8 + b"\n????\n" in data, "wrapped text")

# -- net session on a umqtt.simple-shaped client ------------------------------------------
got = []
sess = Session(lambda: FakeUMQTT(), "t1", keepalive_s=30, time_fn=lambda: 1763800000)
sess.set_handler(lambda t, m: got.append((t, m)))
check(sess.connect(0), "connect ok")
c = sess.client
eq(c.calls[0], ("will", "vafa/v1/dev/t1/state", b'{"online":false}', True, 1), "last will")
eq(c.calls[1], ("connect", False), "persistent session")
eq(c.calls[2], ("sub", "vafa/v1/dev/t1/res", 1), "subscribe res qos1")
eq(c.calls[3], ("sub", "vafa/v1/dev/t1/cmd", 1), "subscribe cmd qos1")
eq(c.calls[4][0:2], ("pub", "vafa/v1/dev/t1/state"), "state published")
import json  # noqa: E402

st = json.loads(c.calls[4][2])
eq(st, {"online": True, "fw": "0.1.0", "queued": 0, "ts": 1763800000}, "state body")
eq(c.calls[4][3:], (True, 1), "state retained qos1")
eq(c.connect_timeout, 5, "connect is bounded by a timeout")
eq(c.sock.timeouts, [5], "socket timeout set after connect")
sess.queued = 4
check(sess.publish_state(5), "state published")
eq(json.loads(c.calls[-1][2])["queued"], 4, "state carries the journal count")
eq(c.calls[-1][3:], (True, 1), "state retained qos1")
check(sess.publish_request(b"frame", 10), "publish ok")
eq(c.calls[-1], ("pub", "vafa/v1/dev/t1/req", b"frame", False, 1), "req qos1")
c.inbox.append((b"vafa/v1/dev/t1/res", b"hello"))
sess.poll(20)
eq(got, [("vafa/v1/dev/t1/res", b"hello")], "message delivered")
eq(c.sock.timeouts, [5, 5], "timeout restored after check_msg (umqtt makes it blocking)")
sess.poll(15020)
eq(c.calls[-1], ("ping",), "ping at keepalive/2")


def boom():
    raise OSError(104)


c.check_msg = boom
sess.poll(15040)
check(not sess.connected, "error -> disconnected")
check(not sess.publish_request(b"f", 15041), "publish while disconnected fails")
sess.poll(15500)
check(not sess.connected, "backoff: no reconnect yet")
sess.poll(16040)
check(sess.connected, "reconnected after backoff")
eq([x for x in sess.client.calls if x[0] == "sub"],
   [("sub", "vafa/v1/dev/t1/res", 1), ("sub", "vafa/v1/dev/t1/cmd", 1)], "resubscribed")

bad = Session(lambda: FakeUMQTT(fail_connect=True), "t1")
check(not bad.connect(0), "refused connect")
bad.poll(500)
eq(len([1 for x in FakeUMQTT.instances if x.fail_connect]), 1, "no retry before 1 s")
bad.poll(1000)
bad.poll(2000)
bad.poll(2999)
eq(len([1 for x in FakeUMQTT.instances if x.fail_connect]), 2, "backoff doubles")
bad.poll(3000)
eq(len([1 for x in FakeUMQTT.instances if x.fail_connect]), 3, "retry after 2 s")
done("test_store_net_scan")
