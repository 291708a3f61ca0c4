"""Commands on a terminal's `cmd` topic: what the screen can show, who may send, and a
frame the terminal verifies with its own key."""

import json

import pytest

from backend import protocol
from backend.errors import BadRequest, NotFound
from backend.services import devices, terminal_commands
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW


@pytest.fixture
def terminal(db):
    branch = factories.branch(db, name="Central")
    return factories.device(db, device_id="t01", branch_id=branch.id)


def test_a_message_is_signed_with_the_terminals_key_and_shown_as_typed(db, terminal):
    command = terminal_commands.build_command(db, "t01", "display", "Closing at ۹pm\r\nThanks!\n\n",
                                              NOW)
    assert command.topic == "vafa/v1/dev/t01/cmd"
    body = json.loads(protocol.decode_frame(command.frame, bytes.fromhex(terminal.key_hex)))
    assert body == command.body
    # Persian digits become Latin ones (the screen's font); trailing empty lines go.
    assert body["op"] == "display" and body["lines"] == ["Closing at 9pm", "Thanks!"]
    assert body["ts"] == int(NOW.timestamp()) and body["id"].startswith("cmd-")
    again = terminal_commands.build_command(db, "t01", "display", "Hi", NOW)
    assert again.body["id"] != command.body["id"]


@pytest.mark.parametrize("operation", ["config", "reboot"])
def test_config_and_reboot_carry_no_text(db, terminal, operation):
    command = terminal_commands.build_command(db, "t01", operation, "ignored", NOW)
    assert set(command.body) == {"v", "id", "ts", "op"} and command.body["op"] == operation


@pytest.mark.parametrize(("text", "message"), [
    ("", "write the message to show"),
    ("\n \n", "write the message to show"),
    ("\n".join(["line"] * 9), "at most 8 lines"),
    ("x" * 33, "at most 32 characters"),
    ("سلام 😀", "Persian and Latin letters"),
    ("Ωmega", "Persian and Latin letters"),
    ("tab\there", "Persian and Latin letters"),
])
def test_what_the_screen_cannot_show_is_refused_at_the_text(db, terminal, text, message):
    with pytest.raises(BadRequest) as refused:
        terminal_commands.build_command(db, "t01", "display", text, NOW)
    assert refused.value.field == "text" and message in refused.value.message


def test_a_persian_message_goes_to_the_screen_with_latin_digits(db, terminal):
    command = terminal_commands.build_command(db, "t01", "display",
                                              "سلام سارا\nاعتبار: ۱۲٬۵۰۰ ريال", NOW)
    assert command.body["lines"] == ["سلام سارا", "اعتبار: 12٬500 ريال"]


def test_the_screen_accepts_exactly_what_the_terminals_font_draws():
    from provisioning import fonts

    drawn = set(fonts.DUAL + fonts.RIGHT + fonts.NONE + fonts.PUNCTUATION)
    persian_digits = {chr(c) for c in range(0x6F0, 0x6FA)}
    assert terminal_commands.SCREEN_PERSIAN == (drawn - persian_digits) | set("كيى\u200c")


def test_unknown_operation_revoked_terminal_and_other_branch_are_refused(db, terminal):
    with pytest.raises(BadRequest) as refused:
        terminal_commands.build_command(db, "t01", "self-destruct", "", NOW)
    assert refused.value.field == "operation"
    other = factories.branch(db, name="North")
    with pytest.raises(NotFound):
        terminal_commands.build_command(db, "t01", "reboot", "", NOW, branch_id=other.id)
    with pytest.raises(NotFound):
        terminal_commands.build_command(db, "nope", "reboot", "", NOW)
    devices.revoke_device(db, "t01", actor=SYSTEM)
    with pytest.raises(BadRequest, match="revoked"):
        terminal_commands.build_command(db, "t01", "reboot", "", NOW)


def test_send_publishes_exactly_the_built_frame(db, terminal):
    sent = []
    command = terminal_commands.send_command(db, lambda topic, frame: sent.append((topic, frame)),
                                             "t01", "reboot", "", NOW, actor=SYSTEM)
    assert sent == [(command.topic, command.frame)]
