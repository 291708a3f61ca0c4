"""A real Mosquitto process for tests, configured with the project's generated files."""

import socket
import subprocess
from pathlib import Path

from backend.supervise import find_mosquitto
from tests.support.waiting import wait_for

START_TIMEOUT_S = 10


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
