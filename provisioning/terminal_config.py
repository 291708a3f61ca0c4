"""Checks of a terminal's config.json before it is copied onto a device."""

import json
import re
from pathlib import Path

DEVICE_ID = re.compile(r"[a-z0-9-]{3,32}")
KEY_HEX = re.compile(r"[0-9a-f]{64}")
PIN_FIELDS = ("scanner_uart", "scanner_tx", "scanner_rx", "printer_uart", "printer_tx",
              "printer_rx", "i2c_scl", "i2c_sda", "buzzer", "led")
# ESP32 GPIOs that exist; 6–11 drive the flash chip and must never be used.
ESP32_USABLE_GPIOS = set(range(0, 6)) | set(range(12, 24)) | {25, 26, 27, 32, 33, 34, 35, 36, 39}


def problems(config: dict) -> list[str]:
    """Every problem found in `config`, each naming its field; empty when it is usable."""
    found = []
    if not isinstance(config.get("device_id"), str) or not DEVICE_ID.fullmatch(config["device_id"]):
        found.append("device_id: must be 3–32 of a-z, 0-9 and -")
    if not isinstance(config.get("key_hex"), str) or not KEY_HEX.fullmatch(config["key_hex"]):
        found.append("key_hex: must be 64 lowercase hex characters (a 32-byte key)")
    if config.get("lang") not in ("en", "fa"):
        found.append("lang: must be en or fa")
    mqtt = config.get("mqtt")
    if not isinstance(mqtt, dict):
        found.append("mqtt: missing")
    else:
        if not isinstance(mqtt.get("host"), str) or not mqtt["host"]:
            found.append("mqtt.host: missing")
        port = mqtt.get("port")
        if type(port) is not int or not 1 <= port <= 65535:
            found.append("mqtt.port: must be 1–65535")
        if mqtt.get("user") != config.get("device_id"):
            found.append("mqtt.user: must equal device_id (the broker ACL is per device)")
        if not isinstance(mqtt.get("password"), str) or len(mqtt["password"]) < 16:
            found.append("mqtt.password: must be at least 16 characters")
    pins = config.get("pins")
    if not isinstance(pins, dict):
        found.append("pins: missing")
    else:
        found.extend(pin_problems(pins))
    return found


def pin_problems(pins: dict) -> list[str]:
    found = []
    for name in PIN_FIELDS:
        value = pins.get(name)
        if name.endswith("_uart"):
            if value not in (1, 2):
                found.append(f"pins.{name}: must be UART 1 or 2")
        elif value not in ESP32_USABLE_GPIOS:
            found.append(f"pins.{name}: GPIO {value} is not usable on an ESP32")
    for name in ("keypad_rows", "keypad_cols"):
        value = pins.get(name)
        if not isinstance(value, list) or len(value) != 4 or not all(
            pin in ESP32_USABLE_GPIOS for pin in value
        ):
            found.append(f"pins.{name}: must be 4 usable GPIOs")
    return found


# The wiring of docs/terminal.md, as firmware/vafa/config.py DEFAULT_PINS.
DEFAULT_PINS = {
    "scanner_uart": 1, "scanner_tx": 17, "scanner_rx": 16,
    "printer_uart": 2, "printer_tx": 4, "printer_rx": 5,
    "i2c_scl": 22, "i2c_sda": 21,
    "keypad_rows": [13, 12, 14, 27], "keypad_cols": [26, 25, 33, 32],
    "buzzer": 15, "led": 2,
}


def setup_config(pins: dict | None = None) -> dict:
    """config.json of a terminal not enrolled yet: its wiring only, no id, no secrets, so
    the firmware starts in setup mode (firmware/vafa/enrol.py) and keeps these pins."""
    return {"pins": {**DEFAULT_PINS, **(pins or {})}}


def load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must hold a JSON object")
    return data
