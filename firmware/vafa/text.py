# Persian (and Latin) text as pixels: contextual shaping, a simple bidi, word wrap, and
# 1-bit bitmap fonts read glyph by glyph from flash (fonts/*.vft, made from Vazirmatn by
# provisioning/fonts.py, which documents the file layout).
#
# Shaping: each Arabic-script letter takes its isolated/initial/medial/final form from its
# neighbours' joining types (dual-joining letters join both sides, right-joining ones
# such as alef, dal, reh, waw only to the letter before them); lam + alef is one glyph.
# Bidi: a line whose first letter is Persian is right-to-left (and right-aligned); runs of
# Latin letters and numbers (digits with the , . / : - between them) keep their
# left-to-right order.
from micropython import const

from vafa.clock import ticks_diff

ISO = const(0)
INIT = const(1)
MEDI = const(2)
FINA = const(3)
_DUAL = "ئبپتثجچحخسشصضطظعغفقکگلمنهیـ"
_RIGHT = "آأؤإادذرزژوۀة"
_LAM_ALEF = {"آ": 0xFEF5, "أ": 0xFEF7, "إ": 0xFEF9, "ا": 0xFEFB}
_FOLD = {"ك": "ک", "ي": "ی", "ى": "ی"}
_MIRROR = {"(": ")", ")": "(", "[": "]", "]": "[", "«": "»", "»": "«", "<": ">", ">": "<"}
_CACHE = const(32)  # glyphs kept in RAM per font (a display glyph ~80 B, a receipt one ~120 B)
_ENTRY = const(10)

persian_digits = False  # set from the config's lang by vafa.app


def set_lang(lang):
    global persian_digits
    persian_digits = lang == "fa"


def data_path(name):
    """A data file shipped in the vafa package (fonts/, lang/)."""
    try:
        base = __file__.rsplit("/", 1)[0]
    except (NameError, AttributeError):  # frozen module: files at the root
        base = "vafa"
    return base + "/" + name


class Font:
    """A .vft font on flash: one file handle, a small glyph cache, nothing else."""

    def __init__(self, name):
        self._f = open(data_path("fonts/" + name), "rb")
        head = self._f.read(8)
        if head[:2] != b"VF":
            raise ValueError("not a font: " + name)
        self.rows = head[2]
        self.height = head[3]
        self._n = head[4] | head[5] << 8
        self._e = bytearray(_ENTRY)
        self._cache = {}

    def _find(self, key):
        f, e = self._f, self._e
        lo, hi = 0, self._n - 1
        while lo <= hi:
            mid = (lo + hi) // 2
            f.seek(8 + mid * _ENTRY)
            f.readinto(e)
            k = e[0] | e[1] << 8 | e[2] << 16 | e[3] << 24
            if k == key:
                return e[4] | e[5] << 8 | e[6] << 16, e[7], e[8], e[9] - 256 if e[9] > 127 else e[9]
            if k < key:
                lo = mid + 1
            else:
                hi = mid - 1
        return None

    def glyph(self, key):
        """(advance, width, x offset, bitmap) of glyph ``key``; a missing contextual form
        falls back to the isolated one, a missing character to '?'."""
        g = self._cache.get(key)
        if g is not None:
            return g
        found = self._find(key) or self._find(key & ~3) or self._find(63 * 4)
        if found is None:
            raise ValueError("font without '?'")
        off, adv, w, dx = found
        size = w * ((self.height + 7) // 8) if not self.rows else self.height * ((w + 7) // 8)
        self._f.seek(8 + self._n * _ENTRY + off)
        g = (adv, w, dx, self._f.read(size))
        if len(self._cache) >= _CACHE:
            self._cache.clear()
        self._cache[key] = g
        return g

    def width(self, keys):
        """Pixels from the pen to the end of the ink or the advance, whichever is last."""
        x = end = 0
        for k in keys:
            adv, w, dx, _ = self.glyph(k)
            end = max(end, x + dx + w)
            x += adv
        return max(x, end)

    def close(self):
        self._f.close()


def _rtl(c):
    # Arabic-script letters, not its digits and number separators.
    return ("\u0600" <= c <= "\u065f" or "\u066d" <= c <= "\u06ef" or "\ufb50" <= c
            ) and c not in "\u060c"


def _strong_ltr(c):
    return "0" <= c <= "9" or "a" <= c.lower() <= "z" or "\u06f0" <= c <= "\u06f9" or c == "*"


def prepare(s):
    """Fold Arabic letter variants to Persian; Persian digits (and separators between
    digits) when the language is Persian."""
    s = str(s)
    out = []
    n = len(s)
    for i in range(n):
        c = _FOLD.get(s[i], s[i])
        if "\u0660" <= c <= "\u0669":
            c = chr(ord(c) + 0x90)
        if persian_digits:
            if "0" <= c <= "9":
                c = chr(ord(c) + 0x6C0)
            elif c == "," and 0 < i < n - 1 and s[i - 1].isdigit() and s[i + 1].isdigit():
                c = "٬"
        out.append(c)
    return "".join(out)


def _joins_next(c):
    return c != "" and c in _DUAL


def _joins_prev(c):
    return c != "" and (c in _DUAL or c in _RIGHT)


def shape(s):
    """Glyph keys of one line in display order (left to right)."""
    s = prepare(s)
    n = len(s)
    keys = []  # logical order
    klass = []  # per key: 1 right-to-left, 0 left-to-right strong, -1 neutral
    i = 0
    while i < n:
        c = s[i]
        prev = s[i - 1] if i else ""
        if c == "ل" and i + 1 < n and s[i + 1] in _LAM_ALEF:
            form = FINA if _joins_next(prev) else ISO
            keys.append(_LAM_ALEF[s[i + 1]] * 4 + form)
            klass.append(1)
            i += 2
            continue
        if c in "\u200c\u200d\u200f":  # (non-)joiners, RLM: no glyph
            i += 1
            continue
        if _joins_prev(c):
            after = s[i + 1] if i + 1 < n else ""
            p = _joins_next(prev)
            q = _joins_next(c) and _joins_prev(after)
            form = MEDI if p and q else FINA if p else INIT if q else ISO
            keys.append(ord(c) * 4 + form)
        else:
            keys.append(ord(c) * 4)
        klass.append(1 if _rtl(c) else 0 if _strong_ltr(c) else -1)
        i += 1
    rtl = is_rtl(s)  # the first strong letter's direction (UBA P2), or an RLM
    # Neutrals take the direction of the strong characters around them when both agree,
    # else the line's.
    n = len(keys)
    for i in range(n):
        if klass[i] < 0:
            a = b = 1 if rtl else 0
            for j in range(i - 1, -1, -1):
                if klass[j] >= 0:
                    a = klass[j]
                    break
            for j in range(i + 1, n):
                if klass[j] >= 0:
                    b = klass[j]
                    break
            klass[i] = 2 + (a if a == b else (1 if rtl else 0))  # 2/3: resolved neutral
    runs = []
    start = 0
    for i in range(1, n + 1):
        if i == n or (klass[i] & 1) != (klass[start] & 1):
            run = keys[start:i]
            if klass[start] & 1:
                run.reverse()
                for j in range(len(run)):
                    if klass[start + len(run) - 1 - j] == 3:  # a bracket in right-to-left
                        m = _MIRROR.get(chr(run[j] >> 2))
                        if m:
                            run[j] = ord(m) * 4
            runs.append(run)
            start = i
    if rtl:
        runs.reverse()
    out = []
    for run in runs:
        out.extend(run)
    return out


def is_rtl(s):
    """The line's direction: right-to-left when its first strong character (or an RLM)
    is."""
    for c in prepare(s):
        if _rtl(c) or c == "\u200f":
            return True
        if _strong_ltr(c) and not "\u06f0" <= c <= "\u06f9" and not "0" <= c <= "9":
            return False
    return False


def wrap(s, font, width):
    """``s`` as lines that each fit ``width`` pixels: broken at spaces, a word longer
    than a line at a thousands separator or, failing that, anywhere. Nothing is cut. The
    lines of a right-to-left text stay right-to-left (an RLM before a line of digits)."""
    rows = _wrap(s, font, width)
    if is_rtl(s):
        rows = [r if is_rtl(r) else "\u200f" + r for r in rows]
    return rows


def _wrap(s, font, width):
    out = []
    for para in str(s).split("\n"):
        line = ""
        for word in para.split(" "):
            test = line + " " + word if line else word
            if font.width(shape(test)) <= width:
                line = test
                continue
            if line:
                out.append(line)
            line = word
            while font.width(shape(line)) > width:
                cut = len(line) - 1
                while cut > 1 and font.width(shape(line[:cut])) > width:
                    cut -= 1
                for j in range(cut, 1, -1):
                    if line[j - 1] in ",٬":
                        cut = j
                        break
                out.append(line[:cut])
                line = line[cut:]
        out.append(line)
    return out


def draw_columns(buf, stride, rows, font, keys, x, y, right=False):
    """Draw glyphs into a MONO_VLSB buffer (SSD1306 RAM: ``stride`` columns a page,
    ``rows`` pixel rows), ``y`` the top of the line; ``right``: end at column ``x``."""
    if right:
        x -= font.width(keys)
    h = font.height
    nb = (h + 7) // 8
    shift = y & 7
    page0 = y >> 3
    pages = rows >> 3
    for k in keys:
        adv, w, dx, bits = font.glyph(k)
        for c in range(w):
            col = x + dx + c
            if 0 <= col < stride:
                v = 0
                for b in range(nb):
                    v |= bits[c * nb + b] << (8 * b)
                v <<= shift
                p = page0
                while v and p < pages:
                    if p >= 0:
                        buf[p * stride + col] |= v & 0xFF
                    v >>= 8
                    p += 1
        x += adv


def draw_rows(buf, stride, font, keys, x, right=False):
    """Draw glyphs into a raster band (rows of ``stride`` bytes, MSB on the left, one row
    per pixel of the font's height), as ESC/POS GS v 0 prints it."""
    if right:
        x -= font.width(keys)
    h = font.height
    limit = stride * 8
    for k in keys:
        adv, w, dx, bits = font.glyph(k)
        nb = (w + 7) // 8
        left = x + dx
        if left >= 0 and left + w <= limit:
            byte, sh = left >> 3, left & 7
            for r in range(h):
                base = r * stride + byte
                for b in range(nb):
                    v = bits[r * nb + b] << (8 - sh)
                    buf[base + b] |= v >> 8
                    if v & 0xFF and base + b + 1 < (r + 1) * stride:
                        buf[base + b + 1] |= v & 0xFF
        x += adv


ROW_PX = const(16)  # display line pitch: four lines on the 64-pixel screen
SCREEN_W = const(128)
_SCREEN_H = const(64)
_fonts = {}


def font(name):
    f = _fonts.get(name)
    if f is None:
        f = _fonts[name] = Font(name)
    return f


def screen_rows(lines):
    """The display lines wrapped to the screen width: every character of them, so a
    screen with more rows than fit is shown a page at a time (vafa.hw Display.tick)."""
    f = font("d16.vft")
    rows = []
    for line in lines:
        rows.extend(wrap(line, f, SCREEN_W))
    return rows


def draw_screen(buf, rows):
    """Draw up to four rows into the SSD1306 buffer (MONO_VLSB, 128x64), each aligned to
    its own direction's side."""
    f = font("d16.vft")
    for i in range(len(buf)):
        buf[i] = 0
    y = 0
    for row in rows[:_SCREEN_H // ROW_PX]:
        keys = shape(row)
        if is_rtl(row):
            draw_columns(buf, SCREEN_W, _SCREEN_H, f, keys, SCREEN_W, y, True)
        else:
            draw_columns(buf, SCREEN_W, _SCREEN_H, f, keys, 0, y)
        y += ROW_PX


PAGE_MS = const(2500)


class Pages:
    """What the screen shows: the wrapped rows, four at a time; more pages turn every
    PAGE_MS (tick), so a long screen is read whole, never cut."""

    def __init__(self):
        self.rows = []
        self.page = 0
        self._at = None

    def set(self, lines):
        self.rows = screen_rows(lines)
        self.page = 0
        self._at = None

    def count(self):
        return max(1, (len(self.rows) + 3) // 4)

    def tick(self, now_ms):
        """True when the page turned (then draw again)."""
        if self.count() < 2:
            return False
        if self._at is None:
            self._at = now_ms
        elif ticks_diff(now_ms, self._at) >= PAGE_MS:
            self._at = now_ms
            self.page = (self.page + 1) % self.count()
            return True
        return False

    def draw(self, buf):
        draw_screen(buf, self.rows[self.page * 4:])
