"""One simulated terminal: the real firmware App, Session, MQTT client (vafa.mqtt over
CPython sockets with MicroPython's non-blocking behaviour, simulator.netio), Store and
Journal on simulated hardware and a network that can be switched off. Used by the headless CLI, the
script runner, the Tk window and the tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from vafa import escpos

from simulator import hardware, netio

LOOP_S = 0.02  # the firmware's LOOP_MS
EPOCH_2000_S = 946_684_800  # where the ESP32's RTC restarts after a power cut


class BoardClock:
    """The board's clocks: ticks since power-on (wrapping at 2**30 ms like
    MicroPython's) and an RTC without a battery. The host's time stands for an RTC that
    was set (by NTP at an earlier boot: the simulator has no NTP server); a power cut
    restarts the ticks and puts the RTC at 2000-01-01, and the firmware's clock is then
    unsynced until a verified response carries the time."""

    def __init__(self):
        self._boot_at = time.monotonic()
        self._rtc_offset_s = 0.0  # RTC = host time + offset
        self.rtc_set = True

    def ticks_ms(self) -> int:
        return int((time.monotonic() - self._boot_at) * 1000) & (2**30 - 1)

    def time(self) -> int:
        return int(time.time() + self._rtc_offset_s)

    def settime(self, unix_s: int) -> None:
        self._rtc_offset_s = unix_s - time.time()
        self.rtc_set = True

    def reset(self) -> None:
        """A soft reset: the ticks restart, the RTC keeps running."""
        self._boot_at = time.monotonic()

    def power_cut(self) -> None:
        self._boot_at = time.monotonic()
        self._rtc_offset_s = EPOCH_2000_S - time.time()
        self.rtc_set = False


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
                 log: Callable[[str], None] | None = None, link: Link | None = None,
                 fw_root: str | None = None):
        from vafa import config as vconfig

        self.config_path = Path(config_path)
        self.cfg = vconfig.load(str(self.config_path))  # ConfigError with a clear message
        self.data_dir = Path(data_dir) if data_dir else self.config_path.resolve().parent
        # Where fw/ (firmware updates, vafa.ota) lives: the data dir unless given. In this
        # process a reboot cannot load other code; simulator.process re-executes instead.
        self.fw_root = fw_root if fw_root is not None else str(self.data_dir)
        self.link = link or Link(True)
        self.log_lines: list[str] = []
        self._log_fn = log
        self.boots = 0
        self.board = BoardClock()
        self.hw = hardware.build(self.link)
        # As on the board (/logo.bin, `provisioning image --logo`): the club's logo in the
        # device's root, here the config's directory, as ca.pem.
        self.hw.printer.logo = str(self.config_path.parent / escpos.LOGO_FILE)
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

    def _http_tls(self, insecure: bool):
        """The download's TLS: ca.pem pinned as for MQTT (vafa.tlsconf), CPython ssl."""
        return netio.tls_context(self.config_path.parent, insecure, self.link)

    def _boot(self) -> None:
        from vafa import app as vapp
        from vafa import config as vconfig
        from vafa.clock import Clock
        from vafa.journal import Journal
        from vafa.net import Session
        from vafa.store import Store

        m = self.cfg["mqtt"]
        self._sockets = netio.sockets(self.link)  # a reboot forgets the cached address
        self.net = Session(self._factory, self.cfg["device_id"], keepalive_s=m["keepalive_s"],
                           time_fn=time.time, link_ok=self.link.is_up, log=self.log)
        self.journal = Journal(str(self.data_dir))
        board = self.board
        # Wall time through app._time (the board's RTC, which a power cut resets); the
        # uptime from the board's ticks. The app's timers keep vafa.clock's ticks, which
        # the session uses.
        clock = Clock(ticks_fn=board.ticks_ms, time_fn=lambda: self.app._time(),
                      set_fn=board.settime, synced=board.rtc_set, log=self.log)
        self.app = vapp.App(self.cfg, self.hw, self.net, Store(str(self.data_dir)),
                            log=self.log, journal=self.journal,
                            config_loader=lambda: vconfig.load(str(self.config_path)),
                            clock=clock, time_fn=board.time, fw_root=self.fw_root,
                            ota_net=(lambda: netio.sockets(self.link), self._http_tls))
        self.app.on_reboot = self.reboot
        # Issue 16: cmd "set" writes config.json as the board does (vafa.config.save);
        # the session's lines go to the app's log ring too (cmd "logs").
        self.app.set_config_saver(self._save_config)
        self.net._log = self.app._say
        self.net.busy = self.app.typing
        self.boots += 1
        self.app.show_idle()

    def _save_config(self, cfg) -> None:
        from vafa import config as vconfig

        vconfig.save(cfg, str(self.config_path))
        self.cfg = cfg

    def reboot(self) -> None:
        """Reset: the session and the app start over from what is on 'flash'."""
        self.net.close()
        self.board.reset()
        self._boot()

    def power_cut(self) -> None:
        """Power lost and back: as reboot(), and the clock is back at 2000-01-01."""
        self.net.close()
        self.board.power_cut()
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
