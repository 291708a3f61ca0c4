# Non-blocking SNTP (RFC 4330) for the one loop.
#
# ntptime.settime() blocks for up to a second waiting for the answer, which breaks the
# loop's 100 ms bound (keypad, watchdog). Here one request goes out on a non-blocking UDP
# socket, and poll() (every loop pass) looks for the answer without waiting; an attempt
# without an answer is abandoned after ATTEMPT_MS and retried with a doubling backoff
# until one succeeds, then the clock is re-synced every _RESYNC_MS.
#
# A host name is resolved the same way, with one DNS query (type A) on the same socket
# to the DNS server the Wi-Fi got: socket.getaddrinfo() waits for DNS, seconds when the
# internet is down, which is exactly when this runs (after a blackout).
from micropython import const

from vafa.clock import MIN_VALID_S, ticks_add, ticks_diff

_NTP_PORT = const(123)
_DNS_PORT = const(53)
_MAX_ANSWERS = const(16)  # DNS answer records looked at
_PACKET_BYTES = const(48)
NTP_TO_UNIX_S = const(2208988800)  # 1900-01-01 -> 1970-01-01
ATTEMPT_MS = const(2000)  # an attempt without an answer is abandoned after this
BACKOFF_MIN_MS = const(1000)
BACKOFF_MAX_MS = const(64000)
_RESYNC_MS = const(21600000)  # 6 h: RTC drift stays well under a second
_MAX_READS = const(4)  # datagrams read per poll (stray ones are dropped)
_EAGAIN = (11, 110, 115)  # EAGAIN, ETIMEDOUT, EINPROGRESS: nothing yet


def is_ip(host):
    parts = host.split(".")
    return len(parts) == 4 and all(p.isdigit() and int(p) < 256 for p in parts)


def dns_query(host, qid):
    """A recursive DNS query for the A record of ``host`` with id ``qid``."""
    q = bytes([qid >> 8, qid & 0xFF, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    for label in host.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00\x00\x01\x00\x01"


def _skip_name(data, i):
    while i < len(data):
        n = data[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:  # a pointer ends the name
            return i + 2
        i += n + 1
    return len(data)


def parse_dns(data, qid):
    """The first IPv4 address in the answer to query ``qid``, or None."""
    if data is None or len(data) < 12 or data[0] != qid >> 8 or data[1] != qid & 0xFF:
        return None
    if not data[2] & 0x80 or data[3] & 0x0F:  # not an answer, or an error (NXDOMAIN...)
        return None
    i = _skip_name(data, 12) + 4  # our one question
    for _ in range(min((data[6] << 8) | data[7], _MAX_ANSWERS)):
        i = _skip_name(data, i)
        if i + 10 > len(data):
            return None
        kind, cls, n = (data[i] << 8) | data[i + 1], (data[i + 2] << 8) | data[i + 3], \
            (data[i + 8] << 8) | data[i + 9]
        i += 10
        if kind == 1 and cls == 1 and n == 4 and i + 4 <= len(data):
            return "%d.%d.%d.%d" % (data[i], data[i + 1], data[i + 2], data[i + 3])
        i += n
    return None


def request_packet(nonce):
    """A client request (LI 0, version 4, mode 3) whose transmit timestamp is
    ``nonce`` (8 bytes): the server copies it into the answer's originate field."""
    return b"\x23" + bytes(39) + bytes(nonce)


def parse_response(data, nonce):
    """Unix seconds from a server answer to the request carrying ``nonce``, or None."""
    if data is None or len(data) < _PACKET_BYTES:
        return None
    mode = data[0] & 7
    stratum = data[1]
    if mode != 4 or not 1 <= stratum <= 15 or (data[0] >> 6) == 3:  # LI 3: unsynced
        return None
    if bytes(data[24:32]) != bytes(nonce):
        return None  # not the answer to our request (late, spoofed)
    secs = (data[40] << 24) | (data[41] << 16) | (data[42] << 8) | data[43]
    unix = secs - NTP_TO_UNIX_S
    if secs & 0x80000000 == 0:  # era 1 (after 2036)
        unix += 1 << 32
    if unix < MIN_VALID_S:
        return None
    if data[44] & 0x80:  # round the fraction
        unix += 1
    return unix


class Sntp:
    """``clock`` a vafa.clock.Clock; ``socket_mod`` the socket module (tests pass a
    fake); ``link_ok()`` True while Wi-Fi is up; ``dns_server()`` the DNS server's IP
    address (main.py: the one DHCP gave the Wi-Fi), needed when ``host`` is a name."""

    def __init__(self, clock, host="pool.ntp.org", socket_mod=None, link_ok=None, log=None,
                 nonce_fn=None, dns_server=None):
        self.clock = clock
        self.host = host
        self._socket = socket_mod
        self._link_ok = link_ok
        self._log = log
        self._nonce_fn = nonce_fn
        self._dns_server = dns_server
        self._resolving = False  # the socket waits for the DNS answer, not NTP's
        self._qid = 0
        self._sock = None
        self._nonce = None
        self._sent_at = None
        self._next_try = None  # None: try at the first poll
        self._backoff = BACKOFF_MIN_MS
        self.attempts = 0
        self.syncs = 0

    def _say(self, s):
        if self._log is not None:
            self._log(s)

    def _sock_mod(self):
        if self._socket is None:
            import socket

            self._socket = socket
        return self._socket

    def _new_nonce(self, now_ms):
        if self._nonce_fn is not None:
            return self._nonce_fn()
        n = (now_ms * 2654435761 + self.attempts) & 0xFFFFFFFF
        return bytes([(n >> s) & 0xFF for s in (24, 16, 8, 0)]) + bytes([self.attempts & 0xFF,
                                                                      0x5A, 0xA5, 0x17])

    def _close(self):
        if self._sock is not None:
            try:
                self._sock.close()
            except OSError:
                pass
        self._sock = None
        self._sent_at = None
        self._resolving = False

    def _fail(self, now_ms, why):
        self._close()
        self._next_try = ticks_add(now_ms, self._backoff)
        self._say("ntp: %s; next try in %d s" % (why, self._backoff // 1000))
        self._backoff = min(self._backoff * 2, BACKOFF_MAX_MS)

    def _start(self, now_ms):
        self.attempts += 1
        s = self._sock_mod()
        server = None
        if not is_ip(self.host):
            server = self._dns_server() if self._dns_server is not None else None
            if not isinstance(server, str) or not is_ip(server) or server == "0.0.0.0":
                self._fail(now_ms, "no DNS server to resolve %s" % self.host)
                return
        try:
            self._sock = s.socket(s.AF_INET, s.SOCK_DGRAM)
            self._sock.setblocking(False)
        except OSError as e:
            self._fail(now_ms, "no socket (%r)" % (e,))
            return
        if server is None:
            self._send_ntp(now_ms, self.host)
            return
        self._qid = (now_ms ^ (self.attempts << 8)) & 0xFFFF
        self._resolving = True
        try:
            self._sock.sendto(dns_query(self.host, self._qid), (server, _DNS_PORT))
        except OSError as e:
            self._fail(now_ms, "DNS query failed (%r)" % (e,))
            return
        self._sent_at = now_ms

    def _send_ntp(self, now_ms, ip):
        self._resolving = False
        try:
            self._nonce = self._new_nonce(now_ms)
            self._sock.sendto(request_packet(self._nonce), (ip, _NTP_PORT))
        except OSError as e:
            self._fail(now_ms, "send failed (%r)" % (e,))
            return
        self._sent_at = now_ms

    def poll(self, now_ms):
        """One loop pass: start an attempt when due, or look for its answer. Never
        waits."""
        if self._sock is None:
            if self._next_try is not None and ticks_diff(now_ms, self._next_try) < 0:
                return
            if self._link_ok is not None and not self._link_ok():
                return
            self._start(now_ms)
            return
        for _ in range(_MAX_READS):
            try:
                data = self._sock.recv(_PACKET_BYTES + 16)
            except OSError as e:
                if e.args and e.args[0] in _EAGAIN:
                    break
                self._fail(now_ms, "receive failed (%r)" % (e,))
                return
            if self._resolving:
                ip = parse_dns(data, self._qid)
                if ip is not None:
                    self._send_ntp(now_ms, ip)
                    return
                continue
            unix = parse_response(data, self._nonce)
            if unix is not None:
                self._close()
                self.clock.set(unix, "ntp")
                self.syncs += 1
                self._backoff = BACKOFF_MIN_MS
                self._next_try = ticks_add(now_ms, _RESYNC_MS)
                return
        if self._sock is not None and ticks_diff(now_ms, self._sent_at) >= ATTEMPT_MS:
            self._fail(now_ms, "no answer from %s%s" % (
                "the DNS server for " if self._resolving else "", self.host))

    def close(self):
        self._close()
