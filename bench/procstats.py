"""CPU and peak memory of the processes under test (workers, broker, echo consumer)."""

from __future__ import annotations

import time
from pathlib import Path

import psutil


def peak_rss_bytes(pid: int) -> int | None:
    """VmHWM: the process's peak resident set size so far (Linux)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return psutil.Process(pid).memory_info().rss
    except psutil.Error:
        return None


class CpuMeter:
    """CPU seconds (user + system) each process used between start() and stop(), as a
    percentage of one core over the wall time."""

    def __init__(self, pids: dict[str, int]):
        self.processes = {name: psutil.Process(pid) for name, pid in pids.items()}
        self.before: dict[str, float] = {}
        self.started = 0.0

    @staticmethod
    def _cpu_s(process: psutil.Process) -> float:
        try:
            times = process.cpu_times()
            return times.user + times.system
        except psutil.Error:
            return 0.0

    def start(self) -> None:
        self.started = time.perf_counter()
        self.before = {name: self._cpu_s(p) for name, p in self.processes.items()}

    def stop(self) -> dict[str, float]:
        wall_s = max(time.perf_counter() - self.started, 1e-9)
        return {name: round((self._cpu_s(p) - self.before[name]) / wall_s * 100, 1)
                for name, p in self.processes.items()}
