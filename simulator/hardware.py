"""Simulated terminal hardware with the interfaces of firmware/vafa/hw."""

from __future__ import annotations

import collections

from vafa import escpos
from vafa.hw import Display, Hardware, Indicator, Keypad, Printer, Scanner

VALID_KEYS = frozenset("0123456789CBEULR")


class QueueScanner(Scanner):
    """Codes queued by the script (or raw bytes through the firmware's scan decoder)."""

    def __init__(self, codes=()):
        self.queue: collections.deque[str] = collections.deque(codes)

    def scan(self, code: str) -> None:
        self.queue.append(code)

    def read(self):
        return self.queue.popleft() if self.queue else None


class QueueKeypad(Keypad):
    def __init__(self, keys=()):
        self.queue: collections.deque[str] = collections.deque()
        self.press(*keys)

    def press(self, *keys: str) -> None:
        for k in keys:
            if k not in VALID_KEYS:
                raise ValueError(f"not a terminal key: {k!r}")
            self.queue.append(k)

    def get_key(self):
        return self.queue.popleft() if self.queue else None


class CaptureDisplay(Display):
    """Keeps the current screen and every screen shown, and the pixels: ``buffer`` is the
    SSD1306's RAM (MONO_VLSB, 128x64) drawn by the firmware's own vafa.text, as
    vafa.hw.esp32.Display draws it on the board."""

    def __init__(self):
        from vafa.text import Pages

        self.lines: list[str] = []
        self.history: list[list[str]] = []
        self.buffer = bytearray(128 * 64 // 8)
        self.pages = Pages()
        self.frames = 0  # times the pixels changed

    def show(self, lines):
        self.lines = [str(x) for x in lines]
        self.history.append(self.lines)
        self.pages.set(self.lines)
        self.pages.draw(self.buffer)
        self.frames += 1

    def tick(self, now_ms):
        if self.pages.tick(now_ms):
            self.pages.draw(self.buffer)
            self.frames += 1

    def pixel(self, x: int, y: int) -> int:
        return self.buffer[(y >> 3) * 128 + x] >> (y & 7) & 1

    def image(self, scale: int = 1):
        """The screen as a PIL image (lit pixels white on black), scaled ``scale`` times
        without smoothing: exactly the panel's pixels."""
        from PIL import Image

        im = Image.new("1", (128, 64), 0)
        px = im.load()
        for y in range(64):
            for x in range(128):
                if self.pixel(x, y):
                    px[x, y] = 1
        if scale != 1:
            im = im.resize((128 * scale, 64 * scale), Image.Resampling.NEAREST)
        return im

    def text(self) -> str:
        return "\n".join(self.lines)


def render_escpos(data: bytes) -> list[str]:
    """Text lines of an ESC/POS byte stream (commands are interpreted or skipped)."""
    lines: list[str] = []
    cur = bytearray()
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b == 0x1B and i + 1 < n:  # ESC
            cmd = data[i + 1]
            if cmd == 0x40:  # ESC @ init
                i += 2
            elif cmd == 0x64 and i + 2 < n:  # ESC d n: print and feed n lines
                if cur:
                    lines.append(cur.decode("ascii", "replace"))
                    cur = bytearray()
                i += 3
            else:  # ESC x n (bold, align, font...): one parameter byte
                i += 3
        elif b == 0x1D and i + 1 < n:  # GS
            cmd = data[i + 1]
            if cmd == 0x56:  # GS V m [n]: cut
                m = data[i + 2] if i + 2 < n else 0
                i += 4 if m in (65, 66) else 3
            elif cmd == 0x76 and i + 7 < n:  # GS v 0 m xL xH yL yH: a raster band
                size = (data[i + 4] | data[i + 5] << 8) * (data[i + 6] | data[i + 7] << 8)
                lines.append("[raster]")
                i += 8 + size
            elif cmd == 0x28 and i + 4 < n:  # GS ( k pL pH ...: QR functions
                i += 5 + (data[i + 3] | data[i + 4] << 8)
            else:
                i += 3
        elif b == 0x0A:
            lines.append(cur.decode("ascii", "replace"))
            cur = bytearray()
            i += 1
        elif b == 0x0D:
            i += 1
        else:
            cur.append(b)
            i += 1
    if cur:
        lines.append(cur.decode("ascii", "replace"))
    return lines


def count_cuts(data: bytes) -> int:
    return data.count(b"\x1dV")


class CapturePrinter(Printer):
    """Captures exactly the ESC/POS bytes the ESP32 printer driver would send; ``logo`` is
    the path of the device's logo.bin (SimTerminal: in the config's directory, the
    simulated flash's root), printed when the file is there."""

    def __init__(self, width: int = escpos.WIDTH, logo: str | None = None):
        self.width = width
        self.logo = logo
        self.data = bytearray()
        self.receipts: list[bytes] = []
        self.printed: list[list[str]] = []  # the lines given for each receipt

    def print_lines(self, lines, qr=None):
        raw = escpos.encode_receipt(lines, self.width, qr=qr, logo=self.logo)
        self.printed.append([str(x) for x in lines] + ([f"[QR {qr}]"] if qr else []))
        self.data.extend(raw)
        self.receipts.append(raw)

    def text_lines(self) -> list[str]:
        return render_escpos(self.receipts[-1]) if self.receipts else []


class RecordingIndicator(Indicator):
    def __init__(self):
        self.events: list[str] = []

    def ok(self):
        self.events.append("ok")

    def error(self):
        self.events.append("error")


class SimProbe:
    """The health figures of firmware/vafa/probe.py: plausible values of an ESP32 on a
    shop's Wi-Fi, which a test may change."""

    def __init__(self, link=None):
        self.link = link
        self.heap = 92_000
        self.signal = -58

    def free_heap(self):
        return self.heap

    def rssi(self):
        return self.signal if self.link is None or self.link.is_up() else None


def build(link=None) -> Hardware:
    hw = Hardware(QueueScanner(), QueueKeypad(), CaptureDisplay(), CapturePrinter(),
                  RecordingIndicator())
    hw.probe = SimProbe(link)
    return hw
