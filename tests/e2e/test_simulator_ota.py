"""Issue 16's firmware updates end to end (docs/protocol.md "Firmware updates over the
air"), through the real Mosquitto, the real worker and the panel's HTTP server: three
simulated terminals, each its own process booted through the loader (simulator.process)
and running the repo's firmware as a `--source` build, two in the central branch and one
in another. An admin uploads a `--source` build 9.9.1
on the Firmware page and rolls it out to the central branch: its two terminals download
it over HTTP/1.0 from /fw/…, reboot, confirm by op "ota", and the panel says `running`
with firmware 9.9.1; the other branch's terminal keeps its version and has no rollout
row. Then a deliberately broken build 9.9.2 (its vafa/app.py raises on import, hashes
correct) rolled out to one terminal comes back on 9.9.1 by itself, and the panel shows
`rolled_back` with the error."""

import json
import os
import signal
import threading
from io import BytesIO
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from backend.extensions import db
from backend.models import Device, FirmwareBuild, FirmwareRollout
from backend.services import devices
from backend.unit_of_work import SYSTEM
from provisioning import ota_build
from simulator.process import TerminalProcess, install_build
from tests import factories
from tests.conftest import AuthActions
from tests.support import waiting

TRIAL_S = 30
WAIT_S = 150  # three terminal processes, the broker, the worker and the panel on 2 cores
BROKEN = b'raise RuntimeError("deliberately broken build")\n'


@pytest.fixture
def panel(stack):
    """The stack's app behind a real HTTP server, as the terminals' public URL."""
    server = make_server("127.0.0.1", 0, stack.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    stack.app.config["PUBLIC_URL"] = f"http://127.0.0.1:{server.server_port}"
    yield stack.app.config["PUBLIC_URL"]
    server.shutdown()
    thread.join(5)


def add_terminal(stack, device_id: str, like: str) -> None:
    """Register another terminal in the branch of `like`, write its config and the
    broker's files, and have Mosquitto reread them (SIGHUP)."""
    with stack.app.app_context():
        session = db.session
        branch_id = session.get(Device, like).branch_id
        credentials = devices.register_device(session, actor=SYSTEM, device_id=device_id,
                                              branch_id=branch_id)
        devices.write_terminal_config(devices.terminal_config(
            session, credentials, mqtt_host="127.0.0.1", mqtt_port=stack.broker.port),
            stack.instance_dir / "devices")
        devices.write_broker_config(
            session, stack.broker.config_dir, port=stack.broker.port,
            backend_port=stack.broker.backend_port,
            backend_username=stack.app.config["MQTT_USERNAME"],
            backend_password=stack.app.config["MQTT_PASSWORD"])
        session.remove()
    os.kill(stack.broker.process.pid, signal.SIGHUP)


def updatable_config(stack, device_id: str, folder: Path) -> Path:
    """The terminal's config for development: http:// downloads (mqtt.insecure) and a
    short trial."""
    config = stack.device_config(device_id)
    config["mqtt"]["insecure"] = True
    config["ota_trial_s"] = TRIAL_S
    path = folder / device_id / "config.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(config))
    return path


def snapshot(stack) -> dict:
    with stack.app.app_context():
        rows = {row.device_id: (row.state, row.build.version, row.detail)
                for row in db.session.query(FirmwareRollout)}
        fleet = {device.id: (device.firmware_version, device.firmware_kind)
                 for device in db.session.query(Device)}
        db.session.remove()
    return {"rollouts": rows, "devices": fleet}


def wait_for(stack, done, terminals, timeout_s=WAIT_S) -> dict:
    """Polls the database (bounded) until `done(snapshot)`; the terminals' logs otherwise."""
    try:
        return waiting.wait_for(lambda: (lambda seen: seen if done(seen) else None)(
            snapshot(stack)), timeout_s, "the rollout reached its expected state", interval_s=0.2)
    except waiting.WaitTimedOut as timed_out:
        logs = "\n".join(f"--- {name}\n{term.log_text()[-3000:]}\n{term.stderr_text()[-2000:]}"
                         for name, term in terminals.items())
        raise AssertionError(f"{timed_out}: {snapshot(stack)}\n{logs}") from None


def upload(client, tar: Path) -> None:
    response = client.post("/firmware", data={"build": (BytesIO(tar.read_bytes()), tar.name),
                                              "note": ""},
                           content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]


def test_rollout_to_a_branch_then_a_broken_build_rolls_back(stack, panel, tmp_path):
    add_terminal(stack, "t03", like="t01")  # t01, t03: central; t02: the second branch
    with stack.app.app_context():
        factories.staff_user(db.session, username="ota-admin")
        db.session.commit()
        central = db.session.get(Device, "t01").branch_id
        db.session.remove()
    client = stack.app.test_client()
    assert AuthActions(client).login("ota-admin").status_code == 302
    good, broken = tmp_path / "vafa-9.9.1.tar", tmp_path / "vafa-9.9.2.tar"
    ota_build.make_build(good, version="9.9.1", source=True)
    broken_files = ota_build.firmware_files(Path(ota_build.__file__).parents[1] / "firmware",
                                            source=True, version="9.9.2")
    broken_files["vafa/app.py"] = BROKEN
    ota_build.write_build(broken, broken_files, version="9.9.2", kind="py")

    base = tmp_path / "vafa-base.tar"
    ota_build.make_build(base, source=True)  # the repo's firmware at its own version
    factory = ota_build.read_version(Path(ota_build.__file__).parents[1] / "firmware")
    for name in ("t01", "t02", "t03"):
        assert install_build(base, tmp_path / "flash" / name) == factory
    terminals = {name: TerminalProcess(updatable_config(stack, name, tmp_path / "configs"),
                                       tmp_path / "flash" / name)
                 for name in ("t01", "t02", "t03")}
    try:
        for term in terminals.values():
            term.start()
        wait_for(stack, lambda s: all(s["devices"][name] == (factory, "py")
                                      for name in terminals), terminals)

        upload(client, good)
        with stack.app.app_context():
            build_id = db.session.query(FirmwareBuild).filter_by(version="9.9.1").one().id
            db.session.remove()
        response = client.post(f"/firmware/{build_id}/rollout", data={
            "target": "branch", "branch_id": str(central), "device_id": ""},
            follow_redirects=True)
        assert "ساخت 9.9.1 به ۲ پایانه پیشنهاد شد." in response.get_data(as_text=True)

        seen = wait_for(stack, lambda s: all(
            s["rollouts"].get(name, ("",))[0] == "running" and s["devices"][name][0] == "9.9.1"
            for name in ("t01", "t03")), terminals)
        assert "t02" not in seen["rollouts"] and seen["devices"]["t02"][0] == factory
        for name in ("t01", "t03"):
            # The backend's answer confirmed the trial on the terminal's flash too.
            assert terminals[name].wait_log("update 9.9.1 confirmed", WAIT_S), \
                terminals[name].log_text()[-3000:]
            assert terminals[name].boot_json()["active"] == "9.9.1"
            assert not terminals[name].boot_json()["trial"]
        assert terminals["t02"].boot_json()["active"] == factory
        listing = client.get("/terminals").get_data(as_text=True)
        for name in ("t01", "t03"):
            cell = listing.split(f'data-device="{name}"')[1].split("</tr>")[0]
            assert 'data-rollout="running"' in cell and "در حال اجرا" in cell
            assert "9.9.1" in cell
        assert "data-rollout" not in listing.split('data-device="t02"')[1].split("</tr>")[0]

        upload(client, broken)
        with stack.app.app_context():
            broken_id = db.session.query(FirmwareBuild).filter_by(version="9.9.2").one().id
            db.session.remove()
        response = client.post(f"/firmware/{broken_id}/rollout", data={
            "target": "terminal", "branch_id": str(central), "device_id": "t01"},
            follow_redirects=True)
        assert "ساخت 9.9.2 به ۱ پایانه پیشنهاد شد." in response.get_data(as_text=True)
        seen = wait_for(stack, lambda s: s["rollouts"]["t01"][0] == "rolled_back", terminals)
        state, version, detail = seen["rollouts"]["t01"]
        assert version == "9.9.2" and "deliberately broken build" in detail
        # It came back by itself, on the version it had, and still reaches the backend.
        seen = wait_for(stack, lambda s: s["devices"]["t01"][0] == "9.9.1", terminals)
        assert terminals["t01"].boot_json()["active"] == "9.9.1"
        assert seen["rollouts"]["t03"][:2] == ("running", "9.9.1")
        page = client.get("/terminals/t01").get_data(as_text=True)
        section = page.split('id="terminal-firmware"')[1].split("</section>")[0]
        assert 'data-rollout="rolled_back"' in section and "به نسخهٔ قبل برگشت" in section
        assert "deliberately broken build" in section and "9.9.2" in section
    finally:
        codes = {name: term.stop() for name, term in terminals.items()}
    assert set(codes.values()) == {0}, {name: terminals[name].stderr_text()[-2000:]
                                        for name in terminals}
