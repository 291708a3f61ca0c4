"""Terminal registration and the broker files derived from the device table."""

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import broker
from backend.errors import BadRequest
from backend.models import Branch, Device, TerminalHealth, the_club
from backend.protocol import DEVICE_ID_PATTERN
from backend.services import firmware_builds
from backend.unit_of_work import SYSTEM, Actor, unit_of_work

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
    session: Session, *, actor: Actor, device_id: str, branch_id: int, name: str = "",
    lang: str = "en",
) -> DeviceCredentials:
    """Create a terminal with fresh secrets, in one unit of work (or the caller's).

    The secrets are returned once, to be written into the terminal's config; the database
    keeps the HMAC key and only a hash of the MQTT password.
    """
    with unit_of_work(session, actor):
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
        return DeviceCredentials(device_id, password, key_hex)


def terminal_config(
    session: Session, credentials: DeviceCredentials, *, mqtt_host: str, mqtt_port: int,
    public_url: str = "",
) -> dict:
    """The terminal's config.json (firmware/vafa/config.py reads it). With the backend's
    public URL, receipts carry the member portal's address as a QR code (`portal_url`)."""
    device = session.get(Device, credentials.device_id)
    club = the_club(session)
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
        "portal_url": portal_url(public_url),
        "pins": {
            "scanner_uart": 1, "scanner_tx": 17, "scanner_rx": 16,
            "printer_uart": 2, "printer_tx": 4, "printer_rx": 5,
            "i2c_scl": 22, "i2c_sda": 21,
            "keypad_rows": [13, 12, 14, 27], "keypad_cols": [26, 25, 33, 32],
            "buzzer": 15, "led": 2,
        },
    }


def provision(session: Session, make_credentials: Callable[[], DeviceCredentials], *,
              actor: Actor, mqtt_host: str, mqtt_port: int, public_url: str = ""
              ) -> tuple[DeviceCredentials, dict]:
    """One unit of work: a terminal's credentials (`make_credentials` registers it, or
    redeems its enrolment token) and its config.json, committed before the caller writes
    the broker files from the device table."""
    with unit_of_work(session, actor):
        credentials = make_credentials()
        return credentials, terminal_config(session, credentials, mqtt_host=mqtt_host,
                                            mqtt_port=mqtt_port, public_url=public_url)


def portal_url(public_url: str) -> str:
    """The member portal's address printed on receipts ("" without a public URL). The
    firmware takes at most 200 characters (vafa.config)."""
    url = public_url.strip().rstrip("/")
    if not url:
        return ""
    url += "/portal/"
    return url if len(url) <= 200 else ""


def write_terminal_config(config: dict, devices_dir: Path) -> Path:
    path = devices_dir / config["device_id"] / "config.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n")
    path.chmod(0o600)
    return path


def write_terminal_configs(session: Session, terminals: list[DeviceCredentials],
                           config) -> list[Path]:
    """config.json of each terminal (the demo's, the test stacks') under the instance's
    devices/ directory, as the app configuration says the terminals reach the broker."""
    devices_dir = Path(config["INSTANCE_DIR"]) / "devices"
    return [
        write_terminal_config(
            terminal_config(session, credentials, mqtt_host=config["MQTT_HOST"],
                            mqtt_port=config["MQTT_PORT"],
                            public_url=config.get("PUBLIC_URL", "")),
            devices_dir,
        )
        for credentials in terminals
    ]


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


def write_broker_config_for(session: Session, config, config_dir: Path | None = None) -> Path:
    """write_broker_config with everything from the app configuration, TLS listener
    included: every writer (`flask broker-config`, the supervisor's start, a terminal's
    registration) writes the same file, so registering a terminal never drops TLS."""
    return write_broker_config(
        session, config_dir or broker_dir(config), port=config["MQTT_PORT"],
        backend_port=config["MQTT_BACKEND_PORT"], backend_host=config["MQTT_BACKEND_HOST"],
        backend_username=config["MQTT_USERNAME"], backend_password=config["MQTT_PASSWORD"],
        tls=broker.tls_listener_from(config),
    )


def broker_dir(config) -> Path:
    return Path(config.get("BROKER_DIR") or Path(config["INSTANCE_DIR"]) / "mosquitto")


def revoke_device(session: Session, device_id: str, *, actor: Actor) -> Device:
    """Disable a terminal: the worker drops its frames from now on, and the next broker
    files leave it out. One unit of work, committed before the caller regenerates the
    broker files from the device table."""
    with unit_of_work(session, actor):
        device = session.get(Device, device_id)
        if device is None:
            raise BadRequest("device_id", f"no device {device_id}")
        device.status = "revoked"
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


# A state frame with the health fields is ~400 bytes (firmware: vafa.net.MAX_STATE_BYTES
# 1024); anything larger is not ours.
MAX_STATE_BYTES = 2048
# The health fields (docs/protocol.md "State"): name in the frame, column, check. A field
# that fails its check is stored as unknown (None); the others still count.
_INT_FIELDS = {
    "up": ("uptime_s", 0, 10**10),
    "heap": ("free_heap", 0, 10**9),
    "rssi": ("rssi", -127, 0),
    "oldest_s": ("oldest_queued_s", 0, 10**10),
}
_COUNTERS = {"dead": ("set_aside", 10**6), "sec": ("bad_signatures_seen", 10**9),
             "crashes": ("crashes", 10**6)}
# Warnings on the terminals page: journal stuck after this, a wrong key if the worker saw
# a bad signature from it this recently.
STUCK_AFTER_S = 15 * 60
WRONG_KEY_WITHIN = timedelta(hours=24)
WARNINGS = ("revoked", "offline", "wrong_key", "clock", "stuck", "paper", "printer",
            "config")


def _int(value, low, high):
    return value if type(value) is int and low <= value <= high else None


def health_row(session: Session, device_id: str) -> TerminalHealth:
    row = session.get(TerminalHealth, device_id)
    if row is None:
        row = TerminalHealth(device_id=device_id, set_aside=0, bad_signatures_seen=0,
                             crashes=0, applied_version=0, pending_version=0,
                             bad_signatures=0)
        session.add(row)
    return row


def _record_health(session: Session, device_id: str, state: dict, now: datetime) -> None:
    row = health_row(session, device_id)
    row.reported_at = now
    for key, (column, low, high) in _INT_FIELDS.items():
        setattr(row, column, _int(state.get(key), low, high))
    for key, (column, high) in _COUNTERS.items():
        setattr(row, column, _int(state.get(key), 0, high) or 0)
    for key, column in (("clk", "clock_synced"), ("paper", "paper_ok")):
        value = state.get(key)
        setattr(row, column, value if type(value) is bool else None)
    error = state.get("perr")
    row.printer_error = error[:60] if isinstance(error, str) and error else None
    applied = _int(state.get("cfg"), 0, 2**31 - 1)
    if applied is not None:
        row.applied_version = applied
    config_error = state.get("cfg_err")
    row.config_error = (config_error[:80] if isinstance(config_error, str) and config_error
                        else None)


def record_state(session: Session, device_id: str, payload: bytes, now: datetime) -> bool:
    """Apply a terminal's retained `state` message (PROTOCOL.md): online flag, firmware
    version and journal depth, and its health fields (issue 16), shown on the panel's
    terminals page. Unknown devices and malformed payloads are ignored (False); a health
    field that is not what the protocol says is stored as unknown."""
    if len(payload) > MAX_STATE_BYTES:
        return False
    try:
        state = json.loads(payload)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False
    if not isinstance(state, dict) or type(state.get("online")) is not bool:
        return False
    device = session.get(Device, device_id)
    if device is None:
        return False
    with unit_of_work(session, SYSTEM):
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
        kind = state.get("fwk")
        if kind in ("mpy", "py"):
            device.firmware_kind = kind
        if state["online"] and "ota" in state:
            # How far a firmware update got (OTA): the terminal's rollout row.
            firmware_builds.record_state_ota(session, device, state["ota"], now)
        if state["online"] and "up" in state:
            _record_health(session, device_id, state, now)
    return True


def record_bad_signature(session: Session, device_id: str, now: datetime) -> None:
    """The worker got a frame from this registered terminal that its key does not verify
    (a wrong key on the terminal, or someone else on its account): counted for the panel's
    "wrong key" warning, in its own transaction."""
    if session.get(Device, device_id) is None:
        return
    with unit_of_work(session, SYSTEM):
        row = health_row(session, device_id)
        row.bad_signatures = (row.bad_signatures or 0) + 1
        row.bad_signature_at = now


MAX_LOG_LINES = 100
MAX_LOG_LINE = 200


def logs_body(body: bytes) -> dict | None:
    """The verified body of a req if it is a logs answer ({"op":"logs"}), else None."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) and parsed.get("op") == "logs" else None


def record_logs(session: Session, device_id: str, body: dict, now: datetime) -> bool:
    """A terminal's answer to cmd "logs" (a verified req {"op":"logs"}): its last log
    lines, kept for the terminal page (the previous answer is replaced). False, nothing
    written, when the body is not one."""
    lines = body.get("lines")
    if not isinstance(lines, list) or len(lines) > MAX_LOG_LINES:
        return False
    if any(not isinstance(line, str) for line in lines):
        return False
    with unit_of_work(session, SYSTEM):
        row = health_row(session, device_id)
        row.log_lines = [line[:MAX_LOG_LINE] for line in lines]
        row.logs_at = now
    return True


def warnings(device: Device, health: TerminalHealth | None, now: datetime,
             stale_after: timedelta) -> list[str]:
    """What is wrong with a terminal, most serious first (codes of WARNINGS)."""
    if device.status != "active":
        return ["revoked"]
    found = []
    if not (device.is_online and device.state_at and device.state_at >= now - stale_after):
        found.append("offline")
    if health is None:
        return found
    if (health.bad_signatures_seen or (health.bad_signature_at is not None
                                       and health.bad_signature_at >= now - WRONG_KEY_WITHIN)):
        found.append("wrong_key")
    if health.clock_synced is False:
        found.append("clock")
    if health.set_aside or (device.queued_count and health.oldest_queued_s is not None
                            and health.oldest_queued_s >= STUCK_AFTER_S):
        found.append("stuck")
    if health.paper_ok is False:
        found.append("paper")
    if health.printer_error:
        found.append("printer")
    if health.config_error or health.pending_version > health.applied_version:
        found.append("config")
    return found
