"""One simulated terminal: the real firmware App, Session, MQTT client (vafa.mqtt over
CPython sockets with MicroPython's non-blocking behaviour, simulator.netio), Store and
Journal on simulated hardware and a network that can be switched off. Used by the headless CLI, the
script runner, the Tk window and the tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from simulator import hardware, netio

LOOP_S = 0.02  # the firmware's LOOP_MS


class Link:
    """The simulated Wi-Fi: ``up`` False makes every MQTT socket operation fail."""

    def __init__(self, up: bool = True):
        self.up = up

    def is_up(self) -> bool:
        return self.up


class SimWifi:
    """The simulated Wi-Fi join of setup mode: succeeds while the link is up."""

    def __init__(self, link: Link):
        self.link = link
        self.joined: tuple[str, str] | None = None

    def __call__(self, ssid: str, password: str) -> bool:
        if not self.link.up:
            return False
        self.joined = (ssid, password)
        return True


def enrol(config_path: Path, qr_text: str, *, hw=None, log: Callable[[str], None] | None = None,
          link: Link | None = None, timeout_s: float = 10.0):
    """Setup mode of the real firmware (vafa.enrol) on simulated hardware: the scanner
    reads `qr_text`, the token goes to the backend over real HTTP (vafa.http), and
    config.json is written to `config_path`. Returns the firmware's Setup object; its
    `enrolled` is the new config, or None with `reason` saying why not."""
    from vafa import enrol as venrol
    from vafa.http import post_json

    hw = hw or hardware.build()
    setup = venrol.Setup(hw, SimWifi(link or Link(True)),
                         lambda url, body: post_json(url, body, timeout_s=timeout_s),
                         str(config_path), pins=venrol.local_pins(str(config_path)), log=log)
    Path(config_path).parent.mkdir(parents=True, exist_ok=True)
    setup.start()
    hw.scanner.scan(qr_text)
    # One scanned code is one pass of the setup loop; bounded like the firmware's.
    for _attempt in range(len(hw.scanner.queue)):
        setup.step()
    return setup


class SimTerminal:
    """``data_dir`` plays the device's flash (seq, journal, last purchase)."""

    def __init__(self, config_path: Path, data_dir: Path | None = None,
                 log: Callable[[str], None] | None = None, link: Link | None = None):
        from vafa import config as vconfig

        self.config_path = Path(config_path)
        self.cfg = vconfig.load(str(self.config_path))  # ConfigError with a clear message
        self.data_dir = Path(data_dir) if data_dir else self.config_path.resolve().parent
        self.link = link or Link(True)
        self.log_lines: list[str] = []
        self._log_fn = log
        self.boots = 0
        self.hw = hardware.build()
        self._boot()

    @property
    def broker(self) -> str:
        m = self.cfg["mqtt"]
        return f"{m['host']}:{m['port']}"

    def log(self, s: str) -> None:
        self.log_lines.append(s)
        if len(self.log_lines) > 1000:  # bounded: a long window session keeps the tail
            del self.log_lines[:500]
        if self._log_fn is not None:
            self._log_fn(s)

    def _factory(self):
        from vafa.mqtt import Client

        m = self.cfg["mqtt"]
        # As on the board: TLS verifies against ca.pem in the device's root (here the
        # config's directory) and is refused without it unless mqtt.insecure.
        tls = netio.tls_context(self.config_path.parent, m["insecure"], self.link) \
            if m["tls"] else None
        return Client(self.cfg["device_id"], m["host"], m["port"], user=m["user"],
                      password=m["password"], keepalive_s=m["keepalive_s"], tls=tls,
                      sockets=self._sockets)

    def _boot(self) -> None:
        from vafa import app as vapp
        from vafa import config as vconfig
        from vafa.journal import Journal
        from vafa.net import Session
        from vafa.store import Store

        m = self.cfg["mqtt"]
        self._sockets = netio.sockets(self.link)  # a reboot forgets the cached address
        self.net = Session(self._factory, self.cfg["device_id"], keepalive_s=m["keepalive_s"],
                           time_fn=time.time, link_ok=self.link.is_up, log=self.log)
        self.journal = Journal(str(self.data_dir))
        self.app = vapp.App(self.cfg, self.hw, self.net, Store(str(self.data_dir)),
                            log=self.log, journal=self.journal,
                            config_loader=lambda: vconfig.load(str(self.config_path)))
        self.app.on_reboot = self.reboot
        self.net.busy = self.app.typing
        self.boots += 1
        self.app.show_idle()

    def reboot(self) -> None:
        """Power cycle: the session and the app start over from what is on 'flash'."""
        self.net.close()
        self._boot()

    def set_network(self, up: bool) -> None:
        self.link.up = up

    def step(self) -> None:
        self.app.safe_step()

    def run_for(self, seconds: float) -> None:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.step()
            time.sleep(LOOP_S)

    def run_until(self, done: Callable[[], bool], timeout_s: float) -> bool:
        """Run the loop until ``done()`` or the timeout; returns ``done()``."""
        end = time.monotonic() + timeout_s
        while not done():
            if time.monotonic() >= end:
                return False
            self.step()
            time.sleep(LOOP_S)
        return True

    def connect(self, timeout_s: float) -> bool:
        return self.run_until(lambda: self.net.connected, timeout_s)

    def connect_once(self, timeout_s: float) -> bool:
        """One connection attempt, run to its end (connected, or failed: the reason is
        the last log line)."""
        if not self.net.connect():
            return False
        return self.run_until(lambda: self.net.connected or self.net.client is None,
                              timeout_s) and self.net.connected

    def close(self) -> None:
        self.net.close()
        self.hw.deinit()
