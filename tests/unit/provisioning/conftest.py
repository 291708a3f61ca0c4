"""What the provisioning tests share: a terminal config file, MicroPython .bin files
made with esptool's own writer, the CLI runner and a strict fake of a board on a serial
port."""

import json
import tempfile
from pathlib import Path

import pytest
import trustme
from click.testing import CliRunner
from esptool.bin_image import ESP32C3FirmwareImage, ESP32FirmwareImage, ImageSegment

from provisioning import image
from provisioning.cli import cli
from tests.unit.provisioning.test_cli import GOOD


@pytest.fixture
def config_path(tmp_path):
    path = tmp_path / "t05.json"
    path.write_text(json.dumps({**GOOD, "device_id": "t05", "mqtt": {**GOOD["mqtt"],
                                                                      "user": "t05"}}))
    return path


def app_descriptor(version: str) -> bytes:
    """ESP-IDF's esp_app_desc_t as the start of a MicroPython build's first segment."""
    return (image.APP_DESC_MAGIC + b"\0" * 12 + version.encode().ljust(32, b"\0")
            + b"micropython".ljust(32, b"\0") + b"\0" * 160)


def esp_image(image_class, entry, segments) -> bytes:
    """An ESP image made by esptool's own image writer."""
    built = image_class()
    built.entrypoint = entry
    built.segments = []
    for address, data, name in segments:
        segment = ImageSegment(address, data)
        segment.name = name
        built.segments.append(segment)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "image.bin"
        built.save(str(path))
        return path.read_bytes()


def partition_entry(label, type_, subtype, offset, size) -> bytes:
    return (b"\xaa\x50" + bytes([type_, subtype]) + offset.to_bytes(4, "little")
            + size.to_bytes(4, "little") + label.encode().ljust(16, b"\0") + b"\0" * 4)


# MicroPython's partitions-4MiB.csv.
PARTITIONS = [("nvs", 1, 2, 0x9000, 0x6000), ("phy_init", 1, 1, 0xF000, 0x1000),
              ("factory", 0, 0, 0x10000, 0x1F0000), ("vfs", 1, 0x81, 0x200000, 0x200000)]


def firmware_bin(path, *, version="v1.24.1", image_class=ESP32FirmwareImage,
                 partitions=PARTITIONS):
    """A MicroPython .bin as micropython.org ships it (not downloaded in tests): the
    bootloader, the partition table at 0x8000 and the application (its first segment
    starting with the app descriptor) at 0x10000, from the chip's firmware offset."""
    c3 = image_class is ESP32C3FirmwareImage
    base = 0x0 if c3 else 0x1000
    iram = 0x40380000 if c3 else 0x40080000
    bootloader = esp_image(image_class, iram + 0x400, [(iram, b"\x00" * 1024, ".iram")])
    first = app_descriptor(version) if version else b"\x00" * 256
    app = esp_image(image_class, iram + 0x400, [(0x3F400020, first.ljust(1024, b"\x00"),
                                                 ".flash.appdesc"),
                                                (iram, b"\x01" * 512, ".iram")])
    table = b"".join(partition_entry(*entry) for entry in partitions)
    data = bytearray(b"\xff" * (0x10000 - base + len(app)))
    data[:len(bootloader)] = bootloader
    data[0x8000 - base:0x8000 - base + len(table)] = table
    data[0x10000 - base:] = app
    path.write_bytes(bytes(data))
    return path


@pytest.fixture
def micropython_bin(tmp_path):
    return firmware_bin(tmp_path / "micropython.bin")


@pytest.fixture
def ca_pem(tmp_path):
    path = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(path))
    return path


def invoke(*args, obj=None):
    return CliRunner().invoke(cli, [str(arg) for arg in args], obj=obj)


class FakeBoard:
    """A board on a serial port, as strict as SerialBoard: chip() is what esptool would
    find, read_file() the MicroPython filesystem (None when absent), run() records."""

    def __init__(self, chip="esp32", files=None, fail_at=None):
        self._chip, self.files, self.fail_at = chip, dict(files or {}), fail_at
        self.commands, self.read = [], []

    def chip(self) -> str:
        return self._chip

    def read_file(self, path: str) -> bytes | None:
        assert path.startswith("/"), path
        self.read.append(path)
        return self.files.get(path)

    def run(self, argv) -> int:
        self.commands.append(list(argv))
        return 2 if len(self.commands) == self.fail_at else 0
