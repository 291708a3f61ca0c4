# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
# Minimal test helpers and hardware fakes shared by the MicroPython test scripts
# (and importable from CPython tests too).
from vafa.hw import Display, Hardware, Indicator, Keypad, Printer, Scanner

KEY = bytes(range(32))
KEY_HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

_passed = []


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    _passed.append(what)


def eq(a, b, what):
    if a != b:
        raise AssertionError("%s: %r != %r" % (what, a, b))
    _passed.append(what)


def raises(exc, fn, *args):
    try:
        fn(*args)
    except exc:
        return True
    raise AssertionError("%r did not raise %r" % (fn, exc))


def done(name):
    print("%s: %d checks passed" % (name, len(_passed)))


def config(device_id="t01"):
    from vafa.config import validate

    return validate({
        "device_id": device_id, "key_hex": KEY_HEX, "lang": "en",
        "club_name": "Vafa Demo Club",
        "mqtt": {"host": "127.0.0.1", "port": 18830, "user": device_id,
                 "password": "pw", "tls": False, "keepalive_s": 30},
    })


class FakeScanner(Scanner):
    def __init__(self):
        self.queue = []

    def read(self):
        return self.queue.pop(0) if self.queue else None


class FakeKeypad(Keypad):
    def __init__(self):
        self.queue = []

    def get_key(self):
        return self.queue.pop(0) if self.queue else None


class FakeDisplay(Display):
    def __init__(self):
        self.lines = []

    def show(self, lines):
        self.lines = list(lines)

    def text(self):
        return "\n".join(self.lines)


class FakePrinter(Printer):
    def __init__(self):
        self.receipts = []

    def print_lines(self, lines, qr=None):
        self.receipts.append(list(lines))


class FakeIndicator(Indicator):
    def __init__(self):
        self.events = []

    def ok(self):
        self.events.append("ok")

    def error(self):
        self.events.append("error")


class FakeNet:
    """Stands in for vafa.net.Session."""

    def __init__(self, connected=True):
        self.connected = connected
        self.published = []
        self.handler = None
        self.polls = 0
        self.queued = 0
        self.states = []
        self.failed = []  # tokens whose publish the test declares lost

    def publish_state(self, now_ms=None):
        if not self.connected:
            return False
        self.states.append(self.queued)
        return True

    def set_handler(self, fn):
        self.handler = fn

    def publish_request(self, frame, now_ms=None):
        if not self.connected:
            return 0
        self.published.append(frame)
        return len(self.published)  # a token, as vafa.net.Session returns

    def request_failed(self, token):
        return token in self.failed

    def poll(self, now_ms=None):
        self.polls += 1


_tmp_n = [0]


def tmpdir():
    """A fresh empty directory (MicroPython: in the in-memory FS; CPython: tempfile)."""
    import sys

    if sys.implementation.name != "micropython":
        import tempfile

        return tempfile.mkdtemp(prefix="vafa-fw-")
    import os

    _tmp_n[0] += 1
    d = "/tmp/t%d" % _tmp_n[0]
    os.mkdir(d)
    return d


class Clock:
    def __init__(self, t=1000):
        self.t = t

    def __call__(self):
        return self.t


def make_app(net=None, store_root=None, device_id="t01", journal=True, log=None,
             config_loader=None):
    """App on fakes; ``journal`` True gives it a Journal in the same directory."""
    from vafa.app import App
    from vafa.journal import Journal
    from vafa.store import Store

    hw = Hardware(FakeScanner(), FakeKeypad(), FakeDisplay(), FakePrinter(), FakeIndicator())
    net = net if net is not None else FakeNet()
    clock = Clock()
    root = store_root or tmpdir()
    if journal is True:
        j = Journal(root)
    elif journal is False:
        j = None
    else:
        j = journal  # a Journal of the test's own (an empty one is falsy: no "or")
    app = App(config(device_id), hw, net, Store(root), ticks_fn=clock,
              time_fn=lambda: 1763800000, journal=j, log=log, config_loader=config_loader)
    return app, hw, net, clock
