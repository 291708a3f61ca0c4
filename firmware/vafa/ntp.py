# Non-blocking SNTP (RFC 4330) for the one loop.
#
# ntptime.settime() blocks for up to a second waiting for the answer, which breaks the
# loop's 100 ms bound (keypad, watchdog). Here one request goes out on a non-blocking UDP
# socket, and poll() (every loop pass) looks for the answer without waiting; an attempt
# without an answer is abandoned after ATTEMPT_MS and retried with a doubling backoff
# until one succeeds, then the clock is re-synced every RESYNC_MS.
#
# The server's address is resolved once per attempt with getaddrinfo, which on the
# ESP32 can wait for DNS; give ntp_host as an IP address in config.json to avoid it
# (docs/terminal.md "Clock").
from micropython import const

from vafa.clock import MIN_VALID_S, ticks_add, ticks_diff

NTP_PORT = const(123)
PACKET_BYTES = const(48)
NTP_TO_UNIX_S = const(2208988800)  # 1900-01-01 -> 1970-01-01
ATTEMPT_MS = const(2000)  # an attempt without an answer is abandoned after this
BACKOFF_MIN_MS = const(1000)
BACKOFF_MAX_MS = const(64000)
RESYNC_MS = const(21600000)  # 6 h: RTC drift stays well under a second
MAX_READS = const(4)  # datagrams read per poll (stray ones are dropped)
_EAGAIN = (11, 110, 115)  # EAGAIN, ETIMEDOUT, EINPROGRESS: nothing yet


def request_packet(nonce):
    """A client request (LI 0, version 4, mode 3) whose transmit timestamp is
    ``nonce`` (8 bytes): the server copies it into the answer's originate field."""
    return b"\x23" + bytes(39) + bytes(nonce)


def parse_response(data, nonce):
    """Unix seconds from a server answer to the request carrying ``nonce``, or None."""
    if data is None or len(data) < PACKET_BYTES:
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
    fake); ``link_ok()`` True while Wi-Fi is up."""

    def __init__(self, clock, host="pool.ntp.org", socket_mod=None, link_ok=None, log=None,
                 nonce_fn=None):
        self.clock = clock
        self.host = host
        self._socket = socket_mod
        self._link_ok = link_ok
        self._log = log
        self._nonce_fn = nonce_fn
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

    def _fail(self, now_ms, why):
        self._close()
        self._next_try = ticks_add(now_ms, self._backoff)
        self._say("ntp: %s; next try in %d s" % (why, self._backoff // 1000))
        self._backoff = min(self._backoff * 2, BACKOFF_MAX_MS)

    def _start(self, now_ms):
        self.attempts += 1
        s = self._sock_mod()
        try:
            addr = s.getaddrinfo(self.host, NTP_PORT)[0][-1]
            sock = s.socket(s.AF_INET, s.SOCK_DGRAM)
        except (OSError, IndexError) as e:
            self._fail(now_ms, "cannot reach %s (%r)" % (self.host, e))
            return
        self._sock = sock
        try:
            sock.setblocking(False)
            self._nonce = self._new_nonce(now_ms)
            sock.sendto(request_packet(self._nonce), addr)
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
        for _ in range(MAX_READS):
            try:
                data = self._sock.recv(PACKET_BYTES + 16)
            except OSError as e:
                if e.args and e.args[0] in _EAGAIN:
                    break
                self._fail(now_ms, "receive failed (%r)" % (e,))
                return
            unix = parse_response(data, self._nonce)
            if unix is not None:
                self._close()
                self.clock.set(unix, "ntp")
                self.syncs += 1
                self._backoff = BACKOFF_MIN_MS
                self._next_try = ticks_add(now_ms, RESYNC_MS)
                return
        if ticks_diff(now_ms, self._sent_at) >= ATTEMPT_MS:
            self._fail(now_ms, "no answer from %s" % self.host)

    def close(self):
        self._close()
