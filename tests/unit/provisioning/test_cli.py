import json

import pytest
from click.testing import CliRunner

from provisioning.cli import cli

GOOD = {
    "device_id": "t01", "key_hex": "ab" * 32, "lang": "en", "club_name": "Club",
    "mqtt": {"host": "127.0.0.1", "port": 18830, "user": "t01", "password": "x" * 32,
             "tls": False, "keepalive_s": 30},
    "wifi": {"ssid": "", "password": ""},
    "chip": "esp32", "seq_floor": 0,
    # The ESP32 reference wiring (firmware/vafa/pins.py, docs/hardware.md).
    "pins": {"scanner_uart": 1, "scanner_tx": 4, "scanner_rx": 34, "printer_uart": 2,
             "printer_tx": 23, "printer_rx": 35, "i2c_scl": 22, "i2c_sda": 21,
             "keypad_rows": [13, 14, 27, 26], "keypad_cols": [25, 33, 32, 19],
             "buzzer": 18, "led": 2},
}


def run(tmp_path, config, *args):
    path = tmp_path / "config.json"
    path.write_text(config if isinstance(config, str) else json.dumps(config))
    return CliRunner().invoke(cli, ["check-config", str(path), *args])


def test_a_good_config_passes(tmp_path):
    result = run(tmp_path, GOOD)
    assert result.exit_code == 0
    assert result.output.endswith(": ok\n")


@pytest.mark.parametrize(("change", "problem"), [
    ({"device_id": "T1"}, "device_id"),
    ({"key_hex": "abc"}, "key_hex"),
    ({"mqtt": {**GOOD["mqtt"], "user": "t02"}}, "mqtt.user"),
    ({"mqtt": {**GOOD["mqtt"], "port": 70000}}, "mqtt.port"),
    ({"pins": {**GOOD["pins"], "buzzer": 7}}, "pins.buzzer: GPIO 7 is the ESP32's SPI flash"),
    # The old default wiring: the scanner on GPIO16/17, the PSRAM of WROVER modules.
    ({"pins": {**GOOD["pins"], "scanner_tx": 17}}, "pins.scanner_tx: GPIO 17 is the ESP32's "
                                                   "PSRAM (WROVER)"),
    ({"pins": {**GOOD["pins"], "buzzer": 34}}, "pins.buzzer: GPIO 34 is input-only"),
    ({"pins": {**GOOD["pins"], "led": 18}}, "pins.led: GPIO 18 is already pins.buzzer"),
    ({"chip": "esp32c3"}, "pins.scanner_rx: GPIO 34 does not exist on the ESP32-C3"),
    ({"chip": "esp8266"}, "chip: must be one of"),
    ({"seq_floor": -1}, "seq_floor"),
])
def test_problems_are_named(tmp_path, change, problem):
    result = run(tmp_path, {**GOOD, **change}, "--json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["ok"] is False
    assert any(line.startswith(problem) for line in report["problems"])


def test_broken_json_is_reported(tmp_path):
    result = run(tmp_path, "{nope")
    assert result.exit_code == 1
    assert "not valid JSON" in result.output


def test_help_has_an_example():
    result = CliRunner().invoke(cli, ["check-config", "--help"])
    assert "Example: python -m provisioning check-config" in result.output
