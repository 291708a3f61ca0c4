"""`flash` and `deploy` (provisioning/flashing.py) through CliRunner, the serial board
replaced by a strict fake (its chip, its files, the commands it was given)."""

import json

import pytest
from esptool.bin_image import ESP32C3FirmwareImage, ESP32FirmwareImage

from provisioning import flashing, image
from tests.unit.provisioning.conftest import (
    FakeBoard,
    app_descriptor,
    esp_image,
    firmware_bin,
    invoke,
)
from tests.unit.provisioning.test_cli import GOOD


@pytest.fixture
def flash_bin(tmp_path, config_path, micropython_bin):
    out = tmp_path / "build"
    result = invoke("image", "--config", config_path, "--micropython", micropython_bin,
                    "--out", out, "--seq-floor", "0")
    assert result.exit_code == 0, result.output
    return out / "t05-flash.bin"


def test_flash_erases_then_writes_at_the_chip_offset(flash_bin):
    board = FakeBoard()
    result = invoke("flash", "--port", "/dev/ttyUSB0", "--image", flash_bin, "--baud", "۹۶۰۰",
                    obj={"board": board})
    assert result.exit_code == 0, result.output
    erase, write = board.commands
    assert erase[1:] == ["-m", "esptool", "--chip", "esp32", "--port", "/dev/ttyUSB0",
                         "--baud", "9600", "erase-flash"]
    assert write[-5:] == ["write-flash", "--flash-size", "detect", "0x1000", str(flash_bin)]
    assert board.read == list(flashing.JOURNAL_FILES)  # looked before erasing


def test_flash_writes_a_filesystem_image_at_its_offset_without_erasing(flash_bin):
    """It used to write vfs.littlefs at the bootloader's offset."""
    board = FakeBoard()
    filesystem = flash_bin.with_name("vfs.littlefs")
    result = invoke("flash", "--port", "p", "--image", filesystem, obj={"board": board})
    assert result.exit_code == 0, result.output
    (write,) = board.commands
    assert write[-3:] == ["detect", "0x200000", str(filesystem)]


def test_flash_refuses_what_is_not_an_image(tmp_path):
    for content in (b"\x00" * 4096, b"PK\x03\x04zip", b""):
        path = tmp_path / "x.bin"
        path.write_bytes(content)
        board = FakeBoard()
        result = invoke("flash", "--port", "p", "--image", path, obj={"board": board})
        assert result.exit_code == 1 and "not a firmware image" in result.output
        assert board.commands == []
    # An application image alone: at the firmware offset it would replace the bootloader.
    app_only = tmp_path / "app.bin"
    app_only.write_bytes(esp_image(ESP32FirmwareImage, 0x40080400,
                                   [(0x3F400020, app_descriptor("v1.24.1"), ".appdesc")]))
    board = FakeBoard()
    result = invoke("flash", "--port", "p", "--image", app_only, obj={"board": board})
    assert result.exit_code == 1 and "no partition table" in result.output
    assert board.commands == []


def test_flash_refuses_another_chip_or_pin_map(tmp_path, config_path, flash_bin):
    board = FakeBoard(chip="esp32c3")
    result = invoke("flash", "--port", "p", "--image", flash_bin, obj={"board": board})
    assert result.exit_code == 1 and "is for an esp32, the board is an esp32c3" in result.output
    result = invoke("flash", "--port", "p", "--image", flash_bin, "--chip", "esp32s3",
                    obj={"board": FakeBoard()})
    assert result.exit_code == 1 and "--chip esp32s3, but the board" in result.output
    # An ESP32-C3 build with the ESP32 pin map inside (made by hand, as before the checks).
    c3_bin = firmware_bin(tmp_path / "c3.bin", image_class=ESP32C3FirmwareImage)
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    (wrong / "config.json").write_text(json.dumps({**GOOD, "chip": "esp32"}))
    fs = tmp_path / "fs.bin"
    fs.write_bytes(image.build_littlefs(wrong))
    merged = image.merge(c3_bin, fs, tmp_path / "merged.bin", chip="esp32c3",
                         fs_offset=0x200000)
    board = FakeBoard(chip="esp32c3")
    result = invoke("flash", "--port", "p", "--image", merged, obj={"board": board})
    assert result.exit_code == 1 and "esp32 pin map, the board is an esp32c3" in result.output
    assert board.commands == []


def journal_files(tmp_path, seqs, acked=None):
    from vafa.journal import Journal

    folder = tmp_path / "journal"
    folder.mkdir()
    journal = Journal(str(folder))
    for seq in seqs:
        journal.append(seq, b'{"op":"purchase","amount":250000}')
    for seq in seqs:
        if acked is not None and seq <= acked:
            journal.ack(seq)  # its answer arrived
    return {"/data/" + path.name: path.read_bytes() for path in folder.iterdir()
            if path.name in ("journal.log", "journal.ack")}


def test_flash_refuses_to_erase_unsent_sales(tmp_path, flash_bin):
    board = FakeBoard(files=journal_files(tmp_path, [7, 8, 9]))
    result = invoke("flash", "--port", "p", "--image", flash_bin, obj={"board": board})
    assert result.exit_code == 1 and "3 unsent sale(s) (seq 7..9)" in result.output
    result = invoke("flash", "--port", "p", "--image", flash_bin, "--no-erase",
                    obj={"board": board})
    assert result.exit_code == 1 and "unsent" in result.output  # the image rewrites /data
    assert board.commands == []
    result = invoke("flash", "--port", "p", "--image", flash_bin, "--force",
                    obj={"board": board})
    assert result.exit_code == 0, result.output
    assert board.commands[0][-1] == "erase-flash"


def test_flash_goes_ahead_when_every_sale_was_answered(tmp_path, flash_bin):
    board = FakeBoard(files=journal_files(tmp_path, [7, 8], acked=8))
    result = invoke("flash", "--port", "p", "--image", flash_bin, obj={"board": board})
    assert result.exit_code == 0, result.output
    assert len(board.commands) == 2


def test_flash_reports_a_failing_step(flash_bin):
    result = invoke("flash", "--port", "/dev/ttyUSB9", "--image", flash_bin,
                    obj={"board": FakeBoard(fail_at=1)})
    assert result.exit_code == 1 and "exit code 2" in result.output


def test_esptool_chip_names():
    assert flashing.parse_chip("Chip type:          ESP32-D0WD-V3 (revision v3.1)") == "esp32"
    assert flashing.parse_chip("Chip is ESP32-C3 (QFN32) (revision v0.4)") == "esp32c3"
    assert flashing.parse_chip("Detecting chip type... ESP32-S3\n") == "esp32s3"
    assert flashing.parse_chip("Chip type: ESP32-S2FH4 (revision v0.0)") == "esp32s2"
    assert flashing.parse_chip("A fatal error occurred: No serial data received.") is None


def test_deploy_copies_config_last(tmp_path, config_path):
    files = tmp_path / "files"
    image.stage_files(json.loads(config_path.read_text()), files)
    board = FakeBoard()
    result = invoke("deploy", "--port", "/dev/ttyACM0", "--files", files, "--json",
                    obj={"board": board})
    assert result.exit_code == 0, result.output
    tails = [command[command.index("/dev/ttyACM0") + 1:] for command in board.commands]
    assert not [tail for tail in tails if "mip" in tail]  # the image carries every module
    assert ["fs", "cp", "-r", str(files / "vafa"), ":"] in tails
    assert ["fs", "cp", str(files / "main.py"), ":main.py"] in tails
    assert tails[-2:] == [["fs", "cp", str(files / "config.json"), ":config.json"], ["reset"]]
    assert json.loads(result.output)["commands"] == board.commands


def test_dry_run_only_prints(flash_bin):
    board = FakeBoard()
    result = invoke("flash", "--port", "p", "--image", flash_bin, "--dry-run",
                    obj={"board": board})
    assert result.exit_code == 0 and board.commands == []
    assert "write-flash" in result.output
