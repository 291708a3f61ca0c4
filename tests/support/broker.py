"""A real Mosquitto process for tests, configured with the project's generated files."""

import itertools
import os
import random
import socket
import subprocess
from pathlib import Path

from backend.supervise import find_mosquitto
from tests.support.waiting import wait_for

START_TIMEOUT_S = 10


# Ports for the listeners tests start (brokers, web servers, metrics). The kernel's
# ephemeral range is left alone: a port found free there and handed to a broker can
# meanwhile become the local end of any outgoing connection on the machine, and the
# broker exits with "Address already in use" (CI, stop 27). Below that range each xdist
# worker owns a slice, so workers never race each other either.
LOWEST_PORT = 10_000
LOCAL_PORT_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
MAX_PORT_PROBES = 1_000


def _ephemeral_low() -> int:
    try:
        return int(LOCAL_PORT_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def worker_ports(worker: str, worker_count: int, ephemeral_low: int) -> range:
    """The slice of ports below the ephemeral range that xdist worker `worker` owns."""
    index = int(worker.removeprefix("gw") or 0)
    assert 0 <= index < worker_count, (worker, worker_count)
    width = (ephemeral_low - LOWEST_PORT) // worker_count
    assert width >= 100, f"too few ports below {ephemeral_low} for {worker_count} workers"
    start = LOWEST_PORT + index * width
    return range(start, start + width)


def _ports():
    ports = worker_ports(os.environ.get("PYTEST_XDIST_WORKER", "gw0"),
                         int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")),
                         _ephemeral_low())
    # A random first port, so that two test runs on one machine rarely walk together.
    first = random.randrange(len(ports))
    return itertools.cycle([*ports[first:], *ports[:first]])


_next_ports = None


def free_port() -> int:
    """A port nothing listens on, that this process has not handed out lately."""
    global _next_ports
    if _next_ports is None:
        _next_ports = _ports()
    for _ in range(MAX_PORT_PROBES):
        port = next(_next_ports)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue  # another program's, or one of ours still closing
            return port
    raise RuntimeError(f"no free port in {MAX_PORT_PROBES} probes")


class MosquittoProcess:
    """`port` is the terminals' listener, `backend_port` the backend's (a free one unless
    given); the generated mosquitto.conf must name both."""

    def __init__(self, config_dir: Path, port: int, backend_port: int | None = None):
        self.config_dir = config_dir
        self.port = port
        self.backend_port = backend_port or free_port()
        self.process: subprocess.Popen | None = None
        self.log_path = config_dir.parent / "mosquitto.log"

    def start(self) -> "MosquittoProcess":
        assert self.process is None, "broker already started"
        conf = self.config_dir / "mosquitto.conf"
        assert conf.exists(), f"write the broker files into {self.config_dir} first"
        self.log = self.log_path.open("w")
        self.process = subprocess.Popen(
            [find_mosquitto(), "-c", str(conf)], stdout=self.log, stderr=subprocess.STDOUT
        )
        for port in (self.port, self.backend_port):
            wait_for(lambda port=port: self._listens(port), START_TIMEOUT_S,
                     f"mosquitto listens on {port} (log {self.log_path})", interval_s=0.05)
        return self

    def _listens(self, port: int) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"mosquitto exited: {self.log_path.read_text()}")
        with socket.socket() as probe:
            return probe.connect_ex(("127.0.0.1", port)) == 0

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.process is not None:
            self.log.close()
        self.process = None
