# ruff: noqa: UP031  (MicroPython test script helper: %-formatting kept on purpose)
# Strict stand-ins for MicroPython's socket, select and TLS on the ESP32, plus an
# in-process MQTT broker, for tests under MicroPython and CPython.
#
# Behaviour taken from the MicroPython sources (ports/esp32/modsocket.c,
# extmod/modssl_mbedtls.c at v1.22.0, extmod/modtls_mbedtls.c at v1.23.0+):
# - a new socket is blocking; connect() on a non-blocking one raises OSError(EINPROGRESS)
#   (119, lwIP's value); poll() then reports POLLOUT once connected, POLLHUP|POLLERR with
#   it when the connect failed;
# - read(n)/write(b) return None when they would block, recv/send raise OSError(EAGAIN);
#   write may take only part of the buffer;
# - a TLS socket (SSLContext.wrap_socket) has read/write/setblocking/close and NO
#   settimeout (AttributeError) and, on 1.22/1.23, no recv/send; with
#   do_handshake_on_connect=False its handshake runs inside read/write, which answer
#   None until it is done; CERT_REQUIRED without server_hostname is a ValueError.
# And strictness the device cannot give: any call that would make a blocking socket wait
# fails the test (Blocked), and a poll with a non-zero timeout too. Costs of the calls
# that do block on the device (DNS, a TLS handshake step) advance the fake clock.

EAGAIN = 11
EINPROGRESS = 119  # lwIP (ESP32)
ECONNREFUSED = 111
ECONNRESET = 104
ENOTCONN = 128
POLLIN = 1
POLLOUT = 4
POLLERR = 8
POLLHUP = 16
SOCK_STREAM = 1
AF_INET = 2


class Blocked(AssertionError):
    """A call that would block the terminal's loop."""


class World:
    """The network as the tests want it. ``clock`` is the test's fake ms clock (an object
    with ``t``). ``broker``: "up" (accepts, speaks MQTT), "refuse" (connection refused),
    "silent" (SYNs dropped: connect never completes). ``link``: False drops everything
    silently (a dead Wi-Fi link, or a cable pulled beyond the access point)."""

    def __init__(self, clock, broker="up"):
        self.clock = clock
        self.broker = broker
        self.link = True
        self.dns_ms = 0  # cost of one getaddrinfo (it blocks on the device)
        self.dns_fail = False
        self.lookups = 0
        self.connect_ms = 5  # TCP connect latency
        self.write_chunk = 7  # the most bytes one write() takes: partial writes
        self.handshake_steps = 3  # TLS: reads/writes answering None before it is done
        self.handshake_step_ms = 0  # simulated cost of one handshake step
        self.no_puback = False  # the broker stops acknowledging publishes
        self.sockets = []
        self.mqtt = FakeBroker()

    def now(self):
        return self.clock.t


class FakeBroker:
    """Just enough MQTT 3.1.1 on the broker side, parsed independently of vafa.mqtt."""

    def __init__(self):
        self.connects = []  # (flags, client id)
        self.subscriptions = []  # topic
        self.published = []  # (topic, payload, qos, retain)
        self.client_pubacks = []  # packet ids the client acknowledged
        self.pings = 0
        self.disconnects = 0
        self._pid = 100
        # answer(topic, payload) -> (topic, payload) or None: a message for the client in
        # reply to one it published (the backend, for a bench or a test)
        self.answer = None

    def handle(self, first, body, world):
        """Answer one client packet: returns the bytes to send back."""
        kind = first & 0xF0
        if kind == 0x10:
            # protocol name (6) + level (1) + flags (1) + keepalive (2), then client id
            flags = body[7]
            n = (body[10] << 8) | body[11]
            self.connects.append((flags, body[12:12 + n].decode()))
            return b"\x20\x02\x00\x00"
        if kind == 0x80:
            pid = body[:2]
            n = (body[2] << 8) | body[3]
            self.subscriptions.append(body[4:4 + n].decode())
            return b"\x90\x03" + pid + bytes((body[4 + n],))
        if kind == 0x30:
            qos = (first >> 1) & 3
            n = (body[0] << 8) | body[1]
            topic = body[2:2 + n].decode()
            pos = 2 + n + (2 if qos else 0)
            payload = bytes(body[pos:])
            self.published.append((topic, payload, qos, bool(first & 1)))
            out = b""
            if qos and not world.no_puback:
                out = b"\x40\x02" + body[2 + n:4 + n]
            reply = self.answer(topic, payload) if self.answer is not None else None
            if reply is not None:
                out += self.publish_bytes(reply[0], reply[1])
            return out
        if kind == 0x40:
            self.client_pubacks.append((body[0] << 8) | body[1])
            return b""
        if kind == 0xC0:
            self.pings += 1
            return b"\xd0\x00"
        if kind == 0xE0:
            self.disconnects += 1
            return b""
        raise AssertionError("broker got packet 0x%02x" % first)

    def publish_bytes(self, topic, payload, qos=1):
        """A PUBLISH from the broker to the client."""
        self._pid += 1
        t = topic.encode()
        body = bytes((len(t) >> 8, len(t) & 0xFF)) + t
        if qos:
            body += bytes((self._pid >> 8, self._pid & 0xFF))
        body += payload
        return encode(0x30 | (qos << 1), body)


def encode(first, body):
    n = len(body)
    head = bytearray((first,))
    while True:
        b = n & 0x7F
        n >>= 7
        head.append(b | 0x80 if n else b)
        if not n:
            return bytes(head) + body


def split_packets(buf):
    """(packets, rest) of a client byte stream."""
    out = []
    while len(buf) >= 2:
        n = 0
        shift = 0
        i = 1
        while True:
            if i >= len(buf):
                return out, buf
            b = buf[i]
            n |= (b & 0x7F) << shift
            shift += 7
            i += 1
            if not b & 0x80:
                break
        if len(buf) < i + n:
            break
        out.append((buf[0], buf[i:i + n]))
        buf = buf[i + n:]
    return out, buf


class FakeSocket:
    """socket.socket on the ESP32, strict."""

    def __init__(self, world):
        self.world = world
        self.blocking = True
        self.state = "new"  # new, connecting, connected, refused, closed
        self.connected_at = None
        self.to_client = b""
        self.from_client = b""
        self.reset = False
        self.timeout = None
        world.sockets.append(self)

    # -- MicroPython socket methods ----------------------------------------------------
    def settimeout(self, t):
        self.timeout = t

    def setblocking(self, flag):
        self.blocking = bool(flag)

    def connect(self, address):
        if self.state != "new":
            raise OSError(EINPROGRESS if self.state == "connecting" else 127)
        w = self.world
        self.address = address
        if self.blocking:
            raise Blocked("blocking connect()")
        self.state = "connecting"
        if w.broker == "up" and w.link:
            self.connected_at = w.now() + w.connect_ms
        elif w.broker == "refuse" and w.link:
            self.connected_at = -1
        raise OSError(EINPROGRESS)

    def _settle(self):
        w = self.world
        if self.state == "connecting":
            if self.connected_at == -1:
                self.state = "refused"
            elif self.connected_at is not None and w.now() >= self.connected_at:
                self.state = "connected"

    def poll_mask(self, mask):
        self._settle()
        if self.state == "refused" or self.state == "closed":
            return POLLOUT | POLLIN | POLLERR | POLLHUP
        if self.state != "connected":
            return 0
        out = mask & POLLOUT
        if self.to_client or self.reset:
            out |= mask & POLLIN
        return out

    def _ready(self):
        self._settle()
        if self.state == "closed":
            raise OSError(9)  # EBADF
        if self.state == "refused":
            raise OSError(ECONNREFUSED)
        if self.reset:
            raise OSError(ECONNRESET)
        return self.state == "connected"

    def _would_block(self, what):
        if self.blocking:
            raise Blocked("blocking %s would wait" % what)
        return None

    def write(self, data):
        if not self._ready():
            return self._would_block("write before connected")
        n = min(len(data), self.world.write_chunk)
        if n == 0:
            return 0
        self._deliver(bytes(data[:n]))
        return n

    def read(self, n):
        if not self._ready():
            return self._would_block("read before connected")
        if not self.to_client:
            return self._would_block("read")
        data, self.to_client = self.to_client[:n], self.to_client[n:]
        return data

    def send(self, data):
        r = self.write(data)
        if r is None:
            raise OSError(EAGAIN)
        return r

    def recv(self, n):
        r = self.read(n)
        if r is None:
            raise OSError(EAGAIN)
        return r

    def close(self):
        self.state = "closed"

    # -- the far end -------------------------------------------------------------------
    def _deliver(self, data):
        w = self.world
        if not w.link:
            return  # a dead link: the bytes go nowhere, nothing comes back
        self.from_client += data
        packets, self.from_client = split_packets(self.from_client)
        for first, body in packets:
            self.to_client += w.mqtt.handle(first, body, w)

    def inject(self, data):
        """Bytes from the broker."""
        if self.world.link:
            self.to_client += data


class FakeTlsSocket:
    """The TLS socket of MicroPython 1.22/1.23: read, readinto, readline, write,
    setblocking, close (no settimeout, no recv/send)."""

    def __init__(self, raw, world, hostname):
        self.raw = raw
        self.world = world
        self.hostname = hostname
        self.steps_left = world.handshake_steps

    def _handshake(self):
        """True when done; each call is one step of the handshake."""
        if self.steps_left <= 0:
            return True
        if not self.raw._ready():
            return False
        self.world.clock.t += self.world.handshake_step_ms
        self.steps_left -= 1
        return False

    def read(self, n):
        if not self._handshake():
            if self.raw.blocking:
                raise Blocked("blocking TLS handshake")
            return None
        return self.raw.read(n)

    def readinto(self, buf):
        raise AssertionError("not used by the firmware")

    def readline(self):
        raise AssertionError("not used by the firmware")

    def write(self, data):
        if not self._handshake():
            if self.raw.blocking:
                raise Blocked("blocking TLS handshake")
            return None
        return self.raw.write(data)

    def setblocking(self, flag):
        self.raw.setblocking(flag)

    def close(self):
        self.raw.close()

    def poll_mask(self, mask):
        return self.raw.poll_mask(mask)


class FakeSSLContext:
    CERT_NONE = 0
    CERT_REQUIRED = 2

    def __init__(self, world):
        self.world = world
        self.verify_mode = self.CERT_NONE  # MicroPython's client default, all releases
        self.cadata = None
        self.wrapped = 0

    def load_verify_locations(self, cafile=None, cadata=None):
        self.cadata = cadata

    def wrap_socket(self, sock, server_side=False, do_handshake_on_connect=True,
                    server_hostname=None):
        if self.verify_mode == self.CERT_REQUIRED and server_hostname is None:
            raise ValueError("CERT_REQUIRED requires server_hostname")
        if do_handshake_on_connect:
            raise Blocked("wrap_socket() with the handshake on connect blocks")
        self.wrapped += 1
        return FakeTlsSocket(sock, self.world, server_hostname)


class FakeSocketModule:
    SOCK_STREAM = SOCK_STREAM
    AF_INET = AF_INET

    def __init__(self, world):
        self.world = world

    def getaddrinfo(self, host, port, af=0, type_=0):
        w = self.world
        w.lookups += 1
        w.clock.t += w.dns_ms  # blocks on the device
        if w.dns_fail or not w.link:
            raise OSError(-202)  # what the ESP32 raises for a failed lookup
        return [(AF_INET, SOCK_STREAM, 6, "", ("10.0.0.5", port))]

    def socket(self, af=AF_INET, type_=SOCK_STREAM):
        return FakeSocket(self.world)


class FakePoll:
    def __init__(self):
        self.objs = []

    def register(self, obj, mask=POLLIN | POLLOUT):
        self.objs.append((obj, mask))

    def unregister(self, obj):
        self.objs = [x for x in self.objs if x[0] is not obj]

    def poll(self, timeout=-1):
        if timeout != 0:
            raise Blocked("poll(%r) waits; the loop polls with 0" % (timeout,))
        out = []
        for obj, mask in self.objs:
            ev = obj.poll_mask(mask)
            if ev:
                out.append((obj, ev))
        return out


class FakeSelectModule:
    POLLIN = POLLIN
    POLLOUT = POLLOUT
    POLLERR = POLLERR
    POLLHUP = POLLHUP

    def poll(self):
        return FakePoll()


def sockets(world):
    """vafa.mqtt.Sockets on the fakes."""
    from vafa.mqtt import Sockets

    return Sockets(FakeSocketModule(world), FakeSelectModule())


class TimedKeypad:
    """A keypad whose keys are held for ``hold_ms`` like fingers do: get_key() sees a
    key only while it is down, so a loop pass that blocks longer loses it."""

    def __init__(self, clock, hold_ms=60):
        self.clock = clock
        self.hold_ms = hold_ms
        self.presses = []  # [t_down, key, seen]
        self.seen = []

    def press_at(self, t, key):
        self.presses.append([t, key, False])

    def get_key(self):
        now = self.clock.t
        for p in self.presses:
            if not p[2] and p[0] <= now < p[0] + self.hold_ms:
                p[2] = True
                self.seen.append(p[1])
                return p[1]
        return None

    def lost(self):
        now = self.clock.t
        return [p[1] for p in self.presses if not p[2] and p[0] + self.hold_ms <= now]

    def deinit(self):
        pass
