"""The simulator window shows the device's pixels: the OLED is the SSD1306 buffer the
firmware drew (vafa.text), each pixel OLED_SCALE times, no desktop font."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from simulator import hardware, window

ROOT = Path(__file__).resolve().parents[3]
LINES = ["سارا احمدی", "اعتبار: 1,357,375", "Points: 25"]


def test_oled_image_data_is_the_framebuffer():
    display = hardware.CaptureDisplay()
    display.show(LINES)
    rows = window.oled_rows(display).split("} {")
    s = window.OLED_SCALE
    assert len(rows) == 64 * s
    lit = 0
    for y in range(64 * s):
        colours = rows[y].strip("{}").split(" ")
        assert len(colours) == 128 * s
        for x in range(0, 128 * s, s):
            on = display.pixel(x // s, y // s)
            lit += on
            assert colours[x] == (window.OLED_ON if on else window.OLED_OFF), (x, y)
    assert lit > 200  # the text is there


SCRIPT = """
import sys, tkinter as tk
sys.path.insert(0, ".")
import simulator
from simulator import hardware, window

class Link: up = True
class Net: connected = False
class Term:
    hw = hardware.build(); link = Link(); net = Net(); journal = []; broker = "-"
    def step(self): pass

term = Term()
term.hw.display.show(%r)
root = tk.Tk()
win = window.TerminalWindow(root, term, "t")
root.update()
s = window.OLED_SCALE
bad = 0
for y in range(64 * s):
    for x in range(128 * s):
        on = term.hw.display.pixel(x // s, y // s)
        want = (0x9f, 0xe8, 0xff) if on else (0, 0, 0)
        if tuple(win.oled_image.get(x, y)) != want:
            bad += 1
print("BAD", bad)
root.destroy()
"""


def test_the_tk_window_shows_exactly_those_pixels():
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        pytest.fail("xvfb-run is missing: install Debian's xvfb (make test does)")
    r = subprocess.run([xvfb, "-a", sys.executable, "-c", SCRIPT % (LINES,)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "BAD 0" in r.stdout, r.stdout + r.stderr


PAPER_SCRIPT = """
import json, sys, tempfile, tkinter as tk
sys.path.insert(0, ".")
import simulator
from PIL import Image, ImageGrab
from simulator import escpos_render, hardware, window

class Link: up = True
class Net: connected = False
class Term:
    hw = hardware.build(); link = Link(); net = Net(); journal = []; broker = "-"
    def step(self): pass

term = Term()
printer = term.hw.printer
printer.print_lines(["Vafa Demo Club", "Amount: 250,000"])
printer.print_lines(%r, qr="https://club.example/portal")
root = tk.Tk()
win = window.TerminalWindow(root, term, "t")
root.update()
out = {}
papers = [escpos_render.render(raw).image for raw in printer.receipts]
out["strip_is_the_papers"] = win.strip.tobytes() == window.stack_papers(papers).tobytes()
out["strip_height"] = win.strip.height
out["paper_heights"] = [p.height for p in papers]
# The Tk image holds exactly the strip's pixels.
png = tempfile.mktemp(suffix=".png")
win.strip_image.write(png, format="png")
shown = Image.open(png).convert("L")
out["photo_is_the_strip"] = shown.tobytes() == win.strip.tobytes()
# And the screen shows them: the canvas scrolled to its end, the newest paper in view.
c = win.paper
root.update()
top = int(c.canvasy(0))
x, y = c.winfo_rootx(), c.winfo_rooty()
grab = ImageGrab.grab(bbox=(x, y, x + c.winfo_width(), y + c.winfo_height())).convert("L")
view = win.strip.crop((0, top, c.winfo_width(), top + c.winfo_height()))
out["screen_is_the_strip"] = grab.tobytes() == view.tobytes()
out["view_bottom"] = top + c.winfo_height()
grab.save(%r)
# The Persian receipt's first raster band (the club's name): its dots, on the strip.
raw = printer.receipts[-1]
at = raw.index(b"\\x1dv0")
stride, rows = raw[at + 4] | raw[at + 5] << 8, raw[at + 6] | raw[at + 7] << 8
band = raw[at + 8:at + 8 + stride * rows]
first = papers[0].height + window.TEAR_ROWS
bad = ink = 0
for r in range(rows):
    for col in range(stride * 8):
        dot = band[r * stride + col // 8] >> (7 - col %% 8) & 1
        ink += dot
        bad += dot != (win.strip.getpixel((col, first + r)) == 0)
out["band_ink"], out["band_bad"] = ink, bad
# Bounded: only the newest MAX_RECEIPTS stay on the strip.
for i in range(window.MAX_RECEIPTS + 3):
    printer.print_lines(["Receipt %%d" %% i])
win.refresh()
root.update()
kept = [escpos_render.render(raw).image for raw in printer.receipts[-window.MAX_RECEIPTS:]]
out["kept"] = len(win.papers)
out["strip_is_the_newest"] = win.strip.tobytes() == window.stack_papers(kept).tobytes()
print("RESULT " + json.dumps(out))
root.destroy()
"""

PERSIAN_RECEIPT = ["باشگاه وفا", "سارا احمدی", "اعتبار: 1,357,375", "Points: 25"]


def test_the_receipt_strip_shows_the_printed_pixels(tmp_path):
    """The strip is the paper simulator.escpos_render prints from the bytes the simulated
    printer received (no desktop font): in the Tk image and on the screen, Persian bands
    dot for dot, newest last, the last MAX_RECEIPTS kept."""
    import json

    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        pytest.fail("xvfb-run is missing: install Debian's xvfb (make test does)")
    grab = tmp_path / "strip.png"
    r = subprocess.run([xvfb, "-a", sys.executable, "-c",
                        PAPER_SCRIPT % (PERSIAN_RECEIPT, str(grab))], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    line = next(x for x in r.stdout.splitlines() if x.startswith("RESULT "))
    out = json.loads(line.removeprefix("RESULT "))
    assert out["strip_is_the_papers"] and out["photo_is_the_strip"], out
    assert out["strip_height"] == sum(out["paper_heights"]) + window.TEAR_ROWS, out
    assert out["screen_is_the_strip"] and out["view_bottom"] == out["strip_height"], out
    assert out["band_ink"] > 200 and out["band_bad"] == 0, out
    assert out["kept"] == window.MAX_RECEIPTS and out["strip_is_the_newest"], out


def test_a_stream_the_printer_refuses_shows_as_an_error_note():
    note = window.paper_of(b"\x1b@\x1b\x99")
    assert note.width == 384 and note.getextrema()[0] < 128  # ink: the note's text
