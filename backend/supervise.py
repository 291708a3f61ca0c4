"""`make run`: everything a newcomer needs, started together and stopped by Ctrl-C.

The broker, the MQTT worker, the jobs process and the web are supervised: one that dies
is logged and started again with exponential backoff (issue 17.8); only Ctrl-C (SIGINT)
or SIGTERM stops them all. Production runs the same processes under systemd instead
(deploy/systemd/), which restarts them the same way."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import click
import flask_migrate
from flask import Flask

from backend.extensions import db

PORT_WAIT_S = 10
SHUTDOWN_WAIT_S = 5
DEFAULT_WORKER_METRICS_PORT = 9108  # skipped (no worker metrics) when the port is taken
# A crashed child is started again after 1, 2, 4 … s (at most 30 s); one that ran a
# minute before dying starts again from 1 s.
RESTART_FIRST_DELAY_S = 1.0
RESTART_MAX_DELAY_S = 30.0
STABLE_AFTER_S = 60.0
SUPERVISE_POLL_S = 0.2
MOSQUITTO_CANDIDATES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def find_mosquitto() -> str:
    found = shutil.which("mosquitto") or next(
        (path for path in MOSQUITTO_CANDIDATES if Path(path).exists()), None
    )
    if found is None:
        raise click.ClickException(
            "Mosquitto is not installed: install the Debian package `mosquitto` "
            "(sudo apt-get install mosquitto) and run again."
        )
    return found


def port_open(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((host, port)) == 0


def wait_for_port(host: str, port: int, process: subprocess.Popen, name: str) -> None:
    deadline = time.monotonic() + PORT_WAIT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise click.ClickException(f"{name} exited with code {process.returncode}")
        if port_open(host, port):
            return
        time.sleep(0.1)
    raise click.ClickException(f"{name} did not open {host}:{port} in {PORT_WAIT_S} s")


def prepare(app: Flask) -> bool:
    """Migrate the database, seed the demo club when empty, write the broker files.
    Returns whether the database holds the demo club (whose logins the banner shows)."""
    from datetime import UTC, datetime

    from backend.services import demo, devices

    flask_migrate.upgrade(directory=str(Path(__file__).parent / "migrations"), revision="heads")
    if not demo.club_exists(db.session):
        result = demo.seed_demo(db.session, datetime.now(UTC))
        devices.write_terminal_configs(db.session, result.terminals, app.config)
        click.echo(f"Created the demo club: {result.member_count} members, 2 terminals.")
    devices.write_broker_config_for(db.session, app.config)
    from backend.models import the_club

    club = the_club(db.session)
    is_demo = club is not None and club.is_demo
    db.session.rollback()
    return is_demo


@dataclass
class Child:
    """One supervised process: restarted with exponential backoff when it dies."""

    name: str
    argv: list[str]
    env: dict
    process: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0  # deaths in a row, each within STABLE_AFTER_S of its start
    restart_at: float | None = None

    def start(self) -> subprocess.Popen:
        # Own process group: Ctrl-C reaches us once and we stop the children in order.
        self.process = subprocess.Popen(self.argv, env=self.env, start_new_session=True)
        self.started_at, self.restart_at = time.monotonic(), None
        click.echo(f"started {self.name} (pid {self.process.pid})")
        return self.process

    def check(self, now: float) -> None:
        """Notice a death and schedule the restart; restart when it is due."""
        if self.restart_at is None and self.process.poll() is not None:
            ran_s = now - self.started_at
            self.failures = 1 if ran_s >= STABLE_AFTER_S else self.failures + 1
            delay_s = restart_delay_s(self.failures)
            click.echo(f"{self.name} exited with code {self.process.returncode} after "
                       f"{ran_s:.0f} s; restarting in {delay_s:g} s", err=True)
            self.restart_at = now + delay_s
        if self.restart_at is not None and now >= self.restart_at:
            self.start()


def restart_delay_s(failures: int) -> float:
    """1, 2, 4, … seconds for deaths in a row, at most RESTART_MAX_DELAY_S."""
    return min(RESTART_MAX_DELAY_S, RESTART_FIRST_DELAY_S * 2 ** max(0, failures - 1))


def up(app: Flask, web_workers: int) -> int:
    config = app.config
    host, mqtt_port, web_port = config["MQTT_HOST"], config["MQTT_PORT"], config["WEB_PORT"]
    for port, what in ((mqtt_port, "VAFA_MQTT_PORT"), (web_port, "VAFA_WEB_PORT")):
        if port_open("127.0.0.1", port):
            raise click.ClickException(
                f"port {port} is already in use; stop what uses it or set {what}"
            )
    mosquitto = find_mosquitto()
    is_demo = prepare(app)
    env = dict(os.environ)
    children: list[Child] = []
    # A plain flag, not a threading.Event: a signal handler that takes the Event's lock
    # while the main thread holds it (inside Event.wait) would deadlock.
    stopping = [False]

    def start(name: str, argv: list[str]) -> subprocess.Popen:
        child = Child(name, argv, env)
        children.append(child)
        return child.start()

    def stop_all() -> None:
        running = [child.process for child in reversed(children)
                   if child.process is not None and child.process.poll() is None]
        for process in running:
            process.terminate()
        deadline = time.monotonic() + SHUTDOWN_WAIT_S
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()

    def on_signal(_signum, _frame):
        stopping[0] = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        from backend.services.devices import broker_dir

        broker_conf = broker_dir(config) / "mosquitto.conf"
        wait_for_port(host, mqtt_port, start("mosquitto", [mosquitto, "-c", str(broker_conf)]),
                      "mosquitto")
        worker_argv = [sys.executable, "-m", "flask", "--app", "backend", "mqtt-worker"]
        metrics_port = config.get("WORKER_METRICS_PORT") or DEFAULT_WORKER_METRICS_PORT
        if not port_open("127.0.0.1", metrics_port):
            worker_argv += ["--metrics-port", str(metrics_port)]
            config["WORKER_METRICS_PORT"] = metrics_port  # for the banner
        start("mqtt-worker", worker_argv)
        start("jobs", [sys.executable, "-m", "flask", "--app", "backend", "jobs"])
        gunicorn = start("web", [
            sys.executable, "-m", "gunicorn", "--workers", str(web_workers),
            "--bind", f"127.0.0.1:{web_port}", "--access-logfile", "-",
            "backend.wsgi:app",
        ])
        wait_for_port("127.0.0.1", web_port, gunicorn, "gunicorn")
        print_banner(config, is_demo)
        # Until Ctrl-C (or SIGTERM): a child that dies is restarted, with backoff.
        while not stopping[0]:
            now = time.monotonic()
            for child in children:
                child.check(now)
            time.sleep(SUPERVISE_POLL_S)  # a signal is acted on within this
        click.echo("\nStopping…")
        return 0
    finally:
        stop_all()


def print_banner(config, is_demo: bool = True) -> None:
    from backend.services.demo import DEMO_LOGINS, DEMO_REFUND_PIN

    click.echo(
        "\n"
        f"  Vafa is running.\n"
        f"  Web panel:      http://127.0.0.1:{config['WEB_PORT']}/\n"
        + (f"  Demo logins:    admin / {DEMO_LOGINS['admin']}    "
           f"operator / {DEMO_LOGINS['operator']}\n"
           f"  Refund PIN:     {DEMO_REFUND_PIN} (both demo branches)\n" if is_demo else
           "  Sign in with your club's own admin (not the demo).\n") +
        f"  MQTT broker:    {config['MQTT_HOST']}:{config['MQTT_PORT']} (instance/mosquitto)\n"
        "  Messages:       instance/outbox/sms.log (console provider; the jobs process sends)\n"
        f"  Metrics:        http://127.0.0.1:{config['WEB_PORT']}/metrics"
        + (f" and the worker's http://127.0.0.1:{config['WORKER_METRICS_PORT']}/metrics\n"
           if config.get("WORKER_METRICS_PORT") else "\n") +
        "  Try a purchase from a second shell:\n"
        "    .venv/bin/python -m simulator --headless --device t01 "
        "--scan 9900010000000019 --amount 250000\n"
        "  Ctrl-C stops everything.\n"
    )
