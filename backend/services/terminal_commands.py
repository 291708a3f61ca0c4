"""Commands to one terminal on its `cmd` topic (PROTOCOL.md): show a message on its
screen, reload its config file, or reboot. The firmware never interrupts a sale for a
command: a message waits for the sale to end and a reboot for the terminal to be idle.

The body is signed with the device's key like every frame; `id` and `ts` make each
command distinct, so a frame seen twice is recognisably the same command.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from backend import protocol
from backend.errors import BadRequest, NotFound
from backend.models import Device
from card_spec import normalize_digits

COMMAND_OPERATIONS = ("display", "config", "reboot")
# The SSD1306 screen: 128×64 pixels in framebuf's 8×8 font (firmware/vafa/hw/esp32.py).
SCREEN_LINES = 8
SCREEN_COLUMNS = 16


@dataclass(frozen=True)
class Command:
    device_id: str
    topic: str
    body: dict
    frame: bytes


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
        if any(not (" " <= character <= "~") for character in line):
            raise BadRequest("text", "the terminal's screen shows Latin letters, digits and "
                                     "punctuation only")
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
                 branch_id: int | None = None) -> Command:
    """Build and publish one command; `publish` raises BrokerUnavailable when the broker
    did not take it. The caller records the audit row and commits."""
    command = build_command(session, device_id, operation, text, now, branch_id)
    publish(command.topic, command.frame)
    return command
