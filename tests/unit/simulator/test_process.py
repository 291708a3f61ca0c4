"""An updatable simulated terminal (simulator.process) through the real Mosquitto: a cmd
"ota" for a `provisioning build --source` build served over HTTP, the download, the
reboot (the process re-executes itself), the trial boot confirmed by the backend's signed
answer to op "ota"; then a build whose vafa/app.py raises on import comes back on the
previous version by itself, and the state says rolled_back with the error. The backend
is played by a paho client that signs with the device key, as the worker does."""

import hashlib
import importlib
import json
import time

import pytest

from provisioning import ota_build
from simulator.process import TerminalProcess, install_build
from tests.firmware import test_mqtt_mosquitto as mosquitto_tests
from tests.firmware.test_mqtt_mosquitto import (  # noqa: F401 (the fixture)
    DEVICE,
    DEVICE_PW,
    mosquitto,
)
from tests.support.http_server import FileServer, publish_build, serving
from tests.support.waiting import wait_for

protocol = importlib.import_module("vafa.protocol")  # on sys.path once simulator is in
KEY = bytes(range(32))
REQ, RES = f"vafa/v1/dev/{DEVICE}/req", f"vafa/v1/dev/{DEVICE}/res"
STATE, CMD = f"vafa/v1/dev/{DEVICE}/state", f"vafa/v1/dev/{DEVICE}/cmd"


@pytest.fixture
def http():
    FileServer.files = {}
    with serving() as httpd:
        yield f"http://127.0.0.1:{httpd.server_port}"


class Backend(mosquitto_tests.Backend):
    """Answers op "ota" requests with a signed OK, keeps the last state."""

    def __init__(self, port):
        self.states: list[dict] = []
        self.ota_requests: list[dict] = []
        super().__init__(port)

    def _on_message(self, client, userdata, message):
        payload = bytes(message.payload)
        with self.cond:
            if message.topic == STATE:
                self.states.append(json.loads(payload))
            else:
                body = protocol.decode_frame(payload, KEY)
                req = json.loads(body) if body else {}
                if req.get("op") == "ota":
                    self.ota_requests.append(req)
                    answer = {"v": 1, "id": req["id"], "ok": True, "code": "OK", "msg": "",
                              "ts": int(time.time())}
                    client.publish(RES, protocol.encode_frame(
                        json.dumps(answer, separators=(",", ":")).encode(), KEY), qos=1)
            self.cond.notify_all()

    def wait_state(self, pred, timeout_s):
        with self.cond:
            return self.cond.wait_for(lambda: self.states and pred(self.states[-1]), timeout_s)

    def cmd(self, body):
        frame = protocol.encode_frame(json.dumps(body, separators=(",", ":")).encode(), KEY)
        self.publish(CMD, frame)


def offer(base, ver, raw, files, sha_dir):
    prefix = f"/fw/{sha_dir}/"
    publish_build(raw, files, prefix)
    return {"v": 1, "id": f"cmd-{ver}", "ts": int(time.time()), "op": "ota", "ver": ver,
            "kind": "py", "url": base + prefix, "sha256": hashlib.sha256(raw).hexdigest(),
            "size": sum(len(b) for b in files.values())}


def test_an_update_is_taken_confirmed_and_a_broken_one_rolls_back(tmp_path, mosquitto, http):  # noqa: F811, E501
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "device_id": DEVICE, "key_hex": KEY.hex(), "lang": "en", "club_name": "Club",
        "mqtt": {"host": "127.0.0.1", "port": mosquitto.port, "user": DEVICE,
                 "password": DEVICE_PW, "tls": False, "insecure": True, "keepalive_s": 30},
        "ota_trial_s": 20}))
    good = tmp_path / "good.tar"
    ota_build.make_build(good, version="9.9.1", source=True)
    raw, files = ota_build.read_build(good)
    broken_files = ota_build.firmware_files(ota_build.Path(ota_build.__file__).parents[1]
                                            / "firmware", source=True, version="9.9.2")
    broken_files["vafa/app.py"] = b'raise RuntimeError("deliberately broken build")\n'
    broken_raw = ota_build.write_build(tmp_path / "broken.tar", broken_files, version="9.9.2",
                                       kind="py")

    backend = Backend(mosquitto.backend_port)
    term = TerminalProcess(config, tmp_path / "flash").start()
    try:
        assert backend.wait_state(lambda s: s.get("online") and s.get("fwk") == "py", 30), \
            term.log_text() + term.stderr_text()
        factory = backend.states[-1]["fw"]
        backend.cmd(offer(http, "9.9.1", raw, files, "a1"))
        assert backend.wait_state(lambda s: s.get("fw") == "9.9.1"
                                  and (s.get("ota") or {}).get("st") == "running", 60), \
            term.log_text() + term.stderr_text()
        assert [r["ver"] for r in backend.ota_requests] == ["9.9.1"]
        assert backend.ota_requests[0]["st"] == "trial"
        assert term.boot_json() == {"active": "9.9.1", "prev": "", "trial": False,
                                    "boots": 0, "trial_s": 20}
        assert "[boot] n=2 active=9.9.1 trial=true" in term.log_text()

        backend.cmd(offer(http, "9.9.2", broken_raw, broken_files, "b2"))
        assert backend.wait_state(lambda s: s.get("fw") == "9.9.1"
                                  and (s.get("ota") or {}).get("st") == "rolled_back", 60), \
            term.log_text() + term.stderr_text()
        ota = backend.states[-1]["ota"]
        assert ota["ver"] == "9.9.2"
        assert "deliberately broken build" in ota["err"]
        assert term.boot_json()["active"] == "9.9.1"
        # Its flash is freed a few files per loop pass.
        wait_for(lambda: not (tmp_path / "flash" / "fw" / "9.9.2").exists(), 10,
                 "the broken build's files were removed")
        assert factory != "9.9.1"
    finally:
        code = term.stop()
        backend.close()
    assert code == 0, term.stderr_text()


def test_a_preinstalled_source_build_is_what_the_process_runs(tmp_path):
    """install_build: the e2e's terminals start on a `--source` build of the repo."""
    build = tmp_path / "b.tar"
    ota_build.make_build(build, version="9.9.0", source=True)
    assert install_build(build, tmp_path / "flash") == "9.9.0"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"device_id": DEVICE, "key_hex": KEY.hex(),
                                  "mqtt": {"host": "127.0.0.1", "port": 1, "tls": False}}))
    term = TerminalProcess(config, tmp_path / "flash").start()
    try:
        assert term.wait_log("[boot] running 9.9.0", 30), term.log_text() + term.stderr_text()
        assert f"code={tmp_path / 'flash' / 'fw' / '9.9.0'}" in term.log_text()
    finally:
        assert term.stop() == 0, term.stderr_text()
    assert term.log_text().rstrip().endswith("[boot] stopped")


def test_a_trial_that_never_confirms_is_reverted_after_trial_s(tmp_path):
    """No broker: the trial build runs but never gets its answer; after trial_s the
    loader's check reverts it and the process re-executes on the factory firmware."""
    build = tmp_path / "b.tar"
    ota_build.make_build(build, version="9.9.5", source=True)
    install_build(build, tmp_path / "flash")
    boot = tmp_path / "flash" / "fw" / "boot.json"
    boot.write_text(json.dumps({"active": "9.9.5", "prev": "", "trial": True, "boots": 0,
                                "trial_s": 5}))
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"device_id": DEVICE, "key_hex": KEY.hex(),
                                  "mqtt": {"host": "127.0.0.1", "port": 1, "tls": False}}))
    term = TerminalProcess(config, tmp_path / "flash").start()
    try:
        assert term.wait_log("[boot] n=2 active= trial=false", 40), \
            term.log_text() + term.stderr_text()
    finally:
        assert term.stop() == 0, term.stderr_text()
    log = term.log_text()
    assert "[boot] n=1 active=9.9.5 trial=true" in log
    assert "[boot] trial not confirmed in 5 s: reverted" in log
    assert "update 9.9.5 rolled_back: not confirmed in 5 s" in log
    assert term.boot_json() is None  # the factory firmware
    assert json.loads((tmp_path / "flash" / "fw" / "result.json").read_text())["st"] == \
        "rolled_back"
