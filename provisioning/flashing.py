"""esptool and mpremote invocations for `flash` and `deploy`, and the checks before them.

Commands are built as argument lists and run through a `Board`: `SerialBoard` talks to a
real board (esptool, mpremote); tests give a fake with the same methods. Before `flash`
erases anything it checks that the file is an ESP firmware image (magic 0xE9, written at
the chip's firmware offset) or a LittleFS filesystem image (written at the filesystem
offset, nothing erased), that the chip esptool finds is the one the image and its pin map
were made for, and that the board's offline journal holds no unsent sales.
"""

import importlib
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from littlefs import LittleFSError

from provisioning.image import (
    CHIP_IDS,
    DEFAULT_FS_OFFSET,
    FIRMWARE_OFFSETS,
    ImageError,
    is_littlefs,
    read_littlefs,
    vfs_partition,
)

DEFAULT_BAUD = 460800
JOURNAL_FILES = ("/data/journal.log", "/data/journal.ack")


class FlashError(Exception):
    """A reason not to touch the board, said for the technician."""


class SerialBoard:
    """A board on a serial port. Every method runs a subprocess; nothing is cached."""

    def __init__(self, port: str):
        self.port = port

    def run(self, argv: Sequence[str]) -> int:
        """Run with the technician's terminal attached (progress bars), return the code."""
        return subprocess.run(list(argv), check=False).returncode

    def chip(self) -> str:
        """The chip esptool finds on the port (`esptool chip-id`), e.g. "esp32c3"."""
        result = subprocess.run([sys.executable, "-m", "esptool", "--port", self.port,
                                 "chip-id"], capture_output=True, text=True, timeout=60)
        found = parse_chip(result.stdout)
        if result.returncode != 0 or found is None:
            raise FlashError(f"esptool found no chip on {self.port}: "
                             f"{(result.stderr or result.stdout).strip()[-300:]}")
        return found

    def read_file(self, path: str) -> bytes | None:
        """A file of the running MicroPython's filesystem (mpremote fs cp): None when it
        does not exist, or when no MicroPython answers (a board flashed for the first
        time: it has no journal). Any other failure is a FlashError: a journal that
        could not be read must not be erased unread."""
        with tempfile.TemporaryDirectory() as folder:
            local = Path(folder) / "copy"
            result = subprocess.run(
                [sys.executable, "-m", "mpremote", "connect", self.port, "fs", "cp",
                 f":{path}", str(local)], capture_output=True, text=True, timeout=120)
            if result.returncode == 0 and local.exists():
                return local.read_bytes()
            said = (result.stderr + result.stdout).strip()
            if any(sign in said for sign in ("No such file", "ENOENT", "could not enter raw "
                                                                       "repl")):
                return None
            raise FlashError(f"could not read {path} from the board ({said[-200:]}); "
                             f"--force flashes without looking at its journal")


def parse_chip(esptool_output: str) -> str | None:
    """The chip in esptool's `Chip type: ESP32-D0WD-V3 (revision v3.1)` (v5),
    `Chip is ESP32-C3 (QFN32)` (v4) or `Detecting chip type... ESP32-S3` line."""
    for line in esptool_output.splitlines():
        line = line.strip()
        for prefix in ("Chip type:", "Chip is", "Detecting chip type..."):
            if line.startswith(prefix) and line[len(prefix):].strip():
                name = line[len(prefix):].split()[0].upper()
                match = re.match(r"ESP32-(S2|S3|C2|C3|C5|C61|C6|H2|P4)", name)
                if match:
                    return "esp32" + match.group(1).lower()
                if name.startswith("ESP32"):
                    return "esp32"  # ESP32-D0WD, -D0WDQ6, -PICO-D4...: the classic ESP32
    return None


def image_kind(data: bytes) -> str:
    """"firmware" (an ESP image: 0xE9 first) or "filesystem" (LittleFS); else FlashError."""
    if data[:1] == b"\xe9":
        return "firmware"
    if is_littlefs(data):
        return "filesystem"
    raise FlashError("not a firmware image (first byte 0xE9) nor a LittleFS filesystem "
                     "image: refusing to write it")


def image_chip(data: bytes) -> str | None:
    """The chip an ESP image header names (extended header, bytes 12-13), if known."""
    if len(data) < 24:
        return None
    chip_id = int.from_bytes(data[12:14], "little")
    for chip, known in CHIP_IDS.items():
        if known == chip_id:
            return chip
    return None


def image_config(data: bytes, kind: str, chip: str, fs_offset: int) -> dict | None:
    """config.json inside a merged image's (or a filesystem image's) LittleFS; None when
    the image carries no filesystem or no config.json. A filesystem that is there but
    unreadable, or a config.json that is not JSON, is a FlashError."""
    start = 0 if kind == "filesystem" else fs_offset - FIRMWARE_OFFSETS[chip]
    filesystem = data[start:]
    if start < 0 or not is_littlefs(filesystem):
        return None
    try:
        text = read_littlefs(filesystem).get("config.json")
    except LittleFSError as error:
        raise FlashError(f"the image's filesystem cannot be read ({error})") from None
    if text is None:
        return None
    try:
        config = json.loads(text)
    except ValueError:
        config = None
    if not isinstance(config, dict):
        raise FlashError("the image's config.json is not a JSON object")
    return config


def unsent_sales(log: bytes | None, ack: bytes | None) -> list[int]:
    """The seqs of the journaled sales not yet answered, read with the firmware's own
    Journal (CPython, via the simulator's MicroPython shim) from copies of the files."""
    if not log:
        return []
    # The simulator's shim puts the firmware on sys.path and provides `micropython`.
    importlib.import_module("simulator")
    Journal = importlib.import_module("vafa.journal").Journal

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "journal.log").write_bytes(log)
        if ack is not None:
            (Path(folder) / "journal.ack").write_bytes(ack)
        return list(Journal(folder).seqs())


def check_before_flash(board, data: bytes, *, chip: str | None, fs_offset: int,
                       force: bool) -> tuple[str, str]:
    """(kind, chip) of a file that may be written, or FlashError saying why not."""
    kind = image_kind(data)
    found = board.chip()
    if chip is not None and chip != found:
        raise FlashError(f"--chip {chip}, but the board on the port is an {found}")
    if kind == "firmware":
        made_for = image_chip(data)
        if made_for is not None and made_for != found:
            raise FlashError(f"the image is for an {made_for}, the board is an {found}")
        try:
            # A whole firmware (bootloader, partition table, application), not an
            # application image alone, which at this offset would replace the bootloader.
            fs_offset = vfs_partition(data, found).offset
        except ImageError as error:
            raise FlashError(str(error)) from None
    config = image_config(data, kind, found, fs_offset)
    if config is not None and config.get("chip", "esp32") != found:
        raise FlashError(f"the image's config.json has the {config.get('chip', 'esp32')} "
                         f"pin map, the board is an {found}: make the image with --chip "
                         f"{found}")
    # Always: a merged image rewrites the filesystem even without erasing first.
    if not force:
        seqs = unsent_sales(*(board.read_file(path) for path in JOURNAL_FILES))
        if seqs:
            raise FlashError(
                f"the board's journal still holds {len(seqs)} unsent sale(s) (seq "
                f"{seqs[0]}..{seqs[-1]}): let it come online and send them first (its "
                f"state's queued reaches 0), or --force to lose them")
    return kind, found


def flash_commands(port: str, image: Path, *, chip: str = "esp32", kind: str = "firmware",
                   baud: int = DEFAULT_BAUD, erase: bool = True,
                   fs_offset: int = DEFAULT_FS_OFFSET) -> list[list[str]]:
    """Erase the chip, then write a firmware image at the chip's firmware offset; a
    filesystem image is written at `fs_offset` and nothing is erased (MicroPython stays)."""
    esptool = [sys.executable, "-m", "esptool", "--chip", chip, "--port", port,
               "--baud", str(baud)]
    offset = FIRMWARE_OFFSETS[chip] if kind == "firmware" else fs_offset
    commands = [[*esptool, "erase-flash"]] if erase and kind == "firmware" else []
    commands.append([*esptool, "write-flash", "--flash-size", "detect", hex(offset),
                     str(image)])
    return commands


def deploy_commands(port: str, files_dir: Path) -> list[list[str]]:
    """Copy the staged files (config.json last), reset. Everything the firmware imports
    that the release lacks is in the files already (`image` checks), so no mip."""
    mpremote = [sys.executable, "-m", "mpremote", "connect", port]
    commands = []
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


def run_all(commands: Sequence[Sequence[str]], board) -> None:
    for argv in commands:
        code = board.run(argv)
        if code != 0:
            raise RuntimeError(f"{' '.join(argv[2:4])} … failed with exit code {code}: "
                               f"{' '.join(argv)}")
