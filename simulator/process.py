"""A simulated terminal that can take a firmware update: its own process, booted through
the board's loader (firmware/main.py: begin, trial counting, revert), with the firmware
code from ``data_dir/fw/<active>`` (a ``provisioning build --source`` build) when
boot.json names one, else the repo's ``firmware/``. A reboot re-executes the process
(same pid), since Python caches imported modules per process.

    python -m simulator.process --config instance/devices/t01/config.json --data DIR

Runs headless until SIGTERM/SIGINT (then it publishes its offline state and exits 0) or
``--max-s``. Firmware log lines go to ``--log`` (default DIR/terminal.log), appended
across reboots, each boot starting with a ``[boot] n=… active=… trial=…`` line.
``TerminalProcess`` starts and stops one from a test and reads its log.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from simulator.shim import FIRMWARE_DIR

LOOP_S = 0.02  # the firmware's LOOP_MS
MAX_LOG_BYTES = 4 * 1024 * 1024  # the log is cut back to its tail beyond this
EXIT_STOPPED = 0
EXIT_BROKEN = 3  # the factory (or a confirmed) firmware failed: nothing to revert to
# The boots of one process (a reboot re-executes it): not a setting, so not VAFA_*.
BOOT_COUNT = "SIMULATOR_BOOT_COUNT"


def load_loader():
    """The loader module (firmware/main.py) without running its board entry."""
    spec = importlib.util.spec_from_file_location("vafa_loader", FIRMWARE_DIR / "main.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Log:
    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > MAX_LOG_BYTES:
            tail = path.read_bytes()[-MAX_LOG_BYTES // 2:]
            path.write_bytes(tail)
        self.f = open(path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 (lives long)

    def __call__(self, line: str) -> None:
        self.f.write(f"{time.time():.3f} {line}\n")


STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def _reexec(argv: list[str]) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    # Blocked across the exec (the mask survives it): a stop asked while the new image
    # starts waits for run() to install its handlers instead of killing it half-way.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    os.execv(sys.executable, [sys.executable, "-m", "simulator.process", *argv])


def run(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="python -m simulator.process")
    p.add_argument("--config", type=Path, required=True)
    p.add_argument("--data", type=Path, required=True, help="the terminal's flash")
    p.add_argument("--log", type=Path, default=None)
    p.add_argument("--max-s", type=float, default=None, help="exit after this long")
    a = p.parse_args(argv)
    # First: a stop asked while the firmware is still being imported ends the run cleanly.
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(True))
    signal.signal(signal.SIGINT, lambda *_: stop.append(True))
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)  # blocked by _reexec
    data = a.data.resolve()
    data.mkdir(parents=True, exist_ok=True)
    log = _Log(a.log or data / "terminal.log")
    loader = load_loader()
    root = str(data)
    boot, path = loader.begin(root)  # counts a trial boot, reverts a spent one
    if path is not None:
        sys.path.insert(0, path)  # before the repo's firmware/ (the shim's entry)
    trial = boot is not None and boot["trial"]
    boots = int(os.environ.get(BOOT_COUNT, "1"))
    log(f"[boot] n={boots} active={boot['active'] if boot else ''}"
        f" trial={str(trial).lower()} code={path or FIRMWARE_DIR}")
    os.environ[BOOT_COUNT] = str(boots + 1)

    def failed(e: BaseException) -> int:
        text = loader.error_text(e)
        log(f"[boot] failed: {text}")
        if loader.on_failure(root, boot, text):
            log("[boot] reverted; rebooting")
            _reexec(argv)
        return EXIT_BROKEN

    try:
        from vafa.version import VERSION

        from simulator.terminal import SimTerminal

        term = SimTerminal(a.config, data, log=log, fw_root=root)
    except Exception as e:  # an import error of a broken build, a bad config
        return failed(e)
    log(f"[boot] running {VERSION}")
    reboot = []
    term.app.on_reboot = lambda: reboot.append(True)
    started = time.monotonic()
    try:
        while not stop and not reboot:
            term.step()
            up = time.monotonic() - started
            if trial and up >= boot["trial_s"]:
                trial = False
                if loader.trial_expired(root, boot):
                    log(f"[boot] trial not confirmed in {boot['trial_s']} s: reverted")
                    reboot.append(True)
            if a.max_s is not None and up >= a.max_s:
                break
            time.sleep(LOOP_S)
    except Exception as e:  # MAX_CRASHES handler crashes in a row: the board resets
        term.close()
        return failed(e)
    term.close()
    if reboot:
        log("[boot] reboot")
        _reexec(argv)
    log("[boot] stopped")
    return EXIT_STOPPED


def install_build(build_tar: Path, data_dir: Path) -> str:
    """Put a `provisioning build --source` tar on a simulated terminal's flash as its
    confirmed running build (as if an update had been taken earlier): the files under
    ``data_dir/fw/<ver>/``, boot.json naming it, not on trial. Returns the version."""
    import json

    from provisioning import ota_build

    raw, files = ota_build.read_build(build_tar)
    manifest = json.loads(raw)
    if manifest["kind"] != "py":
        raise ota_build.BuildError("the simulator runs `--source` (kind py) builds only")
    ver = manifest["version"]
    target = Path(data_dir) / "fw" / ver
    for path, content in files.items():
        (target / path).parent.mkdir(parents=True, exist_ok=True)
        (target / path).write_bytes(content)
    boot = Path(data_dir) / "fw" / "boot.json"
    tmp = boot.with_name("boot.tmp")
    tmp.write_text(json.dumps({"active": ver, "prev": "", "trial": False, "boots": 0,
                               "trial_s": 180}))
    tmp.replace(boot)
    return ver


class TerminalProcess:
    """One simulated terminal process for a test: ``start()``, ``wait_log(text)``,
    ``stop()``. ``data_dir`` is its flash (fw/, journal, seq), kept between runs."""

    def __init__(self, config: Path, data_dir: Path, log: Path | None = None,
                 env: dict | None = None):
        self.config = Path(config)
        self.data_dir = Path(data_dir)
        self.log_path = Path(log) if log else self.data_dir / "terminal.log"
        self.stderr_path = self.data_dir / "terminal.stderr"
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> TerminalProcess:
        root = Path(__file__).resolve().parents[1]
        env = {**os.environ, **(self.env or {})}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
        env.pop(BOOT_COUNT, None)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # A file, not a pipe: nobody reads a pipe while the terminal runs.
        with open(self.stderr_path, "ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "simulator.process", "--config", str(self.config),
                 "--data", str(self.data_dir), "--log", str(self.log_path)],
                cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=err)
        return self

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def wait_log(self, text: str, timeout_s: float, count: int = 1) -> bool:
        """True once ``text`` is in the log ``count`` times (polled, bounded)."""
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.log_text().count(text) >= count:
                return True
            if self.proc is not None and self.proc.poll() is not None:
                return self.log_text().count(text) >= count
            time.sleep(0.05)
        return False

    def boot_json(self) -> dict | None:
        import json

        try:
            return json.loads((self.data_dir / "fw" / "boot.json").read_text())
        except (OSError, ValueError):
            return None

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout_s``; the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout_s)
        return self.proc.returncode

    def stderr_text(self) -> str:
        try:
            return self.stderr_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def __enter__(self) -> TerminalProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
