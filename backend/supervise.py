"""`make run`: everything a newcomer needs, started together and stopped by Ctrl-C."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import click
import flask_migrate
from flask import Flask

from backend.extensions import db

PORT_WAIT_S = 10
SHUTDOWN_WAIT_S = 5
DEFAULT_WORKER_METRICS_PORT = 9108  # skipped (no worker metrics) when the port is taken
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


def prepare(app: Flask) -> None:
    """Migrate the database, seed the demo club when empty, write the broker files."""
    from datetime import UTC, datetime

    from backend.cli import write_demo
    from backend.services import demo, devices

    flask_migrate.upgrade(directory=str(Path(__file__).parent / "migrations"), revision="heads")
    if not demo.club_exists(db.session):
        result = demo.seed_demo(db.session, datetime.now(UTC))
        write_demo(result)
        click.echo(f"Created the demo club: {result.member_count} members, 2 terminals.")
    devices.write_broker_config(
        db.session, Path(app.config["INSTANCE_DIR"]) / "mosquitto",
        port=app.config["MQTT_PORT"], backend_port=app.config["MQTT_BACKEND_PORT"],
        backend_host=app.config["MQTT_BACKEND_HOST"], backend_username=app.config["MQTT_USERNAME"],
        backend_password=app.config["MQTT_PASSWORD"],
    )
    db.session.rollback()


def up(app: Flask, web_workers: int) -> int:
    config = app.config
    host, mqtt_port, web_port = config["MQTT_HOST"], config["MQTT_PORT"], config["WEB_PORT"]
    for port, what in ((mqtt_port, "VAFA_MQTT_PORT"), (web_port, "VAFA_WEB_PORT")):
        if port_open("127.0.0.1", port):
            raise click.ClickException(
                f"port {port} is already in use; stop what uses it or set {what}"
            )
    mosquitto = find_mosquitto()
    prepare(app)
    env = dict(os.environ)
    processes: list[tuple[str, subprocess.Popen]] = []

    def start(name: str, argv: list[str]) -> subprocess.Popen:
        # Own process group: Ctrl-C reaches us once and we stop the children in order.
        process = subprocess.Popen(argv, env=env, start_new_session=True)
        processes.append((name, process))
        return process

    def stop_all() -> None:
        for _name, process in reversed(processes):
            if process.poll() is None:
                process.terminate()
        deadline = time.monotonic() + SHUTDOWN_WAIT_S
        for _name, process in processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()

    stopping = False

    def on_signal(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        broker_conf = Path(config["INSTANCE_DIR"]) / "mosquitto" / "mosquitto.conf"
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
        print_banner(config)
        while not stopping:
            for name, process in processes:
                if process.poll() is not None:
                    click.echo(f"{name} exited with code {process.returncode}; stopping", err=True)
                    return 1
            time.sleep(0.5)
        click.echo("\nStopping…")
        return 0
    finally:
        stop_all()


def print_banner(config) -> None:
    from backend.services.demo import DEMO_LOGINS

    click.echo(
        "\n"
        f"  Vafa is running.\n"
        f"  Web panel:      http://127.0.0.1:{config['WEB_PORT']}/\n"
        f"  Demo logins:    admin / {DEMO_LOGINS['admin']}    "
        f"operator / {DEMO_LOGINS['operator']}\n"
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
