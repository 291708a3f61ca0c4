# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
# vafa.mqtt (our MQTT 3.1.1 client) and vafa.net.Session on the strict socket fakes:
# exact bytes, bounds, non-blocking connect / TLS handshake / partial writes, timeouts.
import fakenet
from fakenet import Blocked, World
from mpytest import Clock, check, done, eq, raises
from vafa import mqtt
from vafa.net import Session

# -- packets, byte for byte (MQTT 3.1.1, sections 3.1-3.14) ----------------------------
eq(mqtt.connect_packet("t1", None, None, 30, None, True),
   b"\x10\x0e\x00\x04MQTT\x04\x02\x00\x1e\x00\x02t1", "CONNECT, clean, no will")
eq(mqtt.connect_packet("t1", "u", "p", 60, ("s", b"x", 1, True), False),
   b"\x10\x1a\x00\x04MQTT\x04\xec\x00\x3c\x00\x02t1\x00\x01s\x00\x01x\x00\x01u\x00\x01p",
   "CONNECT: user, password, will retained QoS 1, persistent session")
eq(mqtt.publish_packet("a/b", b"hi", 1, False, 10),
   b"\x32\x09\x00\x03a/b\x00\x0ahi", "PUBLISH QoS 1")
eq(mqtt.publish_packet("a", b"", 0, True, 0), b"\x31\x03\x00\x01a", "PUBLISH QoS 0 retained")
eq(mqtt.subscribe_packet(7, "a/b", 1), b"\x82\x08\x00\x07\x00\x03a/b\x01", "SUBSCRIBE")
eq(mqtt.puback_packet(0x1234), b"\x40\x02\x12\x34", "PUBACK")
eq(mqtt.publish_packet("t", b"x" * 200, 0, False, 0)[:3], b"\x30\xcb\x01",
   "two-byte remaining length")
raises(mqtt.MQTTError, mqtt.publish_packet, "t", b"x" * (mqtt.MAX_PAYLOAD + 1), 1, False, 1)
raises(mqtt.MQTTError, mqtt.publish_packet, "t" * (mqtt.MAX_TOPIC + 1), b"", 1, False, 1)
raises(mqtt.MQTTError, mqtt.publish_packet, "t", b"", 2, False, 1)
raises(mqtt.MQTTError, mqtt.connect_packet, "c" * 300, None, None, 30, None, True)

# -- parser: split input, bounds -----------------------------------------------------------
p = mqtt.Parser()
eq(p.feed(b"\x90"), [], "half a header")
eq(p.feed(b"\x03\x00\x01"), [], "body incomplete")
eq(p.feed(b"\x01\xd0\x00"), [(0x90, b"\x00\x01\x01"), (0xD0, b"")], "two packets")
p = mqtt.Parser()
raises(mqtt.MQTTError, p.feed, b"\x30\xff\xff\x03")  # 65535+ bytes announced: refused
eq(len(p.buf), 4, "refused before its body was read")
p = mqtt.Parser()
raises(mqtt.MQTTError, p.feed, b"\x30\xff\xff\xff\xff\x01")  # a 5-byte length
p = mqtt.Parser()
big = mqtt.MAX_PACKET
hdr = bytes((0x30, (big & 0x7F) | 0x80, big >> 7))
eq(p.feed(hdr), [], "a packet of exactly MAX_PACKET is accepted")

# -- client on the strict fakes ---------------------------------------------------------
clock = Clock(1000)
w = World(clock)
got = []
socks = fakenet.sockets(w)  # one per session, as in main.py: it caches the address
c = mqtt.Client("t1", "broker.example", 1883, user="t1", password="pw", keepalive_s=30,
                sockets=socks)
c.set_callback(lambda t, m: got.append((t, m)))
c.set_last_will("s", b"off", retain=True, qos=1)
c.connect(clock.t)
eq(w.lookups, 1, "one DNS lookup")
eq(w.sockets[0].blocking, False, "socket made non-blocking before connect")
eq(c.state, mqtt.CONNECTING, "connect in progress")
c.step(clock.t)
eq(c.state, mqtt.CONNECTING, "not writable yet")
clock.t += 10
for _ in range(20):  # CONNECT goes out 7 bytes per write
    c.step(clock.t)
    clock.t += 20
eq(c.state, mqtt.UP, "CONNACK received")
eq(w.mqtt.connects, [(0xC0 | 0x20 | 0x08 | 0x04, "t1")], "user, password, will, persistent")
pid = c.publish("vafa/v1/dev/t1/req", b"frame", clock.t, qos=1)
check(pid in c.inflight, "awaiting PUBACK")
for _ in range(5):
    c.step(clock.t)
    clock.t += 20
check(pid not in c.inflight, "PUBACK received")
eq(w.mqtt.published[-1], ("vafa/v1/dev/t1/req", b"frame", 1, False), "published")
s0 = w.sockets[0]
s0.inject(w.mqtt.publish_bytes("vafa/v1/dev/t1/res", b"answer", qos=1))
c.step(clock.t)
eq(got, [(b"vafa/v1/dev/t1/res", b"answer")], "message delivered")
for _ in range(2):
    c.step(clock.t)
eq(w.mqtt.client_pubacks, [w.mqtt._pid], "QoS 1 message acknowledged")
# PUBACK goes out before the handler runs: a handler that reboots the board (cmd reboot)
# must not get the same message again from the persistent session after the reboot.
acked_in_handler = []
c.set_callback(lambda t, m: acked_in_handler.append(list(w.mqtt.client_pubacks)))
w.write_chunk = 64
s0.inject(w.mqtt.publish_bytes("vafa/v1/dev/t1/cmd", b"reboot", qos=1))
c.step(clock.t)
eq(acked_in_handler, [[w.mqtt._pid - 1, w.mqtt._pid]], "acknowledged before the handler ran")
w.write_chunk = 7
# keepalive: PINGREQ at keepalive/2 without output, PINGRESP expected
clock.t += 15000
c.step(clock.t)
c.step(clock.t)
eq(w.mqtt.pings, 1, "PINGREQ at keepalive/2")
check(c._ping_at is None, "PINGRESP received")
# an oversize packet from the broker drops the connection before it is buffered
s0.inject(b"\x30" + bytes((0x80 | 0x7F, 0xFF, 0x01)))
raises(mqtt.MQTTError, c.step, clock.t)
eq(c.state, mqtt.CLOSED, "closed after the oversize packet")
eq(s0.state, "closed", "socket closed")

# -- a silent link drop: no PUBACK within PUBACK_TIMEOUT_MS ------------------------------
c = mqtt.Client("t1", "broker.example", 1883, sockets=socks)
c.connect(clock.t)
for _ in range(10):
    clock.t += 20
    c.step(clock.t)
eq(c.state, mqtt.UP, "up again")
eq(w.lookups, 1, "address cached: no second lookup")
w.link = False
c.publish("t", b"x", clock.t, qos=1)
clock.t += mqtt.PUBACK_TIMEOUT_MS - 20
c.step(clock.t)
eq(c.state, mqtt.UP, "still waiting for PUBACK")
clock.t += 20
raises(OSError, c.step, clock.t)
eq(c.state, mqtt.CLOSED, "dead link found by the PUBACK timeout")
w.link = True

# -- unreachable broker: connect bounded by CONNECT_TIMEOUT_MS -----------------------------
w.broker = "silent"
c = mqtt.Client("t1", "broker.example", 1883, sockets=fakenet.sockets(w))
c.connect(clock.t)
start = clock.t
failed_at = None
while clock.t - start < 10000:
    clock.t += 20
    try:
        c.step(clock.t)
    except OSError:
        failed_at = clock.t - start
        break
eq(failed_at, mqtt.CONNECT_TIMEOUT_MS, "gave up after CONNECT_TIMEOUT_MS")
w.broker = "refuse"
c = mqtt.Client("t1", "broker.example", 1883, sockets=fakenet.sockets(w))
c.connect(clock.t)
raises(OSError, c.step, clock.t + 20)  # POLLHUP|POLLERR: refused
w.broker = "up"

# -- TLS: handshake driven by non-blocking writes; the TLS socket has no settimeout -------
ctx = fakenet.FakeSSLContext(w)
ctx.verify_mode = ctx.CERT_REQUIRED
c = mqtt.Client("t1", "broker.example", 8883, tls=ctx, sockets=fakenet.sockets(w))
c.connect(clock.t)
passes = 0
while c.state != mqtt.UP and passes < 50:
    clock.t += 20
    c.step(clock.t)
    passes += 1
eq(c.state, mqtt.UP, "up over TLS")
eq(c.sock.hostname, "broker.example", "server_hostname given (SNI, and needed for CERT_REQUIRED)")
raises(AttributeError, getattr, c.sock, "settimeout")
raises(AttributeError, getattr, c.sock, "recv")

# -- the fakes are strict: a blocking call fails the test ---------------------------------
s = fakenet.FakeSocketModule(w).socket()
raises(Blocked, s.connect, ("10.0.0.5", 1883))
raises(Blocked, fakenet.FakePoll().poll, 100)
raises(ValueError, lambda: ctx.wrap_socket(s, do_handshake_on_connect=False))

# -- Session: subscribe on connect, state, request_failed, backoff, DNS again ------------
clock = Clock(0)
w = World(clock)
logs = []
msgs = []


def factory():
    return mqtt.Client("t1", "broker.example", 1883, sockets=shared, keepalive_s=30)


shared = fakenet.sockets(w)
sess = Session(factory, "t1", time_fn=lambda: 1763800000, log=logs.append)
sess.set_handler(lambda t, m: msgs.append((t, m)))


def run(ms):
    end = clock.t + ms
    while clock.t < end:
        sess.poll(clock.t)
        clock.t += 20


run(1000)
check(sess.connected, "session up")
eq(w.mqtt.subscriptions, ["vafa/v1/dev/t1/res", "vafa/v1/dev/t1/cmd"], "res and cmd")
eq(w.mqtt.published[0][0], "vafa/v1/dev/t1/state", "state published")
eq(w.mqtt.published[0][2:], (1, True), "state retained QoS 1")
eq(w.mqtt.connects[0][0] & 0x02, 0, "persistent session")
tok = sess.publish_request(b"frame", clock.t)
check(tok, "request queued")
run(200)
check(not sess.request_failed(tok), "request acknowledged")
w.sockets[-1].inject(w.mqtt.publish_bytes("vafa/v1/dev/t1/res", b"r1"))
run(40)
eq(msgs, [("vafa/v1/dev/t1/res", b"r1")], "handler gets str topic and bytes")
w.link = False
tok = sess.publish_request(b"frame2", clock.t)
run(mqtt.PUBACK_TIMEOUT_MS + 40)
check(not sess.connected, "dead link detected")
check(sess.request_failed(tok), "the unacknowledged request is reported failed")
w.link = True
n_connects = len(w.mqtt.connects)
run(900)
eq(len(w.mqtt.connects), n_connects, "backoff: no reconnect within 1 s")
run(400)
check(sess.connected, "reconnected after the backoff")
eq(w.mqtt.subscriptions[-2:], ["vafa/v1/dev/t1/res", "vafa/v1/dev/t1/cmd"], "resubscribed")
eq(w.lookups, 1, "still the cached address")
# five failed connects in a row: the address is looked up again
w.broker = "refuse"
sess._drop()
sess._next_try = None
for _ in range(5):
    sess._next_try = None
    sess.poll(clock.t)
    clock.t += 20
    sess.poll(clock.t)
eq(w.lookups, 1, "no lookup during the first five failures")
sess._next_try = None
sess.poll(clock.t)
eq(w.lookups, 2, "looked up again after RESOLVE_AFTER_FAILS failures")
w.dns_fail = True  # the internet is gone, the LAN and the broker are not
w.broker = "up"
sess._drop()
n_sockets = len(w.sockets)
for _ in range(6):
    sess._next_try = None
    sess.poll(clock.t)
    clock.t += 20
    sess.poll(clock.t)
    sess._drop()
check(w.lookups <= 3, "a failed lookup is not retried at every attempt")
eq(len(w.sockets), n_sockets + 6, "every attempt connects to the cached address")
eq(w.sockets[-1].address, ("10.0.0.5", 1883), "the cached address")
w.dns_fail = False
# busy (the cashier typing): no new attempt starts
w.broker = "up"
sess._drop()
sess._next_try = None
sess.busy = lambda: True
sess.poll(clock.t)
check(sess.client is None, "no connection attempt while typing")
sess.busy = None
run(200)
check(sess.connected, "connects once the cashier is done")
done("test_mqtt")
