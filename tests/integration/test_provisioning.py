"""From box to counter and back: `register` through the HTTP API → the simulator sells
with the new credentials → `verify` sees it → `revoke` → the simulator is refused."""

import json
import subprocess
import sys
import threading

from click.testing import CliRunner
from sqlalchemy import select

from backend.extensions import db
from backend.models import Branch, Device
from provisioning.cli import cli
from provisioning.verify import Watcher


def simulate(config_path, *args):
    return subprocess.run(
        [sys.executable, "-m", "simulator", "--headless", "--config", str(config_path),
         "--timeout-s", "8", *args],
        capture_output=True, text=True, timeout=60,
    )


def cli_call(api_url, *args):
    result = CliRunner().invoke(cli, [*args, "--api", api_url, "--username", "admin",
                                      "--password", "admin1234", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_register_sell_verify_revoke(stack, api, tmp_path):
    with stack.app.app_context():
        branch_id = db.session.scalars(select(Branch.id).order_by(Branch.id)).first()
    config_path = tmp_path / "t05" / "config.json"
    registered = cli_call(api, "register", "t05", "--branch-id", str(branch_id), "--lang", "en",
                          "--out", str(config_path))
    assert registered["broker_reloaded"] is True
    config = json.loads(config_path.read_text())
    assert config["device_id"] == "t05" and config["mqtt"]["port"] == stack.broker.port
    assert config_path.stat().st_mode & 0o777 == 0o600

    sale = simulate(config_path, "--scan", "9900010000000019", "--amount", "250000")
    assert sale.returncode == 0, sale.stdout + sale.stderr
    assert "Pay: 237,500" in sale.stdout

    # verify: waits for the terminal's state, then for the answer to its lookup.
    verified = {}
    watching = Watcher(config)

    def watch():
        verified["result"] = watching.run(30)

    watcher = threading.Thread(target=watch)
    watcher.start()
    assert watching.subscribed.wait(15), "the watcher did not subscribe"
    lookup = simulate(config_path, "--scan", "9900010000000019", "--lookup")
    assert lookup.returncode == 0, lookup.stdout + lookup.stderr
    watcher.join(40)
    result = verified["result"]
    assert result.device_id == "t05" and result.firmware
    assert result.reply["ok"] is True and result.reply["bal"]["credit"] > 0

    revoked = cli_call(api, "revoke", "t05")
    assert revoked == {"device_id": "t05", "status": "revoked", "broker_reloaded": True}
    with stack.app.app_context():
        assert db.session.get(Device, "t05").status == "revoked"
    assert "t05" not in (stack.broker.config_dir / "passwd").read_text()
    refused = simulate(config_path, "--scan", "9900010000000019", "--amount", "250000")
    assert refused.returncode != 0
    assert "Pay:" not in refused.stdout
    result = CliRunner().invoke(cli, ["verify", "--config", str(config_path), "--timeout", "5"])
    assert result.exit_code == 1 and "refused the terminal's credentials" in result.output


def test_verify_times_out_for_a_terminal_that_never_comes_online(stack, tmp_path):
    config_path = stack.instance_dir / "devices" / "t02" / "config.json"
    result = CliRunner().invoke(cli, ["verify", "--config", str(config_path), "--mqtt-port",
                                      str(stack.broker.port), "--timeout", "1"])
    assert result.exit_code == 1
    assert "timed out waiting for terminal t02 to come online" in result.output


def test_revoked_device_frames_are_dropped_even_if_still_connected(stack):
    """A terminal connected before the revocation keeps its connection until the broker
    reloads its files and drops it; meanwhile the worker drops its frames without a reply
    (the revocation alone, without the reload, keeps it connected here)."""
    from backend.services import devices
    from backend.unit_of_work import SYSTEM

    with stack.terminal("t02") as terminal, stack.terminal("t01") as other:
        terminal.send(terminal.request(1, op="lookup", amount=None, use_credit=None))
        assert terminal.wait_reply()["ok"] is True  # the worker has seen t02's key
        with stack.app.app_context():
            devices.revoke_device(db.session, "t02", actor=SYSTEM)
        terminal.send(terminal.request(2, op="lookup", amount=None, use_credit=None))
        # t02's frame was at the broker (its PUBACK came back) before t01's lookup went
        # out, and the worker takes one frame at a time: once t01 has its answer, the
        # worker is done with t02's frame.
        assert other.replies_before_lookup(900) == []
        assert terminal.client.is_connected()
    assert stack.worker.counters["dropped_unknown_device"] == 1
    assert terminal.replies == []


def test_register_refuses_a_wrong_password(stack, api, tmp_path):
    result = CliRunner().invoke(cli, ["register", "t06", "--branch-id", "1", "--api", api,
                                      "--username", "admin", "--password", "wrong"])
    assert result.exit_code == 1 and "wrong username or password" in result.output


def test_without_a_pid_file_the_broker_running_our_config_is_reloaded(stack, api, tmp_path):
    """As under `make run`, which starts Mosquitto with -c <instance>/mosquitto/…conf."""
    (stack.broker.config_dir / "mosquitto.pid").unlink()
    config_path = tmp_path / "t07.json"
    with stack.app.app_context():
        branch_id = db.session.scalars(select(Branch.id).order_by(Branch.id)).first()
    registered = cli_call(api, "register", "t07", "--branch-id", str(branch_id), "--out",
                          str(config_path), "--portal-url", "https://club.example/portal")
    assert registered["broker_reloaded"] is True
    assert json.loads(config_path.read_text())["portal_url"] == "https://club.example/portal"
    lookup = simulate(config_path, "--scan", "9900010000000019", "--lookup")
    assert lookup.returncode == 0, lookup.stdout + lookup.stderr
