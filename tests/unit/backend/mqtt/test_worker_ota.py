"""OTA at the worker (docs/protocol.md): a terminal's state with `fwk` and `ota` moves its
rollout row; its signed `op:"ota"` request is answered with a signed OK, stored (a retry
gets the same bytes), writes no ledger row, and marks the rollout `running`; a malformed
one is refused BAD_REQUEST, signed."""

import json

import pytest
from sqlalchemy import func, select

from backend import protocol
from backend.models import Device, FirmwareRollout, LedgerTransaction
from backend.mqtt.worker import Worker
from backend.services import firmware_builds
from backend.services.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW
from tests.unit.backend.services.test_firmware_builds import build_tar

TOPIC = "vafa/v1/dev/ota-01/req"
STATE = "vafa/v1/dev/ota-01/state"


@pytest.fixture
def worker(app, db, tmp_path):
    credentials = factories.device(db, device_id="ota-01")
    build = firmware_builds.upload_build(db, build_tar(tmp_path), actor=SYSTEM, note="",
                                         now=NOW)
    db.commit()
    return Worker(app, host="127.0.0.1", port=1, username="x", password="x"), bytes.fromhex(
        credentials.key_hex), build.id


def frame(key, **fields):
    body = {"v": 1, "id": "ota-abc", "seq": 7, "ts": 1, "op": "ota", "st": "trial",
            "ver": "9.9.1", **fields}
    return protocol.encode_frame(json.dumps(body, separators=(",", ":")).encode(), key)


def test_state_then_confirmation_through_the_worker(worker, db):
    w, key, build = worker
    w.handle_state(STATE, json.dumps({"online": True, "fw": "0.3.0", "fwk": "py"}).encode())
    db.expire_all()
    assert db.get(Device, "ota-01").firmware_kind == "py"
    firmware_builds.roll_out(db, lambda *_: None, build, base_url="http://x", now=NOW, actor=SYSTEM,
                             device_id="ota-01")
    db.commit()
    w.handle_state(STATE, json.dumps({"online": True, "fw": "0.3.0", "fwk": "py", "ota": {
        "ver": "9.9.1", "st": "installed"}}).encode())
    db.expire_all()
    assert db.get(FirmwareRollout, "ota-01").state == "installed"

    topic, reply = w.handle(TOPIC, frame(key))
    assert topic == "vafa/v1/dev/ota-01/res"
    body = json.loads(protocol.decode_frame(reply, key))
    assert (body["id"], body["ok"], body["code"], body["msg"]) == ("ota-abc", True, "OK", "")
    assert w.handle(TOPIC, frame(key)) == (topic, reply)  # a retry: the same bytes
    db.expire_all()
    assert db.get(FirmwareRollout, "ota-01").state == "running"
    assert db.get(Device, "ota-01").firmware_version == "9.9.1"
    assert db.scalar(select(func.count()).select_from(LedgerTransaction)) == 0


def test_a_malformed_ota_request_is_refused_signed(worker, db):
    w, key, _ = worker
    _, reply = w.handle(TOPIC, frame(key, id="ota-bad", seq=8, card="9900010000000019"))
    body = json.loads(protocol.decode_frame(reply, key))
    assert (body["id"], body["ok"], body["code"]) == ("ota-bad", False, "BAD_REQUEST")
    db.expire_all()
    assert db.get(FirmwareRollout, "ota-01") is None


@pytest.mark.parametrize("extra", [{"use_points": -1}, {"use_credit": -1}, {"amount": 1000}])
def test_an_ota_request_carries_no_money_fields(worker, db, extra):
    w, key, _ = worker
    _, reply = w.handle(TOPIC, frame(key, id="ota-money", seq=9, **extra))
    body = json.loads(protocol.decode_frame(reply, key))
    assert (body["ok"], body["code"]) == (False, "BAD_REQUEST")
    assert db.scalar(select(func.count()).select_from(LedgerTransaction)) == 0
