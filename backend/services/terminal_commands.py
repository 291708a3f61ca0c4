"""Commands to one terminal on its `cmd` topic (PROTOCOL.md): show a message on its
screen, reload its config file, or reboot. The firmware never interrupts a sale for a
command: a message waits for the sale to end and a reboot for the terminal to be idle.

The body is signed with the device's key like every frame; `id` and `ts` make each
command distinct, so a frame seen twice is recognisably the same command.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import protocol
from backend.errors import BadRequest, NotFound
from backend.models import AuditLog, Device, TerminalHealth
from backend.protocol import Command
from backend.services import devices
from backend.unit_of_work import SYSTEM, Actor, unit_of_work
from card_spec import normalize_digits

COMMAND_OPERATIONS = ("display", "config", "reboot")
# The SSD1306 screen: 128×64 pixels drawn by the firmware's vafa.text in its bitmap font
# (provisioning/fonts.py), which wraps a long line and pages a long screen: a line is bounded
# so that 8 of them stay a few pages.
SCREEN_LINES = 8
SCREEN_COLUMNS = 32
# The Persian letters and punctuation the terminal's font draws (the test checks this
# against provisioning/fonts.py), Arabic kaf/yeh/alef maksura (vafa.text folds them to the
# Persian ones) and the zero-width non-joiner. Persian and Arabic-Indic digits become
# Latin here and Persian again on a Persian terminal.
SCREEN_PERSIAN = frozenset("ئبپتثجچحخسشصضطظعغفقکگلمنهیـآأؤإادذرزژوۀةء،؛؟«»٫٬كيى\u200c")


def screen_lines(text: str) -> list[str]:
    """The message as the screen will show it; refuses what it cannot show."""
    lines = [line.rstrip() for line in normalize_digits(text.replace("\r\n", "\n")).split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    if not lines:
        raise BadRequest("text", "write the message to show")
    if len(lines) > SCREEN_LINES:
        raise BadRequest("text", f"the screen shows at most {SCREEN_LINES} lines")
    for line in lines:
        if len(line) > SCREEN_COLUMNS:
            raise BadRequest("text", f"a line of the screen holds at most {SCREEN_COLUMNS} "
                                     "characters")
        if any(not (" " <= character <= "~" or character in SCREEN_PERSIAN)
               for character in line):
            raise BadRequest("text", "the terminal's screen shows Persian and Latin letters, "
                                     "digits and punctuation only")
    return lines


def build_command(session: Session, device_id: str, operation: str, text: str,
                  now: datetime, branch_id: int | None = None) -> Command:
    """The signed frame for one command. `branch_id` limits an operator to the terminals
    of their branch (others are reported as not found)."""
    device = session.get(Device, device_id)
    if device is None or (branch_id is not None and device.branch_id != branch_id):
        raise NotFound(f"no terminal {device_id}")
    if device.status != "active":
        raise BadRequest("operation", "this terminal is revoked; it no longer listens")
    if operation not in COMMAND_OPERATIONS:
        raise BadRequest("operation", "choose what the terminal should do")
    body: dict = {"v": protocol.PROTOCOL_VERSION, "id": f"cmd-{secrets.token_hex(6)}",
                  "ts": int(now.timestamp()), "op": operation}
    if operation == "display":
        body["lines"] = screen_lines(text)
    frame = protocol.encode_frame(protocol.encode_body(body), bytes.fromhex(device.key_hex))
    return Command(device.id, protocol.topic(device.id, "cmd"), body, frame)


def send_command(session: Session, publish: Callable[[str, bytes], None], device_id: str,
                 operation: str, text: str, now: datetime,
                 branch_id: int | None = None, *, actor: Actor) -> Command:
    """Build and publish one command, audited `terminal_command`; `publish` raises
    BrokerUnavailable when the broker did not take it (then nothing is recorded)."""
    with unit_of_work(session, actor) as work:
        command = build_command(session, device_id, operation, text, now, branch_id)
        publish(command.topic, command.frame)
        work.audit("terminal_command", "device", command.device_id,
                   {"op": command.body["op"], "id": command.body["id"],
                    "lines": command.body.get("lines", [])})
        return command


# ---- remote config and logs (issue 16) -------------------------------------------------
# The settings a shop changes (firmware vafa.config.check_settings checks them again).
OPERATIONS = ("purchase", "lookup", "refund", "credit")
CONTRAST_RANGE = (0, 255)
IDLE_RANGE_S = (10, 3600)
FOOTER_MAX = 96


@dataclass(frozen=True)
class RemoteSettings:
    lang: str
    contrast: int
    footer: str
    idle_s: int
    ops: tuple[str, ...]


def check_remote_settings(settings: RemoteSettings) -> dict:
    if settings.lang not in ("en", "fa"):
        raise BadRequest("lang", "must be en or fa")
    if not CONTRAST_RANGE[0] <= settings.contrast <= CONTRAST_RANGE[1]:
        raise BadRequest("contrast", "The display contrast is 0 to 255.")
    if not IDLE_RANGE_S[0] <= settings.idle_s <= IDLE_RANGE_S[1]:
        raise BadRequest("idle_s", "The idle timeout is 10 to 3600 seconds.")
    footer = normalize_digits(settings.footer.replace("\r\n", "\n")).strip()
    if len(footer) > FOOTER_MAX or "\x00" in footer:
        raise BadRequest("footer", "The receipt footer is at most 96 characters.")
    if any(op not in OPERATIONS for op in settings.ops):
        raise BadRequest("ops", "Unknown operation.")
    return {"lang": settings.lang, "contrast": settings.contrast, "footer": footer,
            "idle_s": settings.idle_s, "ops": [op for op in OPERATIONS if op in settings.ops]}


def pin_digest(key_hex: str, pin: str | None) -> str | None:
    """What the terminal gets of its refund PIN: HMAC-SHA256(device key, "pin:" + PIN) in
    hex, so it can refuse a wrong PIN itself; the backend checks the PIN again
    (terminal_policy). None: no PIN of its own (the branch's: only the backend checks)."""
    pin = normalize_digits(pin.strip()) if pin else ""
    if not pin:
        return None
    return hmac.new(bytes.fromhex(key_hex), b"pin:" + pin.encode(), hashlib.sha256).hexdigest()


def _active_device(session: Session, device_id: str, branch_id: int | None) -> Device:
    device = session.get(Device, device_id)
    if device is None or (branch_id is not None and device.branch_id != branch_id):
        raise NotFound(f"no terminal {device_id}")
    if device.status != "active":
        raise BadRequest("operation", "this terminal is revoked; it no longer listens")
    return device


def stage_refund_pin(session: Session, device: Device, pin: str | None) -> int:
    """The refund PIN changed on the panel: the terminal gets its digest (pin_sha) in its
    pending config too, so it refuses a wrong PIN itself. The caller commits, then sends."""
    return stage_config(session, device.id, {"pin_sha": pin_digest(device.key_hex, pin)})


def save_config(session: Session, device_id: str, settings: dict, *, actor: Actor,
                branch_id: int | None = None) -> int:
    """The panel's remote config (checked settings) staged under a new version, audited
    `terminal_config_saved` and committed before it is sent (send_config), so a broker
    that does not take it leaves the pending config for "Send again"."""
    with unit_of_work(session, actor) as work:
        version = stage_config(session, device_id, settings, branch_id)
        work.audit("terminal_config_saved", "device", device_id,
                   {"cfg_ver": version, "settings": settings})
        return version


def stage_config(session: Session, device_id: str, changes: dict,
                 branch_id: int | None = None) -> int:
    """Merge `changes` (checked settings, or {"pin_sha": ...}) into the terminal's
    pending config under a new version; returns it. The caller commits, then sends."""
    device = _active_device(session, device_id, branch_id)
    if "lang" in changes:
        # The backend answers the terminal in its language (texts, receipts): the same one.
        device.lang = changes["lang"]
    row = devices.health_row(session, device.id)
    pending = dict(row.pending or {})
    pending.update(changes)
    row.pending = pending
    row.pending_version = max(row.pending_version or 0, row.applied_version or 0) + 1
    session.flush()
    return row.pending_version


def send_config(session: Session, publish: Callable[[str, bytes], None], device_id: str,
                now: datetime, branch_id: int | None = None, *, actor: Actor,
                action: str = "terminal_config") -> Command:
    """Deliver the pending config as cmd {"op":"set","cfg_ver":N,"settings":{...}}; the
    terminal confirms N in its state (`cfg`). Audited `action` when the broker took it."""
    with unit_of_work(session, actor) as work:
        device = _active_device(session, device_id, branch_id)
        row = devices.health_row(session, device.id)
        if not row.pending or not row.pending_version:
            raise BadRequest("operation", "There is no configuration to send.")
        command = _send_set(device, row, publish, now)
        work.audit(action, "device", device.id,
                   {"cfg_ver": command.body["cfg_ver"], "id": command.body["id"]})
        return command


def _send_set(device: Device, row: TerminalHealth, publish: Callable[[str, bytes], None],
              now: datetime) -> Command:
    body = {"v": protocol.PROTOCOL_VERSION, "id": f"cmd-{secrets.token_hex(6)}",
            "ts": int(now.timestamp()), "op": "set", "cfg_ver": row.pending_version,
            "settings": row.pending}
    command = _signed(device, body)
    publish(command.topic, command.frame)
    row.sent_at = now
    return command


# A terminal whose state reports a config version below the one the panel holds gets the
# panel's settings again by itself. At once when its version went down (it was reflashed
# or re-enrolled: its config.json is the provisioned one, `cfg` 0); when it merely never
# confirmed the version, only once RESEND_AFTER has passed since the last set (sent by
# hand or not). The same version is re-sent at most once in RESEND_AFTER, whatever the
# terminal answers, so a terminal that keeps refusing or reflashing is no loop.
RESEND_AFTER = timedelta(minutes=10)
RESENT_ACTION = "terminal_config_resent"


@dataclass(frozen=True)
class Resend:
    at: datetime
    cfg_ver: int
    reported: int
    reason: str  # "reflash": its version went down; "behind": it never confirmed it


def take_state(session: Session, publish: Callable[[str, bytes], None], device_id: str,
               payload: bytes, now: datetime) -> bool:
    """A terminal's retained `state` (the worker's one call): recorded
    (devices.record_state, which commits), then, if the terminal is online and reports a
    config version below the panel's, the panel's settings re-sent as the signed `set`
    (redeliver_config). False, nothing re-sent, when the state was not recorded."""
    before = session.get(TerminalHealth, device_id)
    previous = before.applied_version if before is not None else 0
    if not devices.record_state(session, device_id, payload, now):
        return False
    redeliver_config(session, publish, device_id, now, previous_applied=previous)
    return True


def redeliver_config(session: Session, publish: Callable[[str, bytes], None],
                     device_id: str, now: datetime, previous_applied: int = 0) -> Command | None:
    """Re-send the pending config to an active, online terminal whose state (just
    recorded at `now`) reported a lower version (`cfg`) than the panel's, unless it
    refused a config (`cfg_err`: the same settings would be refused again), this version
    was re-sent within RESEND_AFTER, or (its version did not go down below
    `previous_applied`) a set went to it within RESEND_AFTER. Writes an audit row (no
    staff user) that the terminal's page shows, and commits. None when nothing was sent."""
    device = session.get(Device, device_id)
    row = session.get(TerminalHealth, device_id)
    if (device is None or device.status != "active" or not device.is_online or row is None
            or row.reported_at != now or not row.pending or not row.pending_version
            or row.applied_version >= row.pending_version or row.config_error):
        return None
    reported = row.applied_version
    reason = "reflash" if reported < previous_applied else "behind"
    recent = now - RESEND_AFTER
    if reason == "behind" and row.sent_at is not None and row.sent_at > recent:
        return None
    last = last_resend(session, device.id)
    if last is not None and last.cfg_ver == row.pending_version and last.at > recent:
        return None
    with unit_of_work(session, SYSTEM):
        command = _send_set(device, row, publish, now)
        # Dated `now` (the state's time, which RESEND_AFTER is measured against), so not
        # work.audit; no "via" either, as these rows always were.
        session.add(AuditLog(at=now, staff_user_id=None, ip="", action=RESENT_ACTION,
                             entity="device", entity_id=device.id,
                             details={"cfg_ver": row.pending_version, "reported": reported,
                                      "reason": reason}))
    return command


def last_resend(session: Session, device_id: str) -> Resend | None:
    """The backend's last automatic re-send of this terminal's config (its audit row)."""
    entry = session.scalars(
        select(AuditLog).where(AuditLog.action == RESENT_ACTION, AuditLog.entity == "device",
                               AuditLog.entity_id == device_id)
        .order_by(AuditLog.id.desc()).limit(1)).first()
    if entry is None:
        return None
    details = entry.details or {}
    return Resend(entry.at, int(details.get("cfg_ver", 0)), int(details.get("reported", 0)),
                  str(details.get("reason", "")))


def request_logs(session: Session, publish: Callable[[str, bytes], None], device_id: str,
                 now: datetime, branch_id: int | None = None, *, actor: Actor) -> Command:
    """cmd {"op":"logs"}: the terminal sends its last log lines back as a signed req
    {"op":"logs"} (backend.services.devices.record_logs). Audited `terminal_logs`."""
    with unit_of_work(session, actor) as work:
        device = _active_device(session, device_id, branch_id)
        body = {"v": protocol.PROTOCOL_VERSION, "id": f"cmd-{secrets.token_hex(6)}",
                "ts": int(now.timestamp()), "op": "logs"}
        command = _signed(device, body)
        publish(command.topic, command.frame)
        devices.health_row(session, device.id).logs_requested_at = now
        work.audit("terminal_logs", "device", device.id, {})
        return command


def _signed(device: Device, body: dict) -> Command:
    frame = protocol.encode_frame(protocol.encode_body(body), bytes.fromhex(device.key_hex))
    return Command(device.id, protocol.topic(device.id, "cmd"), body, frame)
