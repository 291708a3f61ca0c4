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
