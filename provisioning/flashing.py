"""esptool and mpremote invocations for `flash` and `deploy`.

Commands are built as argument lists and run by a `Runner`; tests give a recording
runner instead of a serial port. `deploy` copies files to a board that already runs
MicroPython and installs the micropython-lib packages of firmware/manifest.py with mip.
"""

import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from provisioning.image import FIRMWARE_OFFSETS

# micropython-lib packages the firmware requires (firmware/manifest.py `require`).
MIP_PACKAGES = ("umqtt.simple", "ssd1306")
DEFAULT_BAUD = 460800

Runner = Callable[[Sequence[str]], int]


def run_command(argv: Sequence[str]) -> int:
    """Run with the technician's terminal attached (progress bars), return the code."""
    return subprocess.run(list(argv), check=False).returncode


def flash_commands(port: str, image: Path, *, chip: str = "esp32",
                   baud: int = DEFAULT_BAUD, erase: bool = True) -> list[list[str]]:
    """Erase the chip, then write the merged image at the chip's firmware offset."""
    esptool = [sys.executable, "-m", "esptool", "--chip", chip, "--port", port,
               "--baud", str(baud)]
    commands = [[*esptool, "erase-flash"]] if erase else []
    commands.append([*esptool, "write-flash", "--flash-size", "detect",
                     hex(FIRMWARE_OFFSETS[chip]), str(image)])
    return commands


def deploy_commands(port: str, files_dir: Path, *,
                    packages: Sequence[str] = MIP_PACKAGES) -> list[list[str]]:
    """mip-install the packages, copy the staged files (config.json last), reset."""
    mpremote = [sys.executable, "-m", "mpremote", "connect", port]
    commands = [[*mpremote, "mip", "install", package] for package in packages]
    entries = sorted(path for path in files_dir.iterdir() if path.name != "config.json")
    for entry in entries:
        if entry.is_dir():
            commands.append([*mpremote, "fs", "cp", "-r", str(entry), ":"])
        else:
            commands.append([*mpremote, "fs", "cp", str(entry), f":{entry.name}"])
    if (files_dir / "config.json").exists():
        commands.append([*mpremote, "fs", "cp", str(files_dir / "config.json"), ":config.json"])
    commands.append([*mpremote, "reset"])
    return commands


def run_all(commands: Sequence[Sequence[str]], runner: Runner = run_command) -> None:
    for argv in commands:
        code = runner(argv)
        if code != 0:
            raise RuntimeError(f"{' '.join(argv[2:4])} … failed with exit code {code}: "
                               f"{' '.join(argv)}")
