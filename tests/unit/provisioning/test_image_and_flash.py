"""`image`, `flash`, `deploy` and `qr` through CliRunner: the LittleFS image is mounted
back with littlefs-python, the merged image checked with `esptool image-info`, serial
ports replaced by a recording runner, QR codes decoded with zxing-cpp."""

import json
import subprocess
import sys

import pytest
import zxingcpp
from click.testing import CliRunner
from esptool.bin_image import ESP32FirmwareImage, ImageSegment
from PIL import Image

import simulator  # noqa: F401  (puts the firmware on sys.path for the setup-image test)
from provisioning import image, qr
from provisioning.cli import cli
from tests.unit.provisioning.test_cli import GOOD


@pytest.fixture
def config_path(tmp_path):
    path = tmp_path / "t05.json"
    path.write_text(json.dumps({**GOOD, "device_id": "t05", "mqtt": {**GOOD["mqtt"],
                                                                      "user": "t05"}}))
    return path


@pytest.fixture
def micropython_bin(tmp_path):
    """A small but valid ESP32 application image made by esptool's own image writer,
    standing in for the MicroPython .bin (which is not downloaded in tests)."""
    firmware = ESP32FirmwareImage()
    firmware.entrypoint = 0x40080400
    segments = [ImageSegment(0x40080000, b"\x00" * 1024), ImageSegment(0x3FFB0000, b"\x01" * 512)]
    for segment, name in zip(segments, (".iram", ".dram"), strict=True):
        segment.name = name
    firmware.segments = segments
    path = tmp_path / "micropython.bin"
    firmware.save(str(path))
    return path


def test_image_builds_files_littlefs_and_a_merged_bin(tmp_path, config_path, micropython_bin):
    out = tmp_path / "build"
    result = CliRunner().invoke(cli, ["image", "--config", str(config_path), "--micropython",
                                      str(micropython_bin), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert {"main.py", "config.json", "vafa/app.mpy", "vafa/hw/esp32.mpy"} <= set(
        summary["files"])
    # Compiled modules are MicroPython bytecode: .mpy files start with "M".
    assert (out / "files" / "vafa" / "app.mpy").read_bytes()[:1] == b"M"

    staged = {path.relative_to(out / "files").as_posix(): path.read_bytes()
              for path in (out / "files").rglob("*") if path.is_file()}
    mounted = image.read_littlefs((out / "vfs.littlefs").read_bytes())
    assert mounted == staged
    assert json.loads(mounted["config.json"])["device_id"] == "t05"

    merged = (out / "t05-flash.bin").read_bytes()
    base, fs_offset = 0x1000, 0x200000
    assert merged[:micropython_bin.stat().st_size] == micropython_bin.read_bytes()
    filesystem = merged[fs_offset - base:fs_offset - base + 0x200000]
    assert filesystem == (out / "vfs.littlefs").read_bytes()
    assert image.read_littlefs(filesystem) == staged
    info = subprocess.run([sys.executable, "-m", "esptool", "--chip", "esp32", "image-info",
                           str(out / "t05-flash.bin")], capture_output=True, text=True)
    assert info.returncode == 0, info.stdout + info.stderr
    assert "Entry point: 0x40080400" in info.stdout and "Checksum: 0xef (valid)" in info.stdout


def test_image_refuses_bad_inputs(tmp_path, config_path):
    not_firmware = tmp_path / "x.bin"
    not_firmware.write_bytes(b"\x00" * 64)
    result = CliRunner().invoke(cli, ["image", "--config", str(config_path), "--micropython",
                                      str(not_firmware), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1 and "not an ESP firmware image" in result.output
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**GOOD, "lang": "de"}))
    result = CliRunner().invoke(cli, ["image", "--config", str(bad), "--out",
                                      str(tmp_path / "o")])
    assert result.exit_code == 1 and "lang: must be en or fa" in result.output


def test_firmware_that_runs_into_the_filesystem_is_refused(tmp_path, config_path):
    huge = tmp_path / "huge.bin"
    huge.write_bytes(b"\xe9" + b"\x00" * 0x200000)
    with pytest.raises(image.ImageError, match="runs into the filesystem"):
        image.build_image(json.loads(config_path.read_text()), tmp_path / "o",
                          micropython_bin=huge)


class Recorder:
    def __init__(self, fail_at: int | None = None):
        self.commands, self.fail_at = [], fail_at

    def __call__(self, argv):
        self.commands.append(list(argv))
        return 2 if len(self.commands) == self.fail_at else 0


def test_flash_erases_then_writes_at_the_chip_offset(tmp_path):
    bin_path = tmp_path / "t05-flash.bin"
    bin_path.write_bytes(b"\xe9")
    recorder = Recorder()
    result = CliRunner().invoke(cli, ["flash", "--port", "/dev/ttyUSB0", "--image",
                                      str(bin_path), "--baud", "۹۶۰۰"], obj={"runner": recorder})
    assert result.exit_code == 0, result.output
    erase, write = recorder.commands
    assert erase[1:] == ["-m", "esptool", "--chip", "esp32", "--port", "/dev/ttyUSB0",
                         "--baud", "9600", "erase-flash"]
    assert write[-5:] == ["write-flash", "--flash-size", "detect", "0x1000", str(bin_path)]
    recorder = Recorder()
    CliRunner().invoke(cli, ["flash", "--port", "COM3", "--image", str(bin_path), "--chip",
                             "esp32s3", "--no-erase"], obj={"runner": recorder})
    assert len(recorder.commands) == 1 and recorder.commands[0][-2] == "0x0"


def test_flash_reports_a_failing_step(tmp_path):
    bin_path = tmp_path / "a.bin"
    bin_path.write_bytes(b"\xe9")
    result = CliRunner().invoke(cli, ["flash", "--port", "/dev/ttyUSB9", "--image",
                                      str(bin_path)], obj={"runner": Recorder(fail_at=1)})
    assert result.exit_code == 1 and "exit code 2" in result.output


def test_deploy_installs_packages_then_copies_config_last(tmp_path, config_path):
    files = tmp_path / "files"
    image.stage_files(json.loads(config_path.read_text()), files)
    recorder = Recorder()
    result = CliRunner().invoke(cli, ["deploy", "--port", "/dev/ttyACM0", "--files", str(files),
                                      "--json"], obj={"runner": recorder})
    assert result.exit_code == 0, result.output
    tails = [command[command.index("/dev/ttyACM0") + 1:] for command in recorder.commands]
    assert tails[:2] == [["mip", "install", "umqtt.simple"], ["mip", "install", "ssd1306"]]
    assert ["fs", "cp", "-r", str(files / "vafa"), ":"] in tails
    assert ["fs", "cp", str(files / "main.py"), ":main.py"] in tails
    assert tails[-2:] == [["fs", "cp", str(files / "config.json"), ":config.json"], ["reset"]]
    assert json.loads(result.output)["commands"] == recorder.commands


def test_dry_run_only_prints(tmp_path):
    bin_path = tmp_path / "a.bin"
    bin_path.write_bytes(b"\xe9")
    recorder = Recorder()
    result = CliRunner().invoke(cli, ["flash", "--port", "p", "--image", str(bin_path),
                                      "--dry-run"], obj={"runner": recorder})
    assert result.exit_code == 0 and recorder.commands == []
    assert "write-flash" in result.output


def test_qr_code_decodes_to_the_payload(tmp_path):
    text = qr.payload(token="tok", api_url="https://vafa.example/api/v1", wifi_ssid="فروشگاه",
                      wifi_password="pw", mqtt_host="mqtt.example", mqtt_port=8883,
                      mqtt_tls=True)
    path = tmp_path / "qr.png"
    path.write_bytes(qr.png(text))
    found = zxingcpp.read_barcodes(Image.open(path))
    assert [(code.format.name, code.text) for code in found] == [("QRCode", text)]
    assert json.loads(found[0].text)["wifi"]["ssid"] == "فروشگاه"


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_has_an_example_and_json_output(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0
    assert "Example: " in result.output and "--json" in result.output


def test_a_setup_image_holds_no_credentials_and_starts_setup_mode(tmp_path, micropython_bin):
    from vafa import config as vconfig
    from vafa import enrol

    out = tmp_path / "setup"
    result = CliRunner().invoke(cli, ["image", "--setup", "--micropython", str(micropython_bin),
                                      "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["merged"] == str(out / "setup-flash.bin")
    mounted = image.read_littlefs((out / "vfs.littlefs").read_bytes())
    config = json.loads(mounted["config.json"])
    assert config == {"pins": vconfig.DEFAULT_PINS}  # the firmware's own default wiring
    path = out / "files" / "config.json"
    with pytest.raises(vconfig.ConfigError):
        vconfig.load(str(path))  # no id, no secrets: main.py starts setup mode
    assert enrol.local_pins(str(path)) == vconfig.DEFAULT_PINS
    result = CliRunner().invoke(cli, ["image", "--out", str(tmp_path / "o")])
    assert result.exit_code == 2 and "--setup" in result.output
