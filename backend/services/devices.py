"""Terminal registration and the broker files derived from the device table."""

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import broker
from backend.errors import BadRequest
from backend.models import Branch, Club, Device
from backend.protocol import DEVICE_ID_PATTERN

KEY_BYTES = 32


@dataclass(frozen=True)
class DeviceCredentials:
    device_id: str
    mqtt_password: str
    key_hex: str


def check_new_device(session: Session, *, device_id: str, branch_id: int, lang: str) -> None:
    """Refuse a terminal that cannot be registered: bad id or language, unknown branch,
    or an id already taken. Shared by registration and enrolment tokens."""
    if not DEVICE_ID_PATTERN.fullmatch(device_id):
        raise BadRequest("device_id", "must be 3–32 of a-z, 0-9 and -")
    if lang not in ("en", "fa"):
        raise BadRequest("lang", "must be en or fa")
    if session.get(Branch, branch_id) is None:
        raise BadRequest("branch_id", f"no branch {branch_id}")
    if session.get(Device, device_id) is not None:
        raise BadRequest("device_id", f"{device_id} is already registered")


def register_device(
    session: Session, *, device_id: str, branch_id: int, name: str = "", lang: str = "en"
) -> DeviceCredentials:
    """Create a terminal with fresh secrets. The caller commits.

    The secrets are returned once, to be written into the terminal's config; the database
    keeps the HMAC key and only a hash of the MQTT password.
    """
    check_new_device(session, device_id=device_id, branch_id=branch_id, lang=lang)
    password = secrets.token_urlsafe(24)
    key_hex = secrets.token_hex(KEY_BYTES)
    session.add(
        Device(
            id=device_id,
            branch_id=branch_id,
            name=name or device_id,
            key_hex=key_hex,
            mqtt_password_hash=broker.mosquitto_password_hash(password),
            lang=lang,
        )
    )
    session.flush()
    return DeviceCredentials(device_id, password, key_hex)


def terminal_config(
    session: Session, credentials: DeviceCredentials, *, mqtt_host: str, mqtt_port: int
) -> dict:
    """The terminal's config.json (firmware/vafa/config.py reads it)."""
    device = session.get(Device, credentials.device_id)
    club = session.get(Club, 1)
    return {
        "device_id": device.id,
        "key_hex": credentials.key_hex,
        "lang": device.lang,
        # The terminal never issues a seq at or below this (docs/protocol.md): after a
        # reflash its counter starts above what the backend already accepted.
        "seq_floor": device.last_seq,
        "club_name": club.name if club else "Vafa",
        "mqtt": {
            "host": mqtt_host,
            "port": mqtt_port,
            "user": device.id,
            "password": credentials.mqtt_password,
            "tls": False,
            "keepalive_s": 30,
        },
        "wifi": {"ssid": "", "password": ""},
        "pins": {
            "scanner_uart": 1, "scanner_tx": 17, "scanner_rx": 16,
            "printer_uart": 2, "printer_tx": 4, "printer_rx": 5,
            "i2c_scl": 22, "i2c_sda": 21,
            "keypad_rows": [13, 12, 14, 27], "keypad_cols": [26, 25, 33, 32],
            "buzzer": 15, "led": 2,
        },
    }


def write_terminal_config(config: dict, devices_dir: Path) -> Path:
    path = devices_dir / config["device_id"] / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n")
    path.chmod(0o600)
    return path


def write_broker_config(
    session: Session, config_dir: Path, *, port: int, backend_port: int,
    backend_username: str, backend_password: str, tls: broker.TlsListener | None = None,
    backend_host: str = "127.0.0.1",
) -> Path:
    """Regenerate Mosquitto's password files and ACLs from the active devices: the
    terminals listen on `port` (and TLS), the backend's account on
    `backend_host:backend_port` (backend.broker.mosquitto_conf)."""
    devices = session.scalars(
        select(Device).where(Device.status == "active").order_by(Device.id)
    ).all()
    return broker.write_broker_files(
        config_dir,
        port,
        broker.BrokerUser(backend_username, broker.mosquitto_password_hash(backend_password)),
        [broker.BrokerUser(device.id, device.mqtt_password_hash) for device in devices],
        tls=tls, backend_port=backend_port, backend_bind_address=backend_host,
    )


def revoke_device(session: Session, device_id: str) -> Device:
    """Disable a terminal: the worker drops its frames from now on, and the next broker
    files leave it out. The caller commits, then regenerates the broker files."""
    device = session.get(Device, device_id)
    if device is None:
        raise BadRequest("device_id", f"no device {device_id}")
    device.status = "revoked"
    session.flush()
    return device


def reload_broker(pid_file: Path, conf_path: Path | None = None) -> bool:
    """Send SIGHUP to our Mosquitto so it rereads the password file and ACL.

    The pid comes from `pid_file`, else (Linux) from the process started with exactly
    `-c <conf_path>` by this user, as `make run` starts it. False when there is none:
    the files then apply at the broker's next start.
    """
    import os
    import signal

    pids = []
    try:
        pids.append(int(pid_file.read_text().strip()))
    except (FileNotFoundError, ValueError):
        if conf_path is not None:
            pids = _pids_running_conf(conf_path)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGHUP)
        except (ProcessLookupError, PermissionError):
            continue
        return True
    return False


def _pids_running_conf(conf_path: Path) -> list[int]:
    import os

    wanted = str(conf_path.resolve()).encode()
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            if entry.stat().st_uid != os.getuid():
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if Path(os.fsdecode(argv[0])).name == "mosquitto" and wanted in argv and b"-c" in argv:
            found.append(int(entry.name))
    return found


MAX_STATE_BYTES = 512  # a state frame is ~60 bytes; anything larger is not ours


def record_state(session: Session, device_id: str, payload: bytes, now: datetime) -> bool:
    """Apply a terminal's retained `state` message (PROTOCOL.md): online flag, firmware
    version and journal depth, shown on the panel's terminals page. Unknown devices and
    malformed payloads are ignored (False); nothing else is written."""
    if len(payload) > MAX_STATE_BYTES:
        return False
    try:
        state = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        return False
    if not isinstance(state, dict) or type(state.get("online")) is not bool:
        return False
    device = session.get(Device, device_id)
    if device is None:
        return False
    device.is_online = state["online"]
    device.state_at = now
    if state["online"]:
        device.last_seen_at = now
    firmware = state.get("fw")
    if isinstance(firmware, str) and 0 < len(firmware) <= 32:
        device.firmware_version = firmware
    queued = state.get("queued")
    if type(queued) is int and 0 <= queued <= 1_000_000:
        device.queued_count = queued
    session.commit()
    return True
