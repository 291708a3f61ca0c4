"""`make run` (`flask up`) supervises its children (issue 17.8): a killed MQTT worker is
logged and started again, answers a terminal's lookup, and nothing else stops; only
SIGINT (Ctrl-C) stops everything."""

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from backend.supervise import restart_delay_s
from tests.support.broker import free_port
from tests.support.stack import FakeTerminal

START_TIMEOUT_S = 60
RESTART_TIMEOUT_S = 20
STARTED = re.compile(r"started (?P<name>[\w-]+) \(pid (?P<pid>\d+)\)")


class Output:
    """The `up` process's lines, read by a thread; waited for with bounded timeouts."""

    def __init__(self, process: subprocess.Popen):
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(process.stdout,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: re.Pattern | str, timeout_s: float) -> re.Match:
        pattern = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"no line matching {pattern.pattern!r}; got:\n" + "\n".join(
                self.seen[-40:])
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(line)
            match = pattern.search(line)
            if match:
                return match


def test_restart_delays_grow_and_are_bounded():
    assert [restart_delay_s(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


@pytest.fixture
def up(tmp_path):
    instance = tmp_path / "instance"
    mqtt_port, web_port, metrics_port = free_port(), free_port(), free_port()
    env = {**os.environ, "VAFA_INSTANCE_DIR": str(instance),
           "DATABASE_URL": f"sqlite:///{instance / 'vafa.sqlite3'}",
           "VAFA_MQTT_PORT": str(mqtt_port), "VAFA_WEB_PORT": str(web_port),
           "VAFA_WORKER_METRICS_PORT": str(metrics_port), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen([sys.executable, "-m", "flask", "--app", "backend", "up",
                                "--web-workers", "1"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    output = Output(process)
    try:
        yield process, output, instance, mqtt_port
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def answered_lookup(terminal: FakeTerminal, seq: int, timeout_s: float) -> int:
    """Send lookups until one is answered OK (each waits for its reply, at most 3 s): a
    worker that has just started may not have subscribed yet. Returns the next seq."""
    deadline = time.monotonic() + timeout_s
    while True:
        terminal.send(terminal.request(seq, op="lookup", amount=None, use_credit=None))
        reply = terminal.wait_reply(timeout_s=3)
        seq += 1
        if reply is not None:
            assert reply.get("ok") is True, reply
            return seq
        assert time.monotonic() < deadline, "no worker answered"


def test_a_killed_worker_is_started_again_and_answers(up):
    process, output, instance, mqtt_port = up
    pids = {}
    while len(pids) < 4:
        match = output.wait_for(STARTED, START_TIMEOUT_S)
        pids[match["name"]] = int(match["pid"])
    output.wait_for("Vafa is running", START_TIMEOUT_S)
    config = json.loads((instance / "devices" / "t01" / "config.json").read_text())
    with FakeTerminal(config, mqtt_port) as terminal:
        seq = answered_lookup(terminal, 1, START_TIMEOUT_S)
        os.kill(pids["mqtt-worker"], signal.SIGKILL)
        output.wait_for(r"mqtt-worker exited with code -9 .* restarting in 1 s",
                        RESTART_TIMEOUT_S)
        again = output.wait_for(r"started mqtt-worker \(pid (?P<pid>\d+)\)", RESTART_TIMEOUT_S)
        assert int(again["pid"]) != pids["mqtt-worker"]
        assert process.poll() is None  # the broker, the jobs and the web went on
        answered_lookup(terminal, seq, RESTART_TIMEOUT_S)  # the new worker answers
    process.send_signal(signal.SIGINT)
    assert process.wait(30) == 0
    for pid in (pids["mosquitto"], pids["web"], pids["jobs"], int(again["pid"])):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
