"""What one benchmark run stands up: a database with a seeded club, registered terminals
and members, the project's generated Mosquitto config on a free port, worker processes
(`flask --app backend mqtt-worker`) and the echo consumer, all on this machine.

Every wait has a bound; `tear_down` stops what was started and drops the database.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from simulator.load import TerminalSpec

PROJECT_ROOT = Path(__file__).resolve().parents[1]
BROKER_PASSWORD = "bench-backend-password"
PROCESS_START_S = 30
BENCH_CARD_PREFIX = "990007"  # seeded members' cards; outside the demo's issuer range
DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def postgres_server_url() -> str:
    """BENCH_DATABASE_URL (any database on the server; the run creates its own)."""
    return os.environ.get("BENCH_DATABASE_URL") or DEFAULT_POSTGRES_URL


def postgres_unreachable_reason() -> str | None:
    try:
        engine = create_engine(postgres_server_url(), connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as error:  # any failure means: skip PostgreSQL, loudly
        return f"{make_url(postgres_server_url()).render_as_string()}: " \
               f"{str(error).splitlines()[0]}"


class ManagedProcess:
    """A child process with a log file, started and waited for until a log line shows."""

    def __init__(self, argv: list[str], env: dict, log_path: Path, ready_text: str):
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.ready_text = ready_text
        self.process: subprocess.Popen | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def start(self) -> ManagedProcess:
        with self.log_path.open("w") as log:
            self.process = subprocess.Popen(self.argv, env=self.env, stdout=log,
                                            stderr=subprocess.STDOUT, cwd=PROJECT_ROOT)
        deadline = time.monotonic() + PROCESS_START_S
        while self.ready_text not in self.log_path.read_text(errors="replace"):
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.argv[2:5]} exited: "
                                   f"{self.log_path.read_text(errors='replace')[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.argv[2:5]} not ready after {PROCESS_START_S} s: "
                                   f"see {self.log_path}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


class BenchStack:
    """One database kind ("sqlite" or "postgresql") with its broker and processes."""

    def __init__(self, kind: str, workdir: Path, *, terminals: int, members_per_terminal: int):
        assert kind in ("sqlite", "postgresql"), kind
        self.kind = kind
        self.workdir = workdir
        self.terminal_count = terminals
        self.members_per_terminal = members_per_terminal
        self.instance_dir = workdir / "instance"
        self.database_name: str | None = None
        self.app = None
        self.broker = None
        self.processes: list[ManagedProcess] = []
        self.configs: list[dict] = []
        self.cards: list[str] = []
        self.next_seqs: dict[str, int] = {}
        self.seed_s = 0.0

    # -- set-up ------------------------------------------------------------------------
    def _database_url(self) -> str:
        if self.kind == "sqlite":
            return f"sqlite:///{self.workdir / 'vafa.sqlite3'}"
        server = make_url(postgres_server_url())
        self.database_name = f"vafa_bench_{os.getpid()}_{int(time.time())}"
        admin = create_engine(server, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{self.database_name}"'))
        admin.dispose()
        return server.set(database=self.database_name).render_as_string(hide_password=False)

    def set_up(self) -> None:
        import flask_migrate

        from backend import create_app
        from backend.config import Config
        from backend.extensions import db
        from backend.services import demo, devices
        from backend.unit_of_work import SYSTEM
        from card_spec import make_card_number
        from tests.support.broker import MosquittoProcess, free_port

        started = time.monotonic()
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        self.url = self._database_url()
        self.broker = MosquittoProcess(self.workdir / "mosquitto", free_port())
        self.app = create_app(Config(environ={
            "VAFA_INSTANCE_DIR": str(self.instance_dir), "DATABASE_URL": self.url,
            "SECRET_KEY": "bench-secret", "VAFA_MQTT_PASSWORD": BROKER_PASSWORD,
            "VAFA_MQTT_PORT": str(self.broker.port),
            "VAFA_MQTT_BACKEND_PORT": str(self.broker.backend_port)}))
        now = datetime.now(UTC)
        with self.app.app_context():
            flask_migrate.upgrade(directory=str(PROJECT_ROOT / "backend/migrations"),
                                  revision="heads")
            demo.seed_demo(db.session, now, history=False)
            credentials = [devices.register_device(db.session, actor=SYSTEM,
                                                   device_id=f"bench-{n:03d}",
                                                   branch_id=1 + n % 2)
                           for n in range(self.terminal_count)]
            self.configs = [devices.terminal_config(
                db.session, each, mqtt_host="127.0.0.1", mqtt_port=self.broker.port)
                for each in credentials]
            self.cards = self._seed_members(db.session, make_card_number, now)
            devices.write_broker_config(
                db.session, self.broker.config_dir, port=self.broker.port,
                backend_port=self.broker.backend_port,
                backend_username=self.app.config["MQTT_USERNAME"],
                backend_password=BROKER_PASSWORD)
            db.session.rollback()
            db.engine.dispose()
        self.next_seqs = {config["device_id"]: 1 for config in self.configs}
        self.seed_s = time.monotonic() - started

    def _seed_members(self, session, make_card_number, now) -> list[str]:
        """Members (with the club's welcome credit) through the members service."""
        from backend.services.members import register_member
        from backend.unit_of_work import SYSTEM

        cards = []
        for serial in range(1, self.terminal_count * self.members_per_terminal + 1):
            card = make_card_number(BENCH_CARD_PREFIX, serial)
            register_member(session, actor=SYSTEM, first_name="Bench", last_name=f"Member {serial}",
                            mobile=f"0936{serial:07d}", card_number=card, now=now,
                            branch_id=1)
            cards.append(card)
        return cards

    def start_broker(self) -> None:
        """A fresh broker: no sessions or queues left from an earlier configuration."""
        self.stop_broker()
        shutil.rmtree(self.broker.config_dir / "data", ignore_errors=True)
        (self.broker.config_dir / "data").mkdir()
        self.broker.start()  # the generated config, unchanged

    def stop_broker(self) -> None:
        if self.broker is not None:
            self.broker.stop()

    def terminal_specs(self) -> list[TerminalSpec]:
        """Terminal i sells to its own members (no two terminals share a member), so
        credit spending measures the engine, not lock queues on one member."""
        per = self.members_per_terminal
        return [TerminalSpec.from_config(config, self.cards[i * per:(i + 1) * per],
                                         self.next_seqs[config["device_id"]])
                for i, config in enumerate(self.configs)]

    def remember_seqs(self, next_seqs: dict[str, int]) -> None:
        self.next_seqs.update(next_seqs)

    def _env(self) -> dict:
        env = dict(os.environ, DATABASE_URL=self.url, VAFA_INSTANCE_DIR=str(self.instance_dir),
                   SECRET_KEY="bench-secret", VAFA_MQTT_PASSWORD=BROKER_PASSWORD,
                   VAFA_MQTT_PORT=str(self.broker.port),
                   VAFA_MQTT_BACKEND_PORT=str(self.broker.backend_port))
        env.pop("TEST_DATABASE_URL", None)
        return env

    def start_workers(self, count: int, label: str) -> list[ManagedProcess]:
        env = self._env()
        # One worker may subscribe plainly (PROTOCOL.md); several share the subscription.
        env["VAFA_MQTT_SHARED"] = "1" if count > 1 or self.kind == "postgresql" else "0"
        workers = [ManagedProcess(
            [sys.executable, "-m", "flask", "--app", "backend", "mqtt-worker",
             "--client-id", f"bench-{label}-{n}"], env,
            self.workdir / f"worker-{label}-{n}.log", "subscribed ").start()
            for n in range(1, count + 1)]
        self.processes.extend(workers)
        return workers

    def start_echo(self) -> ManagedProcess:
        echo = ManagedProcess(
            [sys.executable, "-m", "bench.echo", "--port", str(self.broker.backend_port),
             "--username", self.app.config["MQTT_USERNAME"], "--password", BROKER_PASSWORD],
            self._env(), self.workdir / "echo.log", "echo: subscribed").start()
        self.processes.append(echo)
        return echo

    def stop_processes(self) -> None:
        for process in self.processes:
            process.stop()
        self.processes = []

    def tear_down(self) -> None:
        self.stop_processes()
        self.stop_broker()
        if self.database_name is not None:
            admin = create_engine(make_url(postgres_server_url()),
                                  isolation_level="AUTOCOMMIT")
            with admin.connect() as connection:
                connection.execute(text(
                    f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)'))
            admin.dispose()
            self.database_name = None
