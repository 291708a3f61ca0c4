# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
# micropython-only: the board's drivers on fake_machine.
# Issue 16: remote config's display contrast reaches the SSD1306 (command 0x81 and its
# byte), through App's config, and the board's probe reports no Wi-Fi figure unjoined.
import sys

import fake_machine
from mpytest import FakeNet, check, done, eq

sys.modules["machine"] = fake_machine
from vafa import pins  # noqa: E402
from vafa.hw import esp32  # noqa: E402
from vafa.probe import Probe  # noqa: E402

board = fake_machine.board
board.reset()
oled = fake_machine.SSD1306Model()
board.i2c_devices[0x3C] = oled
p = pins.MAPS["esp32"]
display = esp32.Display(p["i2c_scl"], p["i2c_sda"])
display.contrast(40)
eq(oled.commands[-2:], [0x81, 40], "set-contrast command and its value")


class Wlan:
    def __init__(self, joined):
        self.joined = joined

    def isconnected(self):
        return self.joined

    def status(self, what):
        return -67


eq(Probe(Wlan(False)).rssi(), None, "no RSSI when not joined")
eq(Probe(Wlan(True)).rssi(), -67, "RSSI when joined")
heap = Probe().free_heap()
check(heap is None or heap > 0, "free heap from gc")

# The App applies a config's contrast to the board's display.
from mpytest import FakeIndicator, FakeKeypad, FakePrinter, FakeScanner, config, tmpdir  # noqa: E402
from vafa.app import App  # noqa: E402
from vafa.hw import Hardware  # noqa: E402
from vafa.store import Store  # noqa: E402

cfg = config()
cfg["contrast"] = 90
hw = Hardware(FakeScanner(), FakeKeypad(), display, FakePrinter(), FakeIndicator())
App(cfg, hw, FakeNet(), Store(tmpdir()), ticks_fn=lambda: 0, time_fn=lambda: 1763800000)
eq(oled.commands[-2:], [0x81, 90], "App sets the contrast of its config")
done("test_fleet_hw.py")
