"""Issue 16 on the backend: a terminal's health from its state (every field checked, a bad
frame harmless), the warnings, remote config staged and signed, logs stored."""

import json
from datetime import timedelta

import pytest

from backend import protocol
from backend.errors import BadRequest
from backend.models import Device, TerminalHealth
from backend.services import devices, terminal_commands
from backend.services.dashboard import ONLINE_STALE_AFTER
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW

HEALTHY = {"online": True, "fw": "0.3.0", "queued": 2, "ts": 1, "up": 3600, "heap": 91000,
           "rssi": -60, "dead": 0, "oldest_s": 120, "clk": True, "paper": True, "perr": None,
           "sec": 0, "cfg": 0, "crashes": 0}


@pytest.fixture
def terminal(db):
    branch = factories.branch(db, name="Central")
    return factories.device(db, device_id="t01", branch_id=branch.id)


def state(**changes):
    return json.dumps({**HEALTHY, **changes}).encode()


def warnings(db, device_id="t01", now=NOW):
    device = db.get(Device, device_id)
    return devices.warnings(device, db.get(TerminalHealth, device_id), now, ONLINE_STALE_AFTER)


def test_every_health_field_is_stored_and_a_healthy_terminal_has_no_warning(db, terminal):
    assert devices.record_state(db, "t01", state(), NOW)
    row = db.get(TerminalHealth, "t01")
    assert (row.uptime_s, row.free_heap, row.rssi, row.oldest_queued_s, row.clock_synced,
            row.paper_ok, row.printer_error, row.applied_version) == (
        3600, 91000, -60, 120, True, True, None, 0)
    assert db.get(Device, "t01").queued_count == 2
    assert warnings(db) == []


@pytest.mark.parametrize(("changes", "expected"), [
    ({"clk": False}, ["clock"]),
    ({"paper": False}, ["paper"]),
    ({"perr": "paper jam"}, ["printer"]),
    ({"oldest_s": 3600}, ["stuck"]),
    ({"dead": 1, "queued": 0}, ["stuck"]),
    ({"sec": 3}, ["wrong_key"]),
    ({"cfg_err": "4: idle_s must be 10..3600"}, ["config"]),
])
def test_each_warning(db, terminal, changes, expected):
    devices.record_state(db, "t01", state(**changes), NOW)
    assert warnings(db) == expected


def test_offline_revoked_and_wrong_key_seen_by_the_worker(db, terminal):
    devices.record_state(db, "t01", state(), NOW - timedelta(hours=1))
    assert warnings(db) == ["offline"]
    devices.record_state(db, "t01", state(), NOW)
    devices.record_bad_signature(db, "t01", NOW)
    assert warnings(db) == ["wrong_key"]
    assert warnings(db, now=NOW + timedelta(days=2)) == ["offline"]
    devices.revoke_device(db, "t01", actor=SYSTEM)
    assert warnings(db) == ["revoked"]


@pytest.mark.parametrize("payload", [
    b"not json", b"[1]", b"{" * 5000, b'{"online": "yes"}', json.dumps(
        {"online": True, "up": "x" * 3000}).encode(), b"\xff\xfe"])
def test_a_bad_state_frame_changes_nothing(db, terminal, payload):
    devices.record_state(db, "t01", state(), NOW)
    assert not devices.record_state(db, "t01", payload, NOW + timedelta(minutes=1))
    assert db.get(TerminalHealth, "t01").reported_at == NOW


def test_a_wrong_field_is_unknown_the_others_count(db, terminal):
    assert devices.record_state(db, "t01", state(heap=-5, rssi=20, clk="yes", paper=1,
                                                 up=True, perr=["x"], cfg=-1, dead="many"), NOW)
    row = db.get(TerminalHealth, "t01")
    assert (row.free_heap, row.rssi, row.clock_synced, row.paper_ok, row.uptime_s,
            row.printer_error, row.set_aside) == (None, None, None, None, None, None, 0)
    assert row.oldest_queued_s == 120


def test_an_old_firmware_state_without_health_keeps_working(db, terminal):
    assert devices.record_state(db, "t01", b'{"online": true, "fw": "0.2.0", "queued": 1}', NOW)
    assert db.get(TerminalHealth, "t01") is None
    assert warnings(db) == []


def test_remote_config_is_staged_versioned_signed_and_confirmed(db, terminal):
    settings = terminal_commands.check_remote_settings(terminal_commands.RemoteSettings(
        lang="fa", contrast=80, footer=" ممنون از خرید شما ", idle_s=30,
        ops=("refund", "purchase")))
    assert settings == {"lang": "fa", "contrast": 80, "footer": "ممنون از خرید شما",
                        "idle_s": 30, "ops": ["purchase", "refund"]}
    assert terminal_commands.stage_config(db, "t01", settings) == 1
    assert db.get(Device, "t01").lang == "fa"  # the backend's answers follow
    sent = []
    command = terminal_commands.send_config(db, lambda t, f: sent.append((t, f)), "t01", NOW,
                                            actor=SYSTEM)
    body = json.loads(protocol.decode_frame(sent[0][1], bytes.fromhex(terminal.key_hex)))
    assert sent[0][0] == "vafa/v1/dev/t01/cmd" and body == command.body
    assert (body["op"], body["cfg_ver"], body["settings"]) == ("set", 1, settings)
    assert warnings(db) == ["offline", "config"]
    devices.record_state(db, "t01", state(cfg=1), NOW)
    assert warnings(db) == []
    pin = terminal_commands.pin_digest(terminal.key_hex, "4321")
    assert terminal_commands.stage_config(db, "t01", {"pin_sha": pin}) == 2
    assert db.get(TerminalHealth, "t01").pending == {**settings, "pin_sha": pin}


@pytest.mark.parametrize(("field", "changes"), [
    ("lang", {"lang": "de"}), ("contrast", {"contrast": 256}), ("idle_s", {"idle_s": 5}),
    ("footer", {"footer": "x" * 97}), ("ops", {"ops": ("fly",)})])
def test_bad_settings_are_refused_at_their_field(field, changes):
    values = {"lang": "en", "contrast": 10, "footer": "", "idle_s": 60, "ops": ()} | changes
    with pytest.raises(BadRequest) as refused:
        terminal_commands.check_remote_settings(terminal_commands.RemoteSettings(**values))
    assert refused.value.field == field


def test_nothing_to_send_and_revoked(db, terminal):
    db.commit()  # a refused use case rolls back to here
    with pytest.raises(BadRequest):
        terminal_commands.send_config(db, lambda t, f: None, "t01", NOW, actor=SYSTEM)
    devices.revoke_device(db, "t01", actor=SYSTEM)
    with pytest.raises(BadRequest):
        terminal_commands.request_logs(db, lambda t, f: None, "t01", NOW, actor=SYSTEM)


def test_logs_are_asked_by_a_signed_command_and_stored(db, terminal):
    sent = []
    terminal_commands.request_logs(db, lambda t, f: sent.append(f), "t01", NOW, actor=SYSTEM)
    body = json.loads(protocol.decode_frame(sent[0], bytes.fromhex(terminal.key_hex)))
    assert body["op"] == "logs"
    answer = devices.logs_body(json.dumps({"v": 1, "op": "logs", "id": body["id"],
                                           "lines": ["12 mqtt connected", "x" * 500]}).encode())
    assert devices.record_logs(db, "t01", answer, NOW)
    row = db.get(TerminalHealth, "t01")
    assert row.log_lines[0] == "12 mqtt connected" and len(row.log_lines[1]) == 200
    assert not devices.record_logs(db, "t01", {"op": "logs", "lines": [1, 2]}, NOW)
    assert not devices.record_logs(db, "t01", {"op": "logs", "lines": ["a"] * 101}, NOW)
    assert devices.logs_body(b'{"op": "purchase"}') is None


def _applied_config(db, terminal):
    """The panel saved and sent version 1, and the terminal confirmed it."""
    settings = terminal_commands.check_remote_settings(terminal_commands.RemoteSettings(
        lang="fa", contrast=90, footer="ممنون", idle_s=45, ops=("purchase",)))
    terminal_commands.stage_config(db, "t01", settings)
    terminal_commands.send_config(db, lambda t, f: None, "t01", NOW - timedelta(hours=1),
                                  actor=SYSTEM)
    db.commit()
    assert terminal_commands.take_state(db, lambda t, f: None, "t01", state(cfg=1),
                                        NOW - timedelta(minutes=59))
    return settings


def test_a_reflashed_terminal_gets_the_panels_config_again_once(db, terminal):
    settings = _applied_config(db, terminal)
    sent = []
    publish = lambda t, f: sent.append((t, f))  # noqa: E731
    assert terminal_commands.last_resend(db, "t01") is None
    # reflashed: its config.json is the provisioned one, it reports cfg 0
    assert terminal_commands.take_state(db, publish, "t01", state(cfg=0), NOW)
    assert len(sent) == 1 and sent[0][0] == "vafa/v1/dev/t01/cmd"
    body = json.loads(protocol.decode_frame(sent[0][1], bytes.fromhex(terminal.key_hex)))
    assert (body["op"], body["cfg_ver"], body["settings"]) == ("set", 1, settings)
    resend = terminal_commands.last_resend(db, "t01")
    assert (resend.cfg_ver, resend.reported, resend.reason) == (1, 0, "reflash")
    assert db.get(TerminalHealth, "t01").sent_at == NOW
    # it keeps reporting 0 (refusing, or slow): no loop within RESEND_AFTER
    for minutes in (1, 5, 9):
        terminal_commands.take_state(db, publish, "t01", state(cfg=0),
                                     NOW + timedelta(minutes=minutes))
    assert len(sent) == 1
    later = NOW + terminal_commands.RESEND_AFTER + timedelta(seconds=1)
    terminal_commands.take_state(db, publish, "t01", state(cfg=0), later)
    assert len(sent) == 2
    assert terminal_commands.last_resend(db, "t01").reason == "behind"  # already at 0
    # confirmed: nothing more is sent
    terminal_commands.take_state(db, publish, "t01", state(cfg=1), later + timedelta(hours=1))
    terminal_commands.take_state(db, publish, "t01", state(cfg=1), later + timedelta(hours=2))
    assert len(sent) == 2 and warnings(db, now=later + timedelta(hours=2)) == []


@pytest.mark.parametrize("changes", [{"online": False}, {"cfg_err": "1: idle_s must be 10..3600"},
                                     {"cfg": 1}, {"cfg": 2}])
def test_no_resend_offline_refused_or_up_to_date(db, terminal, changes):
    _applied_config(db, terminal)
    sent = []
    terminal_commands.take_state(db, lambda t, f: sent.append(t), "t01",
                                 state(**{"cfg": 0, **changes}), NOW)
    assert sent == [] and terminal_commands.last_resend(db, "t01") is None


def test_no_resend_without_panel_config_or_revoked(db, terminal):
    sent = []
    terminal_commands.take_state(db, lambda t, f: sent.append(t), "t01", state(cfg=0), NOW)
    assert sent == []
    _applied_config(db, terminal)
    devices.revoke_device(db, "t01", actor=SYSTEM)
    terminal_commands.take_state(db, lambda t, f: sent.append(t), "t01", state(cfg=0), NOW)
    assert sent == []
    assert not terminal_commands.take_state(db, lambda t, f: sent.append(t), "t01", b"{", NOW)


def test_a_reflash_right_after_a_send_is_answered_at_once_a_slow_terminal_is_not(db, terminal):
    sent = []
    publish = lambda t, f: sent.append(t)  # noqa: E731
    terminal_commands.stage_config(db, "t01", {"idle_s": 20})
    terminal_commands.send_config(db, publish, "t01", NOW, actor=SYSTEM)
    db.commit()
    # not yet applied (the state went out before the set arrived): no second set
    terminal_commands.take_state(db, publish, "t01", state(cfg=0), NOW + timedelta(seconds=1))
    assert len(sent) == 1
    terminal_commands.take_state(db, publish, "t01", state(cfg=1), NOW + timedelta(seconds=2))
    # reflashed a minute later: its version went down, re-sent at once, once
    for seconds in (60, 61, 120):
        terminal_commands.take_state(db, publish, "t01", state(cfg=0),
                                     NOW + timedelta(seconds=seconds))
    assert len(sent) == 2 and terminal_commands.last_resend(db, "t01").reason == "reflash"


def test_registering_and_revoking_commit_in_their_own_unit_and_a_refusal_leaves_nothing(db):
    branch = factories.branch(db, name="Central")
    db.commit()
    devices.register_device(db, actor=SYSTEM, device_id="t09", branch_id=branch.id)
    db.rollback()  # nothing left for the caller to commit: the unit did
    assert db.get(Device, "t09").status == "active"
    with pytest.raises(BadRequest, match="already registered"):
        devices.register_device(db, actor=SYSTEM, device_id="t09", branch_id=branch.id,
                                name="Again")
    assert db.get(Device, "t09").name == "t09"
    with pytest.raises(BadRequest, match="no device"):
        devices.revoke_device(db, "t99", actor=SYSTEM)
    devices.revoke_device(db, "t09", actor=SYSTEM)
    db.rollback()
    assert db.get(Device, "t09").status == "revoked"
