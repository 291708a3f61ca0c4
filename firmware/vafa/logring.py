# The last log lines of the terminal, in RAM (issue 16 "Remote logs"): a fixed number of
# lines, each cut to a fixed width, so the ring never holds more than
# _LOG_LINES * _LOG_WIDTH characters. A signed cmd {"op":"logs"} asks for them; the app
# sends the newest that fit one frame back as a signed req {"op":"logs"}.
from micropython import const

_LOG_LINES = const(60)
_LOG_WIDTH = const(160)


class LogRing:
    def __init__(self, size=_LOG_LINES, width=_LOG_WIDTH, ticks_fn=None):
        self.size = size
        self.width = width
        self._ticks = ticks_fn
        self._lines = [""] * size
        self._next = 0
        self.count = 0  # lines ever added (a gap in the numbers: lines lost)

    def add(self, s):
        s = str(s)
        if len(s) > self.width:
            s = s[:self.width - 3] + "..."
        if self._ticks is not None:
            s = "%d %s" % (self._ticks() // 1000, s)
        self._lines[self._next] = s
        self._next = (self._next + 1) % self.size
        self.count += 1

    def lines(self):
        """Oldest first."""
        n = min(self.count, self.size)
        start = (self._next - n) % self.size
        return [self._lines[(start + i) % self.size] for i in range(n)]

    def tail(self, max_chars, n=None):
        """The newest lines (at most ``n``) whose characters (plus 8 a line for the JSON
        quoting and escapes of a plain line) stay within ``max_chars``; oldest first."""
        out = []
        used = 0
        for s in reversed(self.lines()):
            if n is not None and len(out) >= n:
                break
            cost = len(s) + 8
            if used + cost > max_chars:
                break
            out.append(s)
            used += cost
        out.reverse()
        return out
