# Time on the terminal.
#
# Millisecond ticks: MicroPython's wrap-around-safe time.ticks_* on the device, and a
# monotonic stand-in under CPython (the simulator and tests).
#
# Wall time: the ESP32 has no battery clock. After a power cut its RTC restarts at
# 2000-01-01 and stays wrong until something sets it, so the Clock below knows whether
# wall time is synced (from NTP, vafa.ntp, or from the signed ``ts`` of a verified
# response), and keeps a monotonic uptime that the offline journal uses to measure the
# age of a sale independently of wall time (PROTOCOL: ``clk``, ``age_s``).
import time as _time

from micropython import const

# CPython has no ticks_*: a stand-in that wraps like MicroPython's (period 2**30), so it is
# as strict. getattr keeps the device's own functions where they exist.
_PERIOD = const(1 << 30)
_HALF = const(1 << 29)


def _cpython_ticks_ms():
    return int(getattr(_time, "monotonic")() * 1000) & (_PERIOD - 1)


def _cpython_ticks_diff(a, b):
    return ((a - b + _HALF) & (_PERIOD - 1)) - _HALF


def _cpython_ticks_add(a, d):
    return (a + d) & (_PERIOD - 1)


ticks_ms = getattr(_time, "ticks_ms", _cpython_ticks_ms)
ticks_diff = getattr(_time, "ticks_diff", _cpython_ticks_diff)
ticks_add = getattr(_time, "ticks_add", _cpython_ticks_add)

EPOCH_2000_S = const(946684800)  # 2000-01-01 in unix seconds: the RTC after a power cut
# A time before this cannot be right (the firmware is newer): 2024-01-01.
MIN_VALID_S = const(1704067200)
_RESYNC_DRIFT_S = const(2)  # a verified response's ts further off than this resets the clock


def board_time():
    """The board's RTC in unix seconds (ports with the 2000 epoch are converted)."""
    import time

    t = int(time.time())
    if t < EPOCH_2000_S:
        t += EPOCH_2000_S
    return t


def _boot_id():
    # Tells this boot from earlier ones: a sale journaled in another boot has no ticks
    # in common with this one. Random, so that nothing needs writing to flash.
    try:
        import os

        b = os.urandom(4)
        return (b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3]) & 0x3FFFFFFF
    except (ImportError, AttributeError, OSError):
        pass
    try:
        import random

        return random.getrandbits(30)
    except (ImportError, AttributeError):
        return ticks_ms() & 0x3FFFFFFF


class Clock:
    """Wall time that knows whether it is synced, and this boot's uptime.

    ``ticks_fn`` gives wrap-around milliseconds, ``time_fn`` the board's RTC in unix
    seconds, ``set_fn(unix_s)`` (optional) sets the RTC when the clock gets synced.
    ``synced`` True trusts the RTC from the start (tests, and callers that do not
    track it). ``uptime_ms()`` must be called at least every few days (the loop does,
    every pass) for ticks that wrap (2**30 ms on the ESP32)."""

    def __init__(self, ticks_fn=None, time_fn=None, set_fn=None, synced=False, log=None):
        self._ticks = ticks_fn or ticks_ms
        self._rtc = time_fn or board_time
        self._set_rtc = set_fn
        self._log = log
        self.synced = synced
        self.source = "rtc" if synced else None
        self.boot_id = _boot_id()
        # Ticks start at 0 at power-on (MicroPython), so they are the uptime at first.
        self._last_ticks = self._ticks()
        self._up_ms = self._last_ticks
        self._offset_ms = None  # unix ms - uptime ms, once synced here
        self.corrections = 0

    def uptime_ms(self):
        now = self._ticks()
        d = ticks_diff(now, self._last_ticks)
        if d > 0:
            self._up_ms += d
            self._last_ticks = now
        return self._up_ms

    def now(self):
        """Unix seconds: the synced time, or the RTC as it is (2000-based after a cut)."""
        if self._offset_ms is not None:
            return (self._offset_ms + self.uptime_ms()) // 1000
        return int(self._rtc())

    def set(self, unix_s, source):
        """Sync the clock to ``unix_s`` (NTP, or a verified response's ts)."""
        unix_s = int(unix_s)
        was = self.now()
        self._offset_ms = unix_s * 1000 - self.uptime_ms()
        first = not self.synced
        self.synced = True
        self.source = source
        self.corrections += 1
        if self._set_rtc is not None:
            try:
                self._set_rtc(unix_s)
            except Exception as e:  # the RTC is a convenience (log times); ours is set
                self._say("cannot set the RTC: %r" % (e,))
        self._say("clock %s from %s: %d (was %d)"
                  % ("synced" if first else "corrected", source, unix_s, was))

    def observe(self, ts, source="response", backward_ok=True):
        """A verified response's ``ts``: sets the clock when unsynced or off by more
        than _RESYNC_DRIFT_S; a backward step only when ``backward_ok`` (an answer that
        may be a stored one from earlier must not turn the clock back). True if set."""
        if not isinstance(ts, int) or isinstance(ts, bool) or ts < MIN_VALID_S:
            return False
        if self.synced:
            d = ts - self.now()
            if -_RESYNC_DRIFT_S <= d <= _RESYNC_DRIFT_S or (d < 0 and not backward_ok):
                return False
        self.set(ts, source)
        return True

    def _say(self, s):
        if self._log is not None:
            self._log(s)
