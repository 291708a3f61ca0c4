# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
# micropython-only: the board's boot path writes /fw in the interpreter's own filesystem
# The loader's board entry (main._board) as the ESP32 runs it, with a `machine` stand-in
# (Timer, reset): the active build's vafa package is the one imported, a trial build that
# raises on import is reverted with its error text, and the trial's hardware timer
# reverts a build that runs but never confirms. Nothing of vafa is imported before.
import json
import os
import sys

import main as loader


class Reset(Exception):
    pass


class FakeTimer:
    ONE_SHOT = 0
    armed = []

    def __init__(self, n):
        self.n = n

    def init(self, mode=0, period=0, callback=None):
        FakeTimer.armed.append((self.n, mode, period, callback))

    def deinit(self):
        pass


class FakeMachine:
    Timer = FakeTimer

    @staticmethod
    def reset():
        raise Reset()


class FakeTime:
    @staticmethod
    def sleep(s):
        pass


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def read_json(path):
    with open(path) as f:
        return json.loads(f.read())


def build(ver, start_py):
    os.mkdir("/fw/" + ver)
    os.mkdir("/fw/" + ver + "/vafa")
    write("/fw/%s/vafa/__init__.py" % ver, "")
    write("/fw/%s/vafa/start.py" % ver, start_py)


def fresh():
    """A new boot: no vafa module loaded, the loader's sys.path entry gone."""
    for name in list(sys.modules):
        if name == "vafa" or name.startswith("vafa."):
            del sys.modules[name]
    while sys.path and sys.path[0].startswith("/fw/"):
        sys.path.pop(0)
    FakeTimer.armed = []


def boot():
    """main._board(); True when it ended in machine.reset()."""
    saved = sys.modules.get("time")
    sys.modules["machine"] = FakeMachine
    sys.modules["time"] = FakeTime
    try:
        loader._board()
    except Reset:
        return True
    finally:
        if saved is not None:
            sys.modules["time"] = saved
    return False


check("vafa" not in sys.modules, "the test imports nothing of vafa before the loader")
os.mkdir("/fw")

# -- a trial build that raises on import: reverted at once, with the error text -----------
build("9.9.8", "raise RuntimeError('broken on import')\n")
loader.write_json("", "boot.json", {"active": "9.9.8", "prev": "", "trial": True, "boots": 0,
                                    "trial_s": 30})
fresh()
check(boot(), "the board resets after the failed import")
r = read_json("/fw/result.json")
check(r == {"ver": "9.9.8", "st": "rolled_back", "err": "RuntimeError: broken on import"},
      "result.json: %r" % (r,))
check(loader.read_boot("") is None, "boot.json names the factory firmware again")
check(FakeTimer.armed and FakeTimer.armed[0][2] == 30000, "the trial armed its timer")

# -- the active build's package is the one that runs; its timer reverts it unconfirmed ----
build("9.9.7", "import sys\nRAN = []\n\ndef run():\n    RAN.append(__file__)\n")
loader.write_json("", "boot.json", {"active": "9.9.7", "prev": "", "trial": True, "boots": 0,
                                    "trial_s": 20})
fresh()
check(not boot(), "the entry returned (a real one runs forever)")
start = sys.modules["vafa.start"]
check(start.RAN and start.RAN[0].startswith("/fw/9.9.7/"), "ran from /fw/9.9.7: %r" % start.RAN)
check(loader.read_boot("")["boots"] == 1, "the boot was counted")
_n, _mode, period, callback = FakeTimer.armed[0]
check(period == 20000, "the timer is trial_s")
try:
    callback(None)
    check(False, "the timer resets the board")
except Reset:
    pass
check(read_json("/fw/result.json")["err"] == "not confirmed in 20 s", "reverted by the timer")

# -- a confirmed build: no timer, a crash only resets ------------------------------------
loader.write_json("", "boot.json", {"active": "9.9.7", "prev": "", "trial": False,
                                    "boots": 0, "trial_s": 20})
write("/fw/9.9.7/vafa/start.py", "def run():\n    raise ValueError('later crash')\n")
fresh()
check(boot(), "a crash resets")
check(FakeTimer.armed == [], "no timer when not on trial")
check(loader.read_boot("")["active"] == "9.9.7", "and reverts nothing")
print("test_loader.py: checks passed")
