# A small non-blocking MQTT 3.1.1 client for the terminal (and, over CPython sockets
# through simulator.netio, for the simulator).
#
# Why our own: the umqtt.simple frozen into MicroPython's ESP32 builds differs by release
# (1.22-1.24 freeze 1.4.0, whose connect() has no timeout) and a frozen module shadows
# /lib; and every umqtt call blocks on a blocking socket, which an ESP32 TLS socket cannot
# bound (it has no settimeout). Modelled on the approach of peterhinch's mqtt_as: one
# non-blocking socket, every wait bounded by a deadline checked on the caller's clock.
#
# Nothing here ever waits: Client.connect() only starts a connection, Client.step() does
# at most READ_BUDGET bytes of reading, one write and the timers, and returns. The TCP
# connect is EINPROGRESS then a zero-timeout poll for writability; the TLS handshake is
# driven by the first writes on the non-blocking TLS socket (MicroPython runs the
# handshake inside read/write and answers "would block" until it is done); partial
# writes stay in a buffer. Every packet received is bounded (MAX_PACKET), so is every
# buffer, the number of unacknowledged publishes and every field's length.
#
# Socket API used, checked against the MicroPython sources at v1.22.0 .. v1.28.0 and the
# 1.29 preview (docs/terminal.md, "Supported MicroPython releases"): socket.socket(af,
# SOCK_STREAM), setblocking(False), connect() raising OSError EINPROGRESS, read(n) /
# write(buf) returning None when they would block (the only I/O a 1.22 TLS socket has:
# no recv/send, no settimeout), select.poll() with poll(0), and
# SSLContext.wrap_socket(sock, server_hostname=..., do_handshake_on_connect=False).
from micropython import const

from vafa.clock import ticks_add, ticks_diff

MAX_PAYLOAD = const(4096)  # our frames are < 1 KiB; anything bigger is not ours
MAX_PACKET = const(4096 + 512)  # payload plus topic, packet id and headers
MAX_TOPIC = const(128)
_MAX_FIELD = const(256)  # client id, user, password, will topic
_MAX_OUT = const(16384)  # bytes waiting to be written
_MAX_INFLIGHT = const(8)  # QoS 1 publishes awaiting PUBACK
_READ_CHUNK = const(512)
READ_BUDGET = const(2048)  # bytes read per step(): bounds one pass's work
CONNECT_TIMEOUT_MS = const(5000)  # TCP connect + TLS handshake + CONNACK
PUBACK_TIMEOUT_MS = const(1500)  # a QoS 1 publish unacknowledged this long: link is dead
_ACK_TIMEOUT_MS = const(5000)  # SUBACK, PINGRESP, a write making no progress

# States of a Client.
CLOSED = const(0)
CONNECTING = const(1)  # TCP connect in progress
_OPENING = const(2)  # connected (TLS handshake, CONNECT sent): waiting for CONNACK
UP = const(3)

# errno values meaning "not yet" on the platforms we run on: EAGAIN 11, EINPROGRESS 115
# (Linux) and 119 (lwIP on the ESP32), EALREADY 114 / 120, EWOULDBLOCK = EAGAIN.
BUSY_ERRNOS = (11, 114, 115, 119, 120)


class MQTTError(OSError):
    pass


def is_busy(e):
    return isinstance(e, OSError) and e.args and e.args[0] in BUSY_ERRNOS


def _field(s, what):
    if isinstance(s, str):
        s = s.encode()
    if len(s) > _MAX_FIELD:
        raise MQTTError("%s longer than %d bytes" % (what, _MAX_FIELD))
    return bytes((len(s) >> 8, len(s) & 0xFF)) + s


def _packet(first, body):
    n = len(body)
    if n > MAX_PACKET:
        raise MQTTError("packet of %d bytes is over %d" % (n, MAX_PACKET))
    head = bytearray((first,))
    while True:
        b = n & 0x7F
        n >>= 7
        head.append(b | 0x80 if n else b)
        if not n:
            return bytes(head) + body


def connect_packet(client_id, user, password, keepalive_s, will, clean_session):
    """CONNECT (MQTT 3.1.1). ``will`` is None or (topic, message, qos, retain)."""
    flags = 0x02 if clean_session else 0
    payload = _field(client_id, "client id")
    if will is not None:
        topic, msg, qos, retain = will
        flags |= 0x04 | (qos << 3) | (0x20 if retain else 0)
        if len(msg) > MAX_PAYLOAD:
            raise MQTTError("will message too long")
        payload += _field(topic, "will topic") + bytes((len(msg) >> 8, len(msg) & 0xFF)) + msg
    if user is not None:
        flags |= 0x80
        payload += _field(user, "user")
        if password is not None:
            flags |= 0x40
            payload += _field(password, "password")
    if not 0 <= keepalive_s <= 0xFFFF:
        raise MQTTError("keepalive out of range")
    head = b"\x00\x04MQTT\x04" + bytes((flags, keepalive_s >> 8, keepalive_s & 0xFF))
    return _packet(0x10, head + payload)


def publish_packet(topic, payload, qos, retain, pid, dup=False):
    if qos not in (0, 1):
        raise MQTTError("QoS %r not supported" % (qos,))
    if len(topic) > MAX_TOPIC:
        raise MQTTError("topic too long")
    if len(payload) > MAX_PAYLOAD:
        raise MQTTError("payload of %d bytes is over %d" % (len(payload), MAX_PAYLOAD))
    first = 0x30 | (qos << 1) | (1 if retain else 0) | (0x08 if dup else 0)
    body = _field(topic, "topic")
    if qos:
        body += bytes((pid >> 8, pid & 0xFF))
    return _packet(first, body + payload)


def subscribe_packet(pid, topic, qos):
    if len(topic) > MAX_TOPIC:
        raise MQTTError("topic too long")
    return _packet(0x82, bytes((pid >> 8, pid & 0xFF)) + _field(topic, "topic") + bytes((qos,)))


def puback_packet(pid):
    return bytes((0x40, 2, pid >> 8, pid & 0xFF))


PINGREQ = b"\xc0\x00"
DISCONNECT = b"\xe0\x00"


class Parser:
    """Splits a byte stream into (first_byte, body) packets. The buffer never holds more
    than one packet of at most ``max_packet`` bytes plus its 5-byte header: a longer
    announced length raises MQTTError at once, before its body is read."""

    def __init__(self, max_packet=MAX_PACKET):
        self.max_packet = max_packet
        self.buf = b""

    def feed(self, data):
        self.buf += data
        out = []
        while True:
            p = self._one()
            if p is None:
                return out
            out.append(p)

    def _one(self):
        buf = self.buf
        if len(buf) < 2:
            return None
        n = 0
        shift = 0
        i = 1
        while True:
            if i >= len(buf):
                if i > 4:
                    raise MQTTError("malformed remaining length")
                return None
            b = buf[i]
            n |= (b & 0x7F) << shift
            i += 1
            if not b & 0x80:
                break
            shift += 7
            if i > 4:
                raise MQTTError("malformed remaining length")
        if n > self.max_packet:
            raise MQTTError("incoming packet of %d bytes is over %d" % (n, self.max_packet))
        if len(buf) < i + n:
            return None
        self.buf = buf[i + n:]
        return buf[0], buf[i:i + n]


class Sockets:
    """The few socket calls the client makes, on MicroPython's ``socket`` and ``select``
    modules (or stand-ins with the same behaviour: the simulator's CPython adapter, the
    tests' strict fakes). getaddrinfo() is the one call that can block (DNS on the
    ESP32): the address is cached; after forget() it is looked up once more, and if that
    lookup fails the old address is kept (the broker's address rarely changes, and a
    terminal whose Wi-Fi is back before the internet must not block on DNS each try)."""

    def __init__(self, socket_mod=None, select_mod=None):
        if socket_mod is None:
            import socket as socket_mod
        if select_mod is None:
            import select as select_mod
        self.socket = socket_mod
        self.select = select_mod
        self._key = None
        self._addr = None
        self._stale = False
        self.lookups = 0

    def resolve(self, host, port):
        key = (host, port)
        if self._key == key and self._addr is not None and not self._stale:
            return self._addr
        self.lookups += 1
        self._stale = False
        try:
            info = self.socket.getaddrinfo(host, port, 0, self.socket.SOCK_STREAM)[0]
        except OSError:
            if self._key == key and self._addr is not None:
                return self._addr
            raise
        self._key = key
        self._addr = (info[0], info[-1])
        return self._addr

    def forget(self):
        """Look the address up again at the next connect."""
        self._stale = True

    def open(self, family, address):
        """A non-blocking socket with its connect started."""
        s = self.socket.socket(family, self.socket.SOCK_STREAM)
        try:
            s.setblocking(False)
            s.connect(address)
        except OSError as e:
            if not is_busy(e):
                s.close()
                raise
        return s

    def writable(self, s):
        """True when the connect finished (zero-timeout poll); OSError when it failed."""
        sel = self.select
        p = sel.poll()
        p.register(s, sel.POLLOUT)
        events = p.poll(0)
        p.unregister(s)
        for ev in events:
            mask = ev[1]
            if mask & (sel.POLLERR | sel.POLLHUP):
                raise OSError(104, "connect failed")
            if mask & sel.POLLOUT:
                return True
        return False


class Client:
    """One MQTT connection. ``tls`` is None or an SSLContext-like object whose
    wrap_socket(sock, server_hostname=..., do_handshake_on_connect=False) is used once the
    TCP connect finished. Every failure raises (OSError, MQTTError) from step() or the
    call that found it; the Client is then closed and a new one must be made."""

    def __init__(self, client_id, host, port, user=None, password=None, keepalive_s=30,
                 tls=None, sockets=None, max_packet=MAX_PACKET):
        self.client_id = client_id
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.keepalive_s = keepalive_s
        self.tls = tls
        self.sockets = sockets
        self.parser = Parser(max_packet)
        self.sock = None
        self.state = CLOSED
        self.session_present = False
        self.inflight = {}  # pid -> ticks sent (QoS 1 publishes awaiting PUBACK)
        self.subscribing = {}  # pid -> ticks sent (awaiting SUBACK)
        self._cb = None
        self._will = None
        self._out = b""
        self._pid = 0
        self._deadline = 0
        self._last_out = 0
        self._last_progress = 0
        self._ping_at = None
        self._clean = False
        self._handshaking = False
        self.bytes_in = 0

    # -- set-up ------------------------------------------------------------------------
    def set_callback(self, fn):
        """``fn(topic_bytes, payload_bytes)`` for each PUBLISH received."""
        self._cb = fn

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self._will = (topic, msg, qos, retain)

    @property
    def connected(self):
        return self.state == UP

    def connect(self, now_ms, clean_session=False):
        """Start connecting (returns at once); step() finishes it. Resolving the host is
        the only part that can block, and Sockets caches it."""
        if self.sockets is None:
            self.sockets = Sockets()
        family, address = self.sockets.resolve(self.host, self.port)
        self._clean = clean_session
        self.sock = self.sockets.open(family, address)
        self.state = CONNECTING
        self._deadline = ticks_add(now_ms, CONNECT_TIMEOUT_MS)
        self._last_progress = now_ms

    # -- operations (queue bytes; step() writes them) ----------------------------------
    def _next_pid(self):
        for _ in range(_MAX_INFLIGHT * 2 + 2):
            self._pid = self._pid % 0xFFFF + 1
            if self._pid not in self.inflight and self._pid not in self.subscribing:
                return self._pid
        raise MQTTError("no free packet id")

    def _queue(self, data, now_ms):
        if len(self._out) + len(data) > _MAX_OUT:
            raise MQTTError("output buffer full")
        if not self._out:
            self._last_progress = now_ms
        self._out += data
        self._last_out = now_ms

    def _require_up(self):
        if self.state != UP:
            raise MQTTError("not connected")

    def publish(self, topic, msg, now_ms, retain=False, qos=0):
        """Queue a PUBLISH; returns its packet id (0 for QoS 0). PUBACK clears it from
        ``inflight``; none within PUBACK_TIMEOUT_MS makes step() raise."""
        self._require_up()
        if qos and len(self.inflight) >= _MAX_INFLIGHT:
            raise MQTTError("too many unacknowledged publishes")
        pid = self._next_pid() if qos else 0
        self._queue(publish_packet(topic, msg, qos, retain, pid), now_ms)
        if qos:
            self.inflight[pid] = now_ms
        return pid

    def subscribe(self, topic, now_ms, qos=1):
        self._require_up()
        pid = self._next_pid()
        self._queue(subscribe_packet(pid, topic, qos), now_ms)
        self.subscribing[pid] = now_ms
        return pid

    def ping(self, now_ms):
        self._require_up()
        if self._ping_at is None:
            self._queue(PINGREQ, now_ms)
            self._ping_at = now_ms

    def close(self):
        s, self.sock = self.sock, None
        self.state = CLOSED
        self._out = b""
        if s is not None:
            try:
                s.close()
            except OSError:
                pass

    def disconnect(self):
        """Best effort: one non-blocking write of DISCONNECT, then close (the broker then
        does not publish the last will)."""
        s = self.sock
        if s is not None and self.state == UP and not self._out:
            try:
                s.write(DISCONNECT)
            except OSError:
                pass
        self.close()

    # -- the work ------------------------------------------------------------------------
    def step(self, now_ms):
        """Bounded progress: connect, write what is queued, read what arrived, timers.
        Raises OSError/MQTTError when the connection failed (then it is closed)."""
        try:
            self._step(now_ms)
        except Exception:
            self.close()
            raise

    def _step(self, now_ms):
        if self.state == CLOSED:
            raise MQTTError("closed")
        if self.state == CONNECTING:
            if ticks_diff(now_ms, self._deadline) >= 0:
                raise OSError(110, "TCP connect timed out")
            if not self.sockets.writable(self.sock):
                return
            if self.tls is not None:
                self.sock = self.tls.wrap_socket(self.sock, server_hostname=self.host,
                                                 do_handshake_on_connect=False)
            self.state = _OPENING
            self._handshaking = self.tls is not None
            self._out = b""
            self._queue(connect_packet(self.client_id, self.user, self.password,
                                       self.keepalive_s, self._will, self._clean), now_ms)
        self._write(now_ms)
        if not self._handshaking:  # one TLS handshake step per pass: its crypto is slow
            self._read(now_ms)
        if self.state != CLOSED:
            self._timers(now_ms)

    def _write(self, now_ms):
        if not self._out:
            return
        n = self.sock.write(self._out)
        if n:
            self._out = self._out[n:]
            self._last_progress = now_ms
            self._handshaking = False  # TLS: a write went through, so the handshake is done

    def _read(self, now_ms):
        budget = READ_BUDGET
        while budget > 0:
            data = self.sock.read(_READ_CHUNK)
            if data is None:
                return  # nothing more now
            if not data:
                raise MQTTError("connection closed by the broker")
            budget -= len(data)
            self.bytes_in += len(data)
            for first, body in self.parser.feed(data):
                self._handle(first, body, now_ms)
                if self.state == CLOSED:
                    return  # the handler closed us (a reboot)

    def _handle(self, first, body, now_ms):
        kind = first & 0xF0
        if self.state == _OPENING:
            if kind != 0x20 or len(body) != 2:
                raise MQTTError("expected CONNACK")
            if body[1] != 0:
                raise MQTTError("broker refused the connection (CONNACK %d)" % body[1])
            self.session_present = bool(body[0] & 1)
            self.state = UP
            return
        if kind == 0x30:
            self._on_publish(first, body, now_ms)
        elif kind == 0x40:
            if len(body) != 2:
                raise MQTTError("bad PUBACK")
            self.inflight.pop((body[0] << 8) | body[1], None)
        elif kind == 0x90:
            if len(body) < 3:
                raise MQTTError("bad SUBACK")
            self.subscribing.pop((body[0] << 8) | body[1], None)
            for rc in body[2:]:
                if rc & 0x80:
                    raise MQTTError("broker refused a subscription")
        elif kind == 0xD0:
            self._ping_at = None
        else:
            raise MQTTError("unexpected packet 0x%02x" % first)

    def _on_publish(self, first, body, now_ms):
        qos = (first >> 1) & 3
        if qos > 1:
            raise MQTTError("QoS %d publish (we subscribe at QoS 1)" % qos)
        if len(body) < 2:
            raise MQTTError("bad PUBLISH")
        tlen = (body[0] << 8) | body[1]
        pos = 2 + tlen
        if tlen > MAX_TOPIC or pos + (2 if qos else 0) > len(body):
            raise MQTTError("bad PUBLISH topic")
        topic = body[2:pos]
        pid = 0
        if qos:
            pid = (body[pos] << 8) | body[pos + 1]
            pos += 2
        payload = body[pos:]
        if qos:
            # Acknowledged (and written if the socket takes it) before the handler runs:
            # a handler that reboots the board (cmd reboot) must not get the same
            # message again after the reboot. A response lost this way is harmless: the
            # app resends its request under the same id.
            self._queue(puback_packet(pid), now_ms)
            self._write(now_ms)
        if self._cb is not None:
            self._cb(topic, payload)

    def _timers(self, now_ms):
        if self.state == _OPENING:
            if ticks_diff(now_ms, self._deadline) >= 0:
                raise OSError(110, "no CONNACK (TLS handshake or broker) in time")
            return
        if self._out and ticks_diff(now_ms, self._last_progress) >= _ACK_TIMEOUT_MS:
            raise OSError(110, "write made no progress")
        for sent in self.inflight.values():
            if ticks_diff(now_ms, sent) >= PUBACK_TIMEOUT_MS:
                raise OSError(110, "no PUBACK")
        for sent in self.subscribing.values():
            if ticks_diff(now_ms, sent) >= _ACK_TIMEOUT_MS:
                raise OSError(110, "no SUBACK")
        if self._ping_at is not None and ticks_diff(now_ms, self._ping_at) >= _ACK_TIMEOUT_MS:
            raise OSError(110, "no PINGRESP")
        if ticks_diff(now_ms, self._last_out) >= self.keepalive_s * 500:
            self.ping(now_ms)
