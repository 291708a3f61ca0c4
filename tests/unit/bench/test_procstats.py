"""CPU and peak memory of the processes under a benchmark (bench/procstats.py), measured
on this test's own process and on a process that has exited."""

import os
import subprocess
import sys
import time

from bench import procstats


def test_peak_memory_is_at_least_what_this_process_holds_now():
    held = bytearray(32 * 1024 * 1024)  # touched, so it is resident
    held[::4096] = b"\x01" * len(held[::4096])
    peak = procstats.peak_rss_bytes(os.getpid())
    assert peak is not None and peak >= len(held)


def test_a_process_that_is_gone_has_no_peak():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait(timeout=30)
    assert procstats.peak_rss_bytes(child.pid) is None


def test_cpu_of_a_busy_process_is_counted_as_a_share_of_one_core():
    meter = procstats.CpuMeter({"self": os.getpid()})
    meter.start()
    # Work, not a wait: the meter must see this process's own CPU seconds.
    started = time.process_time()
    while time.process_time() - started < 0.2:
        sum(range(1000))
    shares = meter.stop()
    assert list(shares) == ["self"]
    # Above zero, not a fixed share: on a loaded machine the wall time stretches.
    assert 0 < shares["self"] <= 100 * os.cpu_count()
