
"""The fault-injection run (issue 10): real Mosquitto (persistence on), two real worker
processes on an MQTT 5 shared subscription, a real database (SQLite, or PostgreSQL behind a
TCP proxy that can be cut), simulated terminals running the real firmware app, and eleven
faults injected while they sell (issue 17's attacks and issue 15's power cut with the
clock reset and reflash among them).
`tests.chaos.checker` then compares what every terminal was told with the ledger.

Everything runs on this machine's loopback; every wait and loop has a bound.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from backend import create_app
from backend.config import Config
from backend.extensions import db
from backend.mqtt.worker import PAUSE_AFTER_COMMIT_ENV
from simulator import shim
from tests.support.broker import MosquittoProcess, free_port
from tests.support.waiting import wait_for

shim.install()  # the firmware's `vafa` package, as the simulator runs it

PROJECT_ROOT = Path(__file__).resolve().parents[2]
WORKER_START_S = 30
SALE_TIMEOUT_S = 90  # a sale that waits for a drain, 4 sends and a journal write, bounded
DRAIN_TIMEOUT_S = 120
BROKER_PASSWORD = "chaos-backend-password"
CLUB_OFFLINE_WINDOW_DAYS = 1
SQLITE_BUSY_TIMEOUT_MS = 1500
SPEND_SHARE = 0.2  # sales that pay with credit (need the backend online)
RAW_DEVICE = "chaos-raw"
INTRUDER_DEVICE = "chaos-intruder"  # its credentials log in claiming others' client ids


@dataclass(frozen=True)
class Durations:
    """Seconds per phase. `reduced` is the run inside `make test`; `full` is `make chaos`."""

    terminals: int
    settle_s: float
    offline_s: float
    broker_down_s: float
    database_down_s: float
    duplicate_rounds: int
    firmware_timeouts: dict = field(default_factory=dict)
    poison_rounds: int = 2  # × 8 poison frames
    refusal_rounds: int = 2
    takeover_logins: int = 6


REDUCED = Durations(terminals=4, settle_s=2.5, offline_s=4, broker_down_s=2, database_down_s=4,
                    duplicate_rounds=4, firmware_timeouts={
                        # The firmware's own timeouts, shortened so the run fits in a minute;
                        # the full run keeps the real ones.
                        "app.RESPONSE_TIMEOUT_MS": 2000, "app.REPLAY_PAUSE_MS": 2000,
                        "app.DRAIN_WAIT_MS": 8000, "net.BACKOFF_MAX_MS": 2000})
FULL = Durations(terminals=8, settle_s=12, offline_s=120, broker_down_s=10,
                 database_down_s=20, duplicate_rounds=25, poison_rounds=5, refusal_rounds=8,
                 takeover_logins=40)


# ---- database ------------------------------------------------------------------------

class CuttableProxy:
    """A TCP forwarder between the workers and PostgreSQL. `cut()` closes every connection
    and refuses new ones (accepts and closes at once) until `restore()`: the database as
    the workers see it during a network partition or a server restart."""

    MAX_CONNECTIONS = 64

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = True
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        self.lock = threading.Lock()
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                if not self.open or len(self.pairs) >= self.MAX_CONNECTIONS:
                    client.close()
                    continue
                try:
                    upstream = socket.create_connection(self.target, timeout=5)
                except OSError:
                    client.close()
                    continue
                upstream.settimeout(None)
                self.pairs.append((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for each in (source, sink):
                try:
                    each.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                each.close()
            with self.lock:
                self.pairs = [pair for pair in self.pairs if source not in pair]

    def cut(self) -> None:
        with self.lock:
            self.open = False
            pairs, self.pairs = self.pairs, []
        for pair in pairs:
            for each in pair:
                try:
                    each.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def restore(self) -> None:
        with self.lock:
            self.open = True

    def close(self) -> None:
        self.closed = True
        self.cut()
        self.listener.close()


# What .ci/run uses; tried when neither TEST_DATABASE_URL nor DATABASE_URL is set.
CI_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def postgres_base_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgresql") else CI_POSTGRES_URL


def postgres_reachable() -> bool:
    url = postgres_base_url()
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:
        return False


class Database:
    """An isolated database for one run: a SQLite file, or a PostgreSQL schema of its own
    (dropped at the end) reached by the workers through a CuttableProxy."""

    def __init__(self, kind: str, workdir: Path):
        self.kind = kind
        self.schema = None
        self.proxy = None
        if kind == "sqlite":
            self.path = workdir / "vafa.sqlite3"
            self.url = self.worker_url = f"sqlite:///{self.path}"
            return
        base = postgres_base_url()
        self.schema = f"vafa_chaos_{os.getpid()}_{int(time.time())}"
        admin = create_engine(base)
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{self.schema}"'))
        admin.dispose()
        separator = "&" if "?" in base else "?"
        # The schema goes into search_path, which pg_dump and the workers see too.
        self.url = f"{base}{separator}options=-csearch_path%3D{self.schema}"
        parsed = make_url(self.url)
        self.proxy = CuttableProxy(parsed.host or "127.0.0.1", parsed.port or 5432)
        self.worker_url = parsed.set(host="127.0.0.1", port=self.proxy.port).render_as_string(
            hide_password=False)

    def hold_unavailable(self, seconds: float) -> None:
        """Make the database unavailable to the workers for `seconds`: SQLite's write lock
        held by another connection (writers wait the busy timeout, then fail), or the
        PostgreSQL proxy cut."""
        if self.kind == "sqlite":
            connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            connection.execute("BEGIN IMMEDIATE")
            try:
                time.sleep(seconds)
            finally:
                connection.execute("ROLLBACK")
                connection.close()
        else:
            self.proxy.cut()
            try:
                time.sleep(seconds)
            finally:
                self.proxy.restore()

    def drop(self) -> None:
        if self.proxy is not None:
            self.proxy.close()
        if self.schema is not None:
            admin = create_engine(postgres_base_url())
            with admin.begin() as connection:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))
            admin.dispose()


# ---- workers -------------------------------------------------------------------------

class WorkerProcess:
    """`flask --app backend mqtt-worker` with a stable client id, as in production."""

    def __init__(self, env: dict, client_id: str, log_path: Path):
        self.env = env
        self.client_id = client_id
        self.log_path = log_path
        self.process: subprocess.Popen | None = None
        self.starts = 0

    def _subscriptions(self) -> int:
        try:
            return self.log_path.read_text(errors="replace").count("subscribed $share")
        except OSError:
            return 0

    def start(self) -> None:
        seen = self._subscriptions()
        log = self.log_path.open("a")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "backend", "mqtt-worker",
             "--client-id", self.client_id],
            env=self.env, stdout=log, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)
        log.close()
        self.starts += 1
        self.wait_subscribed(seen)

    def wait_subscribed(self, seen: int) -> None:
        def subscribed_again() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_path.read_text()[-2000:]}")
            return self._subscriptions() > seen

        wait_for(subscribed_again, WORKER_START_S,
                 f"the worker subscribed (log {self.log_path})", interval_s=0.1)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


# ---- terminals -----------------------------------------------------------------------

@dataclass
class Sale:
    """One sale as the terminal (and its cashier) saw it."""

    device: str
    phase: str
    card: str
    amount: int
    use_credit: int
    request_id: str | None = None
    outcome: str | None = None  # vafa.app OUT_*
    code: str | None = None  # the response code shown, if any
    response: dict | None = None  # the OK response's body
    journaled: bool = False
    sent: bool = False  # the request left the terminal at least once
    offline_result: str | None = None  # "confirmed", or the refusal code of a replay
    power_cut: bool = False  # the record was torn by a power cut while being written
    sold_at: float = field(default_factory=time.time)  # when the sale really happened
    reissued_from: str | None = None  # the id its journal entry had before a re-issue
    flashing: int = 0  # how many times its terminal had been reflashed when it was sold

    @property
    def acknowledged(self) -> bool:
        """The terminal was told the backend has it."""
        return self.outcome == "ok" or self.offline_result == "confirmed"

    @property
    def refused(self) -> bool:
        """The terminal was told definitively that nothing happened."""
        if self.offline_result not in (None, "confirmed"):
            return self.offline_result != "UNAVAILABLE"
        return self.outcome == "error" and self.code not in ("UNAVAILABLE", None)


# A board runs one terminal in one MicroPython interpreter; here the terminals are threads
# of one CPython process and share its modules. The firmware imports modules on demand and
# unloads them after (vafa.unload, for the heap), which on a shared sys.modules lets one
# terminal drop a module between another's import and its use ("cannot import name
# 'settings' from 'vafa'"). So one terminal at a time runs firmware code, as on the board.
ONE_INTERPRETER = threading.Lock()


class Till(threading.Thread):
    """A simulated terminal (the real firmware app) with a cashier who keeps selling."""

    def __init__(self, run: ChaosRun, device_id: str, seed: int):
        super().__init__(daemon=True, name=f"till-{device_id}")
        from simulator.terminal import Link, SimTerminal

        self.run_ = run
        self.device_id = device_id
        self.rng = random.Random(seed)
        self.link = Link(True)
        self.sales: list[Sale] = []
        self.by_id: dict[str, Sale] = {}
        self.early_results: dict[str, str] = {}
        self.torn_records = 0
        self.selling = True
        self.stopping = False
        self.power_cut_armed = False
        self.power_cuts = 0
        self.crash: BaseException | None = None
        self.current: Sale | None = None
        self.current_started = 0.0
        self.gave_up: set[str] = set()  # ids sent, unanswered, then journaled
        # Run by this thread between two sales (the board is not stepped meanwhile):
        # (ready(), action()) pairs, e.g. a power cut or a reflash once the journal is empty.
        self.actions: list[tuple] = []
        self.actions_lock = threading.Lock()
        self.reissued = 0  # requests re-issued after REPLAY / ID_REUSED
        self.early_reissues: dict[str, str] = {}
        self.flashings = 0  # reflashes so far: a sale's ids are of its own flash
        self.connects = 0  # MQTT sessions this terminal opened
        # The harness's truth of when a sale happens, as seconds from the host's time: the
        # clock fault's terminal models sales that really are older than the window.
        self.sold_offset_s = 0.0
        # The board's own clock (simulator.terminal.BoardClock): a power cut restarts it at
        # 2000-01-01, unsynced, as on the ESP32.
        config = run.instance_dir / "devices" / device_id / "config.json"
        self.flash = run.workdir / "flash" / device_id
        self.flash.mkdir(parents=True, exist_ok=True)
        self.sim = SimTerminal(config, data_dir=self.flash, log=self._log, link=self.link)

    # The firmware's log lines name what happened to a request id.
    _CONFIRMED = re.compile(r"offline sale (\S+) confirmed")
    _REFUSED = re.compile(r"offline sale (\S+) refused by the backend: (\S+)")
    _GAVE_UP = re.compile(r"no answer to (\S+): journaled")
    _TORN = re.compile(r"journal: dropped (\d+) torn")
    _REISSUED_OFFLINE = re.compile(r"offline sale (\S+) re-issued as (\S+)")
    _REISSUED_ONLINE = re.compile(r"(\S+) answered \S+ \(backend at seq .*\): re-issued as")

    def _log(self, line: str) -> None:
        if line.startswith("crash in handler"):
            # The firmware survives it, but a crash under these faults is a defect.
            self.crash = RuntimeError(f"{self.device_id}: {line}")
        elif match := self._CONFIRMED.search(line):
            self._offline(match.group(1), "confirmed")
        elif match := self._REFUSED.search(line):
            self._offline(match.group(1), match.group(2))
        elif match := self._GAVE_UP.search(line):
            self.gave_up.add(match.group(1))
        elif match := self._TORN.search(line):
            self.torn_records += int(match.group(1))
        elif match := self._REISSUED_OFFLINE.search(line):
            self.reissued += 1
            old_id, new_id = match.groups()
            sale = self.by_id.get(old_id)
            if sale is not None and sale.flashing == self.flashings:
                del self.by_id[old_id]
                sale.request_id = new_id
                sale.reissued_from = old_id
                self.by_id[new_id] = sale
            else:
                # Not this flash's sale under that id yet (its screen is still up, and an
                # older sale of the same id is from before a reflash): named when it goes.
                self.early_reissues[old_id] = new_id
        elif self._REISSUED_ONLINE.search(line):
            self.reissued += 1  # the sale's id is read when its screen is left
        elif line == "mqtt connected":
            self.connects += 1

    def _offline(self, request_id: str, result: str) -> None:
        sale = self.by_id.get(request_id)
        if sale is not None:
            sale.offline_result = result
        else:
            # The replay's verdict can come before the cashier's screen let the sale go
            # (_finish_sale names it): kept until then.
            self.early_results[request_id] = result

    def run(self) -> None:
        from simulator.terminal import LOOP_S

        try:
            next_sale = time.monotonic()
            while not self.stopping:
                with ONE_INTERPRETER:
                    next_sale = self._turn(next_sale)
                time.sleep(LOOP_S)
        except BaseException as error:  # reported by the run, never swallowed
            self.crash = error

    def _turn(self, next_sale: float) -> float:
        """One pass of the terminal's loop (an action, a new sale, one firmware step, the
        sale's end); returns when the next sale may start."""
        if self.current is None and self.actions:
            self._run_action()
        app = self.sim.app
        if self.current is None and self.selling and app.state == 0 \
                and time.monotonic() >= next_sale:
            self._start_sale()
        self.sim.step()
        if self.current is not None:
            if self._finish_sale():
                # Slower while offline, so a long outage fits the journal (256).
                pause_s = (0.05, 0.4) if self.link.up else (0.6, 1.2)
                next_sale = time.monotonic() + self.rng.uniform(*pause_s)
            elif time.monotonic() - self.current_started > SALE_TIMEOUT_S:
                raise RuntimeError(f"{self.device_id}: sale stuck in state {app.state}")
        return next_sale

    def _run_action(self) -> None:
        with self.actions_lock:
            ready, action = self.actions[0]
            if not ready():
                return
        action()
        # Popped only once it has run: wait_actions() returns when the action is done,
        # not when it has merely started (a power cut still rebooting the app).
        with self.actions_lock:
            self.actions.pop(0)

    def do(self, action, ready=lambda: True) -> None:
        """Have this terminal's thread run `action()` between two sales once `ready()`."""
        with self.actions_lock:
            self.actions.append((ready, action))

    def wait_actions(self, run: ChaosRun, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.actions:
            assert time.monotonic() < deadline, f"{self.device_id}: action not run"
            run._wait(0.05)

    def shift_clock(self, offset_s: float) -> None:
        """The terminal's clock set `offset_s` off the host's and believed synced (a
        wrong NTP answer); its next verified response corrects it."""
        self.sim.app.clock.set(int(time.time() + offset_s), "chaos")

    def journal_empty(self) -> bool:
        app = self.sim.app
        return app.state == 0 and app.replay is None and app.queued() == 0

    def reflash(self, seq_floor: int | None) -> None:
        """The flash erased (seq, journal, last sales) and the board provisioned again:
        config.json with `seq_floor` as `provisioning image` writes it from the
        backend's last_seq, or without it (None: a technician who skipped it). The board
        then starts from power-off: clock at 2000-01-01, unsynced."""
        from vafa import config as vconfig

        config = json.loads(self.sim.config_path.read_text())
        config["seq_floor"] = seq_floor or 0
        for path in self.flash.iterdir():
            path.unlink()
        path = self.flash / "config.json"
        path.write_text(json.dumps(config))
        self.sim.config_path = path
        self.sim.cfg = vconfig.load(str(path))
        self.flashings += 1
        self.early_reissues.clear()
        self.sim.power_cut()

    def _start_sale(self) -> None:
        app = self.sim.app
        card = self.rng.choice(self.run_.cards)
        amount = self.rng.randrange(10_000, 2_000_000, 1000)
        use_credit = -1 if self.rng.random() < SPEND_SHARE else 0
        sale = Sale(self.device_id, self.run_.phase, card, amount, use_credit,
                    sold_at=time.time() + self.sold_offset_s, flashing=self.flashings)
        self.seq_before = self.sim.app.store.last_seq()
        app.outcome = None
        self.sim.hw.scanner.scan(card)
        self.sim.hw.keypad.press(*str(amount), *(["U"] if use_credit else []), "E")
        self.current, self.current_started = sale, time.monotonic()
        self.sales.append(sale)

    def _finish_sale(self) -> bool:
        app = self.sim.app
        if app.state != 4 or app.outcome is None:  # RESULT, with this sale's outcome
            return False
        sale = self.current
        seq = app.store.last_seq()
        if seq > self.seq_before:
            from vafa import protocol

            sale.request_id = protocol.request_id(self.device_id, seq)
            while sale.request_id in self.early_reissues:
                sale.reissued_from = sale.request_id
                sale.request_id = self.early_reissues.pop(sale.request_id)
            self.by_id[sale.request_id] = sale
            if sale.request_id in self.early_results:
                sale.offline_result = self.early_results.pop(sale.request_id)
        sale.outcome = app.outcome
        sale.journaled = app.outcome == "offline"
        sale.sent = app.outcome in ("ok", "error", "no_connection") or (
            sale.request_id in self.gave_up)
        if app.outcome in ("ok", "error"):
            response = app.last_response or {}
            sale.code = response.get("code")
            if app.outcome == "ok":
                sale.response = response
        self.current = None
        if sale.journaled and self.power_cut_armed:
            self.power_cut_armed = False
            self._power_cut_mid_write(sale)
        else:
            self.sim.hw.keypad.press("C")
        return True

    def _power_cut_mid_write(self, sale: Sale) -> None:
        """The power fails while this sale's journal record is being written: part of
        the record is on flash and the cashier never saw "Saved offline". The terminal
        then boots again from what is on flash."""
        journal = self.sim.journal
        log = Path(journal.log_path)
        data = log.read_bytes()
        assert len(data) == journal.size_bytes()
        from vafa.journal import encode_record

        *_, (seq, payload) = journal.entries()  # the record just written is the last
        record_length = len(encode_record(seq, payload))
        keep = self.rng.randrange(1, record_length)
        log.write_bytes(data[:len(data) - record_length + keep])
        sale.power_cut = True
        sale.outcome = "power_cut"
        self.power_cuts += 1
        self.sim.reboot()

    @property
    def idle(self) -> bool:
        app = self.sim.app
        return (self.current is None and app.state == 0 and app.replay is None
                and app.queued() == 0 and self.sim.net.connected)

    def close(self) -> None:
        self.stopping = True
        if self.ident is not None:
            self.join(10)
        self.sim.close()


class RawTerminal:
    """A terminal below the firmware for the duplicate/out-of-order fault: the same frame
    published several times at once, and two requests in flight in the wrong order."""

    def __init__(self, run: ChaosRun):
        from tests.support.stack import FakeTerminal

        config = json.loads((run.instance_dir / "devices" / RAW_DEVICE / "config.json")
                            .read_text())
        self.terminal = FakeTerminal(config, run.broker.port)
        self.run_ = run
        self.seq = 0
        self.sales: list[Sale] = []
        self.replies: dict[str, list[bytes]] = {}

    def _body(self, seq: int, card: str, amount: int) -> dict:
        return {"v": 1, "id": f"{RAW_DEVICE}-{seq:06d}", "seq": seq, "ts": int(time.time()),
                "op": "purchase", "card": card, "amount": amount, "use_credit": 0}

    def round(self, rng: random.Random) -> None:
        from backend import protocol

        terminal = self.terminal
        first, second = self.seq + 1, self.seq + 2
        self.seq += 2
        bodies = {seq: self._body(seq, rng.choice(self.run_.cards),
                                  rng.randrange(10_000, 900_000, 1000))
                  for seq in (first, second)}
        frames = {seq: protocol.encode_frame(protocol.encode_body(body), terminal.key)
                  for seq, body in bodies.items()}
        for body in bodies.values():
            sale = Sale(RAW_DEVICE, self.run_.phase, body["card"], body["amount"], 0,
                        request_id=body["id"], sent=True)
            self.sales.append(sale)
        # Out of order: the later seq first, then the earlier one three times at once
        # (duplicate deliveries the two workers may take concurrently), then a retry of
        # the later one.
        terminal.send_raw(frames[second])
        for _ in range(3):
            terminal.send_raw(frames[first])
        terminal.send_raw(frames[second])
        got = self.collect(5)
        for sale in self.sales[-2:]:
            answers = [reply for reply in got if reply["id"] == sale.request_id]
            ok = [reply for reply in answers if reply["ok"]]
            if ok:
                sale.outcome, sale.code, sale.response = "ok", "OK", ok[0]
            elif answers:
                sale.outcome, sale.code = "error", answers[-1]["code"]
            else:
                sale.outcome = "no_connection"


    def sale(self, card: str, amount: int, timeout_s: float = 5) -> Sale:
        """One purchase, sent once and answered within `timeout_s` (or not)."""
        self.seq += 1
        body = self._body(self.seq, card, amount)
        sale = Sale(RAW_DEVICE, self.run_.phase, card, amount, 0, request_id=body["id"],
                    sent=True)
        self.sales.append(sale)
        self.send(body)
        got = self.collect(1, timeout_s)
        if got and got[0]["ok"]:
            sale.outcome, sale.code, sale.response = "ok", "OK", got[0]
        else:
            sale.outcome = "error" if got else "no_connection"
            sale.code = got[0]["code"] if got else None
        return sale

    def collect(self, expected: int, timeout_s: float = 10) -> list[dict]:
        """The replies that arrive until `expected` did or `timeout_s` passed; every
        reply's body is kept per id for the checker."""
        from backend import protocol

        terminal = self.terminal
        got: list[dict] = []
        deadline = time.monotonic() + timeout_s
        while len(got) < expected and time.monotonic() < deadline:
            with terminal.arrived:
                while not terminal.replies and time.monotonic() < deadline:
                    terminal.arrived.wait(0.2)
                frames_in = list(terminal.replies)
                terminal.replies.clear()
            for frame in frames_in:
                body = protocol.decode_frame(frame, terminal.key)
                reply = json.loads(body)
                got.append(reply)
                self.replies.setdefault(reply["id"], []).append(body)
        return got

    def send(self, body: dict, times: int = 1) -> None:
        from backend import protocol

        frame = protocol.encode_frame(protocol.encode_body(body), self.terminal.key)
        for _ in range(times):
            self.terminal.send_raw(frame)

    def poison_burst(self, rounds: int) -> list[bytes]:
        """Signed poison frames (tests/support/poison.py), all published at once."""
        from backend import protocol
        from tests.support.poison import poison_bodies

        bodies = poison_bodies(RAW_DEVICE, self.seq + 1, rounds)
        self.seq += len(bodies)  # their valid seqs are used up by their stored refusals
        for body in bodies:
            self.terminal.send_raw(protocol.encode_frame(body, self.terminal.key))
        return bodies

    def refused_then_retried(self, card: str, balance_rials: int) -> tuple[Sale, Sale]:
        """A spend above the member's credit is refused; a purchase on the same card then
        earns more than was missing; the refused frame is sent again, three times at once
        (the two workers take them concurrently). Every answer must be the first refusal,
        and the spend is never charged (issue 17 item 3)."""
        spend_seq, earn_seq = self.seq + 1, self.seq + 2
        self.seq += 2
        spend = self._body(spend_seq, card, 900_000)
        spend["use_credit"] = balance_rials + 1_000
        earn = self._body(earn_seq, card, 900_000)
        refused = Sale(RAW_DEVICE, self.run_.phase, card, 900_000, spend["use_credit"],
                       request_id=spend["id"], sent=True)
        earned = Sale(RAW_DEVICE, self.run_.phase, card, 900_000, 0, request_id=earn["id"],
                      sent=True)
        self.sales += [refused, earned]
        self.send(spend)
        first = self.collect(1)
        refused.outcome, refused.code = "error", first[0]["code"] if first else None
        if first and first[0]["ok"]:  # the member had more credit than read: a plain sale
            refused.outcome, refused.response = "ok", first[0]
        self.send(earn)
        answer = self.collect(1)
        if answer and answer[0]["ok"]:
            earned.outcome, earned.code, earned.response = "ok", "OK", answer[0]
        else:
            earned.outcome = "error" if answer else "no_connection"
            earned.code = answer[0]["code"] if answer else None
        self.send(spend, times=3)
        self.collect(3)
        return refused, earned


# ---- the run -------------------------------------------------------------------------

@dataclass
class PhaseResult:
    name: str
    notes: list[str] = field(default_factory=list)


class ChaosRun:
    def __init__(self, kind: str, workdir: Path, durations: Durations, seed: int = 10):
        self.kind = kind
        self.workdir = workdir
        self.durations = durations
        self.rng = random.Random(seed)
        self.instance_dir = workdir / "instance"
        self.trigger = workdir / "pause-after-commit"
        self.phase = "start"
        self.phases: list[PhaseResult] = []
        self.tills: list[Till] = []
        self.raw: RawTerminal | None = None
        self.workers: list[WorkerProcess] = []
        self.database: Database | None = None
        self.broker: MosquittoProcess | None = None
        self.app = None
        self.cards: list[str] = []
        self.before: dict = {}
        self.evidence: Counter = Counter()
        self.killed_request: tuple[str, str] | None = None
        self.fault_errors: list[str] = []  # a fault's own check failed (the checker reports)

    # -- set-up -----------------------------------------------------------------------
    def config(self, url: str) -> Config:
        return Config(environ={
            "VAFA_INSTANCE_DIR": str(self.instance_dir), "DATABASE_URL": url,
            "SECRET_KEY": "chaos-secret", "VAFA_MQTT_PASSWORD": BROKER_PASSWORD,
            "VAFA_MQTT_PORT": str(self.broker.port),
            "VAFA_MQTT_BACKEND_PORT": str(self.broker.backend_port)})

    def set_up(self) -> None:
        import flask_migrate

        from backend.models import the_club
        from backend.services import demo, devices
        from backend.unit_of_work import SYSTEM

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.database = Database(self.kind, self.workdir)
        self.broker = MosquittoProcess(self.workdir / "mosquitto", free_port())
        self.app = create_app(self.config(self.database.url))
        with self.app.app_context():
            flask_migrate.upgrade(directory=str(PROJECT_ROOT / "backend/migrations"),
                                  revision="heads")
            result = demo.seed_demo(db.session, datetime.now(UTC))
            club = the_club(db.session)
            club.offline_window_days = CLUB_OFFLINE_WINDOW_DAYS
            tills = [f"t{n:02d}" for n in range(3, self.durations.terminals + 1)]
            extra = [devices.register_device(db.session, actor=SYSTEM, device_id=device_id,
                                             branch_id=1)
                     for device_id in [*tills, RAW_DEVICE, INTRUDER_DEVICE]]
            result.terminals.extend(extra)
            devices.write_terminal_configs(db.session, result.terminals, self.app.config)
            devices.write_broker_config(
                db.session, self.broker.config_dir, port=self.broker.port,
                backend_port=self.broker.backend_port,
                backend_username=self.app.config["MQTT_USERNAME"],
                backend_password=BROKER_PASSWORD)
            db.session.rollback()
        from tests.chaos import checker

        self.cards = checker.demo_cards(self.app)
        self.before = checker.totals(self.app)
        self.broker.start()
        env = dict(os.environ, DATABASE_URL=self.database.worker_url,
                   VAFA_INSTANCE_DIR=str(self.instance_dir), SECRET_KEY="chaos-secret",
                   VAFA_MQTT_PASSWORD=BROKER_PASSWORD, VAFA_MQTT_PORT=str(self.broker.port),
                   VAFA_MQTT_BACKEND_PORT=str(self.broker.backend_port),
                   VAFA_SQLITE_BUSY_TIMEOUT_MS=str(SQLITE_BUSY_TIMEOUT_MS),
                   **{PAUSE_AFTER_COMMIT_ENV: str(self.trigger)})
        env.pop("TEST_DATABASE_URL", None)
        self.workers = [WorkerProcess(env, f"chaos-worker-{n}", self.workdir / f"worker-{n}.log")
                        for n in (1, 2)]
        for worker in self.workers:
            worker.start()
        self._patch_firmware()
        self.tills = [Till(self, f"t{n:02d}", seed=n)
                      for n in range(1, self.durations.terminals + 1)]
        for till in self.tills:
            assert till.sim.connect(10), f"{till.device_id} did not connect"
        self.raw = RawTerminal(self)
        self.raw.terminal.__enter__()

    def _patch_firmware(self) -> None:
        import vafa.app
        import vafa.net

        modules = {"app": vafa.app, "net": vafa.net}
        self._restore = []
        for name, value in self.durations.firmware_timeouts.items():
            module, attribute = name.split(".")
            self._restore.append((modules[module], attribute,
                                  getattr(modules[module], attribute)))
            setattr(modules[module], attribute, value)

    # -- phases -----------------------------------------------------------------------
    def _phase(self, name: str) -> PhaseResult:
        self.phase = name
        result = PhaseResult(name)
        self.phases.append(result)
        return result

    def _settle(self, seconds: float | None = None) -> None:
        self._wait(seconds if seconds is not None else self.durations.settle_s)

    def _wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._check_tills()
            time.sleep(0.1)

    def _check_tills(self) -> None:
        for till in self.tills:
            if till.crash is not None:
                raise RuntimeError(f"{till.device_id} crashed") from till.crash

    def fault_worker_killed(self) -> None:
        result = self._phase("worker killed between commit and ack")
        self._settle(1)
        self.trigger.write_text("pause")
        marker = self.trigger.with_name(self.trigger.name + ".paused")
        deadline = time.monotonic() + 20
        # The worker writes the marker's one line after creating it: wait for the line.
        while not (marker.exists() and marker.read_text().endswith("\n")):
            assert time.monotonic() < deadline, "no worker paused after a commit"
            self._wait(0.05)
        pid_text, topic, request_id = marker.read_text().split()[:3]
        worker = next(w for w in self.workers if w.process.pid == int(pid_text))
        worker.kill()
        self.killed_request = (topic.split("/")[3], request_id)
        result.notes.append(f"kill -9 of {worker.client_id} after it committed "
                            f"{request_id}, before its ack")
        marker.unlink()
        self.evidence["workers killed"] += 1
        worker.start()  # same client id: its session's unacknowledged request comes back
        self._settle()

    def fault_broker_restart(self) -> None:
        result = self._phase("Mosquitto restarted")
        self._settle(1)
        self.broker.stop()
        self._wait(self.durations.broker_down_s)
        self.broker.start()
        result.notes.append(f"broker down {self.durations.broker_down_s:g} s, persistence on")
        self._settle()
        # The raw terminal's paho client reconnects by itself.

    def fault_terminal_offline_power_cut(self) -> None:
        result = self._phase("terminal offline, power cut mid-journal-write, reboot")
        till = self.tills[0]
        till.link.up = False
        self._wait(self.durations.offline_s)
        till.power_cut_armed = True
        deadline = time.monotonic() + 30
        while till.power_cut_armed:
            assert time.monotonic() < deadline, "no offline sale to cut the power on"
            self._wait(0.05)
        self._wait(1)
        till.link.up = True
        self.evidence["torn"] = till.torn_records
        journaled = sum(1 for sale in till.sales if sale.journaled)
        result.notes.append(f"{till.device_id} offline {self.durations.offline_s:g} s, "
                            f"{journaled} sales journaled; {till.torn_records} torn record "
                            "dropped at boot")
        self._settle()

    def fault_duplicates(self) -> None:
        result = self._phase("duplicates, retries, out of order across 2 workers")
        for _ in range(self.durations.duplicate_rounds):
            self.raw.round(self.rng)
            self._check_tills()
        replay = sum(1 for sale in self.raw.sales if sale.code == "REPLAY")
        result.notes.append(f"{self.durations.duplicate_rounds} rounds of 5 frames; "
                            f"{replay} REPLAY for the overtaken seq")
        self._settle()

    def fault_database(self) -> None:
        result = self._phase("database unavailable")
        self._settle(1)
        how = "SQLite write lock held" if self.kind == "sqlite" else "proxy to PostgreSQL cut"
        faults_before = self.worker_log_count("database fault")
        self.database.hold_unavailable(self.durations.database_down_s)
        self._settle()
        self.evidence["UNAVAILABLE"] = self.worker_log_count("database fault") - faults_before
        result.notes.append(f"{how} {self.durations.database_down_s:g} s; "
                            f"{self.evidence['UNAVAILABLE']} requests answered UNAVAILABLE "
                            "and retried")

    def _journal_offline(self, till: Till, sales: int, min_s: float) -> list[Sale]:
        """Keep `till` off the network (already cut) for at least `min_s` and until it
        journaled `sales` more sales, bounded; returns the sales it journaled."""
        before = len(till.sales)
        deadline = time.monotonic() + max(30.0, self.durations.offline_s)
        self._wait(min_s)
        while sum(1 for sale in till.sales[before:] if sale.journaled) < sales:
            assert time.monotonic() < deadline, f"{till.device_id} journaled nothing"
            self._wait(0.1)
        return [sale for sale in list(till.sales)[before:] if sale.journaled]

    def _wait_verdicts(self, sales: list[Sale]) -> None:
        """Wait for the backend's verdict on each journaled sale (a fixed settle was too
        short on a busy machine), bounded: the checker reports what stayed unconfirmed."""
        drained_by = time.monotonic() + DRAIN_TIMEOUT_S
        while any(sale.offline_result in (None, "UNAVAILABLE") and not sale.power_cut
                  for sale in sales):
            if time.monotonic() > drained_by:
                break
            self._wait(0.1)

    def fault_clock(self) -> None:
        result = self._phase("clock hours off; offline replay past the window")
        behind, ahead = self.tills[1], self.tills[2]
        past_s = -(CLUB_OFFLINE_WINDOW_DAYS * 24 + 6) * 3600

        def go_back() -> None:
            # The sales from now on really are 30 h old (the run cannot wait 30 h): the
            # terminal's clock says so, synced, and so does the checker's truth.
            behind.link.up = False
            behind.sold_offset_s = past_s
            behind.shift_clock(past_s)

        def come_back() -> None:
            # 30 h later: its clock ran right all along, so it is right now, too (left 30 h
            # behind, the sales of its first seconds back would be dated 30 h ago).
            behind.sold_offset_s = 0
            behind.shift_clock(0)
            behind.link.up = True

        behind.do(go_back)
        ahead.do(lambda: ahead.shift_clock(5 * 3600))  # corrected by its next response
        behind.wait_actions(self, 30)
        offline_sales = self._journal_offline(behind, 2, self.durations.offline_s / 2)
        behind.do(come_back)
        behind.wait_actions(self, 30)
        self._wait_verdicts(offline_sales)
        self._settle()
        self.evidence["STALE"] = sum(1 for sale in behind.sales
                                     if sale.offline_result == "STALE")
        result.notes.append(f"{behind.device_id} 30 h behind and offline: "
                            f"{self.evidence['STALE']} replays refused STALE; "
                            f"{ahead.device_id} 5 h ahead")

    def fault_power_cut_clock_reset(self) -> None:
        """Issue 15 item 3: a blackout. The board's clock restarts at 2000-01-01 and is
        unsynced; Wi-Fi comes back before the internet (no NTP, no broker), so sales are
        journaled on the 2000 clock, through a second power cut; then the network is
        back and the first verified response sets the clock. Every sale whose receipt
        said "saved offline" must be in the ledger (STALE on such a sale is lost)."""
        result = self._phase("power cut, clock back at 2000-01-01, offline, second cut")
        till = self.tills[3 % len(self.tills)]

        def blackout() -> None:
            till.link.up = False
            till.sim.power_cut()

        till.do(blackout)
        till.wait_actions(self, 30)
        unsynced = not till.sim.app.clock.synced and till.sim.app.clock.now() < 1_000_000_000
        journaled = self._journal_offline(till, 2, self.durations.offline_s / 4)
        till.do(till.sim.power_cut)  # a sale of the first boot is replayed by the second
        till.wait_actions(self, 30)
        journaled += self._journal_offline(till, 1, self.durations.offline_s / 4)
        till.link.up = True
        self._wait_verdicts(journaled)
        self._settle()
        synced = till.sim.app.clock.synced
        confirmed = sum(1 for sale in journaled if sale.offline_result == "confirmed")
        stale = sum(1 for sale in journaled if sale.offline_result == "STALE")
        self.evidence["clock reset journaled"] = len(journaled)
        self.evidence["clock reset confirmed"] = confirmed
        if not unsynced:
            self.fault_errors.append(f"{till.device_id}: the clock was not reset by the cut")
        if not synced:
            self.fault_errors.append(f"{till.device_id}: the clock never got synced again")
        result.notes.append(f"{till.device_id} cut twice, clock at 2000 and unsynced, "
                            f"{len(journaled)} sales journaled offline: {confirmed} confirmed"
                            f", {stale} STALE; clock synced again from a response: "
                            f"{'yes' if synced else 'NO'}")

    def _backend_last_seq(self, device_id: str) -> int:
        """What GET /devices/<id> says as last_seq (provisioning image's seq_floor)."""
        from backend.models import Device

        with self.app.app_context():
            last_seq = db.session.get(Device, device_id).last_seq
            db.session.rollback()
        return int(last_seq)

    def fault_reflash(self) -> None:
        """Issue 15 item 2: a terminal's flash erased and provisioned again mid-life, with
        the backend's seq_floor, and (two terminals) without it: their new requests reuse
        old ids and seqs; ID_REUSED / REPLAY name last_seq, the terminal raises its floor
        and re-issues, online and from the journal. No sale may get another's answer."""
        result = self._phase("reflash mid-life, with and without seq_floor")
        count = len(self.tills)
        with_floor, online, offline = (self.tills[(1 + n) % count] for n in range(3))
        reissued_before = sum(till.reissued for till in self.tills)
        floor_reissued_before = with_floor.reissued
        floors = []

        def reflash_with_floor() -> None:
            # Read while the terminal is off (between its sales, nothing in flight), as the
            # technician's `provisioning image` does.
            floors.append(self._backend_last_seq(with_floor.device_id))
            with_floor.reflash(floors[0])

        with_floor.do(reflash_with_floor, with_floor.journal_empty)
        online.do(lambda: online.reflash(None), online.journal_empty)

        def offline_reflash() -> None:
            offline.reflash(None)
            offline.link.up = False

        offline.do(offline_reflash, offline.journal_empty)
        for till in (with_floor, online, offline):
            till.wait_actions(self, DRAIN_TIMEOUT_S)
        journaled = self._journal_offline(offline, 2, self.durations.offline_s / 4)
        offline.link.up = True
        self._wait_verdicts(journaled)
        self._settle()
        reissued = sum(till.reissued for till in self.tills) - reissued_before
        self.evidence["reflash reissued"] = reissued
        if with_floor.reissued != floor_reissued_before:
            # With the backend's floor, no seq the backend knows may be used again.
            self.fault_errors.append(f"{with_floor.device_id}: reflashed with seq_floor, "
                                     "yet a request reused an old seq")
        result.notes.append(
            f"{with_floor.device_id} reflashed with seq_floor {floors[0]}; {online.device_id} "
            f"and {offline.device_id} (offline, {len(journaled)} sales journaled) without: "
            f"{reissued} requests answered ID_REUSED/REPLAY and re-issued above last_seq")

    def fault_client_id_takeover(self) -> None:
        """Issue 17 item 2: a terminal's credentials log in again and again claiming a
        worker's client id and another terminal's, while the others sell. The broker
        binds the id to the account: the workers and that terminal stay connected and
        every request of another terminal is answered."""
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        from backend.broker import backend_client_id

        result = self._phase("client-id takeover: a terminal's login claims other ids")
        self._settle(1)
        config = json.loads((self.instance_dir / "devices" / INTRUDER_DEVICE / "config.json")
                            .read_text())
        victim = self.tills[1 % len(self.tills)]
        claimed = [backend_client_id(self.workers[0].client_id), self.workers[1].client_id,
                   victim.device_id]
        worker_connects = self.worker_log_count("worker connected")
        victim_connects = victim.connects
        accepted = 0
        asked, answered = 0, 0
        for attempt in range(self.durations.takeover_logins):
            connected = threading.Event()
            client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                 client_id=claimed[attempt % len(claimed)], clean_session=True)
            client.username_pw_set(config["mqtt"]["user"], config["mqtt"]["password"])
            outcome = []

            def on_connect(client, userdata, flags, reason_code, properties, outcome=outcome,
                           connected=connected):
                outcome.append(not reason_code.is_failure)
                connected.set()

            client.on_connect = on_connect
            client.connect("127.0.0.1", self.broker.port, keepalive=30)
            client.loop_start()
            connected.wait(5)
            accepted += bool(outcome and outcome[0])
            # Another terminal's sale while the intruder holds its session.
            sale = self.raw.sale(self.rng.choice(self.cards),
                                 self.rng.randrange(10_000, 900_000, 1000))
            asked += 1
            answered += sale.outcome != "no_connection"
            client.disconnect()
            client.loop_stop()
            self._check_tills()
        self._settle(2)
        worker_reconnects = self.worker_log_count("worker connected") - worker_connects
        victim_reconnects = victim.connects - victim_connects
        self.evidence["takeover logins"] = accepted
        self.evidence["takeover answered"] = answered
        self.evidence["takeover worker reconnects"] = worker_reconnects
        if worker_reconnects:
            self.fault_errors.append(f"client-id takeover: the workers reconnected "
                                     f"{worker_reconnects} times")
        if victim_reconnects:
            self.fault_errors.append(f"client-id takeover: {victim.device_id} was thrown off "
                                     f"{victim_reconnects} times")
        if answered != asked:
            self.fault_errors.append(f"client-id takeover: {asked - answered} of {asked} "
                                     f"requests of {RAW_DEVICE} unanswered")
        result.notes.append(
            f"{self.durations.takeover_logins} logins as {INTRUDER_DEVICE} claiming "
            f"{', '.join(claimed)} ({accepted} accepted); workers "
            f"reconnected {worker_reconnects} times, {victim.device_id} "
            f"{victim_reconnects}; {answered} of {asked} sales of {RAW_DEVICE} answered")
        self._settle()

    def fault_poison_burst(self) -> None:
        """Issue 17 item 1: signed poison frames from one terminal while the others sell,
        and a worker killed mid-burst and restarted (the broker hands back what it had not
        acknowledged)."""
        result = self._phase("poison frames from one terminal, worker restarted mid-burst")
        self._settle(1)
        crashes_before = self.worker_log_count("request failed")
        bodies = self.raw.poison_burst(self.durations.poison_rounds)
        worker = self.workers[0]
        worker.kill()
        worker.start()
        got = self.raw.collect(len(bodies), timeout_s=30)
        ids = {reply["id"] for reply in got} - {None}
        codes = Counter(reply["code"] for reply in got)
        crashes = self.worker_log_count("request failed") - crashes_before
        self.evidence["poison answered"] = len(ids)
        self.evidence["poison crashes"] = crashes
        result.notes.append(
            f"{len(bodies)} signed poison frames from {RAW_DEVICE} (JSON 2,000 deep, seq "
            f">= 2^63, 3,000-digit fields); {worker.client_id} killed -9 mid-burst; "
            f"{len(got)} replies ({', '.join(f'{n} {c}' for c, n in sorted(codes.items()))})"
            f", {crashes} worker exceptions")
        self._settle()

    def fault_refused_then_retried(self) -> None:
        """Issue 17 item 3: a refused spend retried after the balance grew stays refused."""
        from backend.models import Card, Member

        result = self._phase("refused spend retried after the balance changed")
        self._settle(1)
        retried = 0
        for index in range(self.durations.refusal_rounds):
            with self.app.app_context():
                card, balance = db.session.execute(
                    select(Card.number, Member.credit_balance_rials)
                    .join(Member, Member.id == Card.member_id)
                    .where(Card.number.in_(self.cards))
                    .order_by(Member.credit_balance_rials, Card.number)
                    .offset(index)).first()
                db.session.rollback()
            refused, _ = self.raw.refused_then_retried(card, balance)
            retried += refused.outcome == "error"
            self._check_tills()
        result.notes.append(f"{retried} spends refused, then their card earned credit and "
                            "each refused frame came again 3 times at once")
        self.evidence["refused then retried"] = retried
        self._settle()

    FAULTS = ("fault_worker_killed", "fault_broker_restart",
              "fault_terminal_offline_power_cut", "fault_duplicates", "fault_database",
              "fault_clock", "fault_poison_burst", "fault_refused_then_retried",
              "fault_power_cut_clock_reset", "fault_reflash", "fault_client_id_takeover")

    def run(self) -> list:
        from tests.chaos import checker

        started = time.monotonic()
        self.set_up()
        try:
            self._phase("warm-up (no fault)")
            for till in self.tills:
                till.start()
            self._settle(2)
            for fault in self.FAULTS:
                getattr(self, fault)()
            self.drain()
            self.elapsed_s = time.monotonic() - started
            return checker.check(self)
        finally:
            self.tear_down()

    def drain(self) -> None:
        """Stop selling and wait until every terminal is idle with an empty journal."""
        for till in self.tills:
            till.selling = False
        deadline = time.monotonic() + DRAIN_TIMEOUT_S
        while not all(till.idle for till in self.tills):
            if time.monotonic() > deadline:
                busy = [(t.device_id, t.sim.app.state, t.sim.app.queued()) for t in self.tills
                        if not t.idle]
                raise RuntimeError(f"terminals did not drain: {busy}")
            self._wait(0.2)
        self._wait(1)  # late duplicate deliveries

    def tear_down(self) -> None:
        for till in self.tills:
            till.close()
        if self.raw is not None:
            self.raw.terminal.__exit__()
        for worker in self.workers:
            worker.stop()
        if self.broker is not None:
            self.broker.stop()
        for module, attribute, value in getattr(self, "_restore", []):
            setattr(module, attribute, value)
        if self.app is not None:
            with self.app.app_context():
                db.engine.dispose()
        if self.database is not None:
            self.database.drop()

    def worker_log_count(self, text: str) -> int:
        return sum(worker.log_path.read_text(errors="replace").count(text)
                   for worker in self.workers)

    def all_sales(self) -> list[Sale]:
        sales = [sale for till in self.tills for sale in till.sales]
        return sales + (self.raw.sales if self.raw else [])
