"""Checks of a terminal's config.json before it is copied onto a device."""

import json
import re
from pathlib import Path

from provisioning import chips

CHIPS = chips.CHIPS

DEVICE_ID = re.compile(r"[a-z0-9-]{3,32}")
KEY_HEX = re.compile(r"[0-9a-f]{64}")


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
    chip = config.get("chip", chips.DEFAULT_CHIP)
    if chip not in CHIPS:
        found.append(f"chip: must be one of {', '.join(CHIPS)}")
    elif not isinstance(config.get("pins"), dict):
        found.append("pins: missing")
    else:
        found.extend(pin_problems(config["pins"], chip))
    if isinstance(mqtt, dict) and not isinstance(mqtt.get("insecure", False), bool):
        found.append("mqtt.insecure: must be true or false")
    floor = config.get("seq_floor", 0)
    if type(floor) is not int or floor < 0:
        found.append("seq_floor: must be a whole number >= 0")
    return found


def pin_problems(pin_map: dict, chip: str = chips.DEFAULT_CHIP) -> list[str]:
    """Pins that do not exist on `chip`, belong to its flash/PSRAM/USB/REPL, are input-only
    where an output is needed, or are used twice (provisioning/chips.py)."""
    return chips.problems(pin_map, chip)


# The reference wiring of docs/hardware.md, per chip.
DEFAULT_PINS = chips.pin_map(chips.DEFAULT_CHIP)


def setup_config(pin_map: dict | None = None, chip: str = chips.DEFAULT_CHIP) -> dict:
    """config.json of a terminal not enrolled yet: its chip and wiring only, no id, no
    secrets, so the firmware starts in setup mode (firmware/vafa/enrol.py) and keeps these
    pins."""
    return {"chip": chip, "pins": {**chips.pin_map(chip), **(pin_map or {})}}


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
