# Barcode scanner byte stream -> codes. Hardware-independent so the ESP32 driver and the
# tests share it.
#
# Lines end with CR, LF or CRLF. An optional AIM symbology identifier (``]`` + two
# characters, e.g. ``]E0``, ``]C0``) is stripped. Lines with non-printable bytes, empty
# lines and over-long lines are noise and dropped, as is a partial line that stalls for
# longer than _PARTIAL_MS. The same code read again within DEBOUNCE_MS is ignored.
# Setup mode reads a QR code's JSON: up to max_code bytes, UTF-8 allowed (a Persian SSID).
import time

from micropython import const

_MAX_CODE = const(48)
DEBOUNCE_MS = const(1500)
_PARTIAL_MS = const(300)


def _subtract(ticks1, ticks2):
    return ticks1 - ticks2


# MicroPython's wrap-around tick difference; plain subtraction on CPython (the simulator).
_diff = getattr(time, "ticks_diff", _subtract)


class ScanDecoder:
    def __init__(self, debounce_ms=DEBOUNCE_MS, max_code=_MAX_CODE, utf8=False):
        self._max = max_code
        self._utf8 = utf8
        self._buf = bytearray()
        self._overflow = False
        self._last_code = None
        self._last_ms = 0
        self._last_byte_ms = 0
        self._debounce = debounce_ms

    def feed(self, data, now_ms):
        """Feed received bytes; return the list of accepted codes."""
        out = []
        if self._buf and _diff(now_ms, self._last_byte_ms) > _PARTIAL_MS:
            self._buf = bytearray()  # stale partial read
            self._overflow = False
        if data:
            self._last_byte_ms = now_ms
        for b in data:
            if b == 13 or b == 10:
                if self._buf and not self._overflow:
                    code = self._accept(bytes(self._buf), now_ms)
                    if code is not None:
                        out.append(code)
                self._buf = bytearray()
                self._overflow = False
            elif len(self._buf) >= self._max:
                self._overflow = True
            else:
                self._buf.append(b)
        return out

    def _accept(self, raw, now_ms):
        for c in raw:
            if c < 32 or c == 127 or (c > 126 and not self._utf8):
                return None
        try:
            s = raw.decode()
        except UnicodeError:  # broken UTF-8: noise
            return None
        if len(s) >= 3 and s[0] == "]":
            s = s[3:]
        s = s.strip()
        if not s:
            return None
        if (
            s == self._last_code
            and _diff(now_ms, self._last_ms) < self._debounce
        ):
            self._last_ms = now_ms
            return None
        self._last_code = s
        self._last_ms = now_ms
        return s
