"""Hostile MQTT frames at the worker (PROTOCOL.md "Framing"): generated and mutated bodies
— bad JSON, wrong types, huge numbers, unicode tricks, oversize, truncated or wrong
signatures, a valid signature over garbage. The worker never raises or hangs, drops what
PROTOCOL.md says to drop, answers the rest with a signed refusal naming the request id it
could read, and a refused frame changes nothing but storing its refusal (once, when it
has a readable id)."""

import itertools
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import func, select

from backend import protocol
from backend.models import (
    Device,
    FirmwareRollout,
    LedgerEntry,
    LedgerTransaction,
    Purchase,
    TerminalHealth,
    TerminalRequest,
)
from backend.mqtt.worker import Worker
from backend.services import firmware_builds
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW
from tests.unit.backend.services.test_firmware_builds import build_tar

CODES = {"CARD_INVALID", "CARD_UNKNOWN", "CARD_BLOCKED", "INSUFFICIENT_CREDIT", "LIMIT",
         "BAD_REQUEST", "REPLAY", "STALE", "REF_UNKNOWN", "UNAVAILABLE", "ID_REUSED"}
UNIQUE = itertools.count(1)
TOPIC = "vafa/v1/dev/fz-01/req"
SETTINGS = settings(max_examples=150,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

json_scalars = st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(
    alphabet=st.characters(codec="utf-8"), max_size=40)
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                           max_leaves=12)
TRICKY_TEXT = st.sampled_from([
    "9900010000000019\u202e", "\u06f9\u06f9\u06f0\u06f0\u06f0\u06f1" + "0" * 9 + "9",
    "９９００１００００００００１９", "9900010000000019\x00", "\ufeff9900010000000019", "",
    "t1-000001\u200b", "purchase\u0301", "a" * 3000, "-1", "1e9", "NaN",
])
field_values = json_values | TRICKY_TEXT | st.sampled_from(
    [10**13 + 1, 2**63, -(2**63), 0, -1, 1.5, True, [], {}, "250000"])


@pytest.fixture
def worker(app, db):
    credentials = factories.device(db, device_id="fz-01")
    factories.member(db)
    db.commit()
    return Worker(app, host="127.0.0.1", port=1, username="x", password="x"), bytes.fromhex(
        credentials.key_hex)


def counts(db):
    return tuple(db.scalar(select(func.count()).select_from(model))
                 for model in (Purchase, LedgerEntry, TerminalRequest))


def check_answer(db, worker, payload: bytes, key: bytes, before) -> dict | None:
    reply = worker.handle(TOPIC, payload)
    if reply is None:
        assert counts(db) == before
        return None
    topic, frame = reply
    assert topic == "vafa/v1/dev/fz-01/res"
    body = json.loads(protocol.decode_frame(frame, key))
    assert body["v"] == 1 and isinstance(body["msg"], str) and len(body["msg"]) <= 120
    if body["ok"]:
        assert body["code"] == "OK"
    else:
        assert body["code"] in CODES
        # A refusal changes nothing; it is stored (one row) only under a readable id.
        after = counts(db)
        assert after[:2] == before[:2]
        stored = 0 if body["id"] is None or body["code"] in ("ID_REUSED", "UNAVAILABLE") else 1
        assert after[2] - before[2] in (0, stored)  # 0: the same id's refusal, again
    assert worker.counters["crash"] == 0
    return body


@SETTINGS
@given(garbage=st.binary(max_size=600))
def test_a_valid_signature_over_garbage_is_refused_and_writes_nothing(worker, db, garbage):
    handler, key = worker
    before = counts(db)
    body = check_answer(db, handler, protocol.encode_frame(garbage, key), key, before)
    assert body is not None and body["ok"] is False


@SETTINGS
@given(value=json_values)
def test_any_signed_json_value_is_answered_or_refused(worker, db, value):
    handler, key = worker
    before = counts(db)
    payload = protocol.encode_frame(json.dumps(value).encode(), key)
    body = check_answer(db, handler, payload, key, before)
    assert body is not None and body["ok"] is False


@SETTINGS
@given(field=st.sampled_from(["v", "id", "seq", "ts", "op", "card", "amount", "use_credit",
                              "items", "ref", "offline"]),
       value=field_values, drop=st.booleans())
def test_one_hostile_field_in_a_valid_request(worker, db, field, value, drop):
    handler, key = worker
    before = counts(db)
    number = next(UNIQUE)
    request = {"v": 1, "id": f"fz-{number:06d}", "seq": number, "ts": 1763800000,
               "op": "purchase",
               "card": "9900010000000027", "amount": 250000, "use_credit": 0}
    if drop:
        request.pop(field, None)
    else:
        request[field] = value
    payload = protocol.encode_frame(json.dumps(request, ensure_ascii=False).encode(), key)
    body = check_answer(db, handler, payload, key, before)
    assert body is not None
    if not body["ok"] and isinstance(request.get("id"), str) and \
            protocol.REQUEST_ID_PATTERN.fullmatch(request["id"]):
        if body["id"] is None:  # too deep to parse at all: nothing read, nothing stored
            assert body["msg"] == f"Bad request: body nested deeper than {protocol.MAX_JSON_DEPTH}"
        else:
            assert body["id"] == request["id"]  # the refusal names the request it read


@SETTINGS
@given(cut=st.integers(1, 64), flip=st.integers(0, 10_000), pad=st.integers(1, 5000),
       how=st.sampled_from(["truncate", "flip", "pad", "upper", "nosig", "wrongkey",
                            "double_newline"]))
def test_mutated_signatures_and_sizes_are_dropped(worker, db, cut, flip, pad, how):
    handler, key = worker
    before = counts(db)
    body = (b'{"v":1,"id":"fz-000002","seq":2,"ts":1763800000,"op":"purchase",'
            b'"card":"9900010000000027","amount":1000,"use_credit":0}')
    frame = protocol.encode_frame(body, key)
    mutated = {
        "truncate": frame[:-cut],
        "flip": bytes(b ^ 1 if i == flip % len(frame) else b for i, b in enumerate(frame)),
        "pad": body + b" " * (protocol.MAX_PAYLOAD_BYTES + pad) + frame[len(body):],
        "upper": body + b"\n" + frame[len(body) + 1:].upper(),
        "nosig": body,
        "wrongkey": protocol.encode_frame(body, b"\x01" * 32),
        "double_newline": body + b"\n\n" + frame[len(body) + 1:],
    }[how]
    if mutated == frame:  # e.g. upper-casing a signature of digits only
        return
    assert handler.handle(TOPIC, mutated) is None
    assert counts(db) == before
    assert handler.counters["crash"] == 0


@pytest.mark.parametrize("topic", ["vafa/v1/dev/FZ-01/req", "vafa/v1/dev/fz-01/req/x",
                                   "vafa/v1/dev/../req", "vafa/v1/dev/fz-01/res",
                                   "vafa/v1/dev/" + "a" * 40 + "/req", "vafa/v1/dev/zz-99/req"])
def test_frames_on_strange_topics_or_from_unknown_devices_are_dropped(worker, db, topic):
    handler, key = worker
    before = counts(db)
    frame = protocol.encode_frame(b'{"v":1}', key)
    assert handler.handle(topic, frame) is None
    assert counts(db) == before


# Issue 16 at the worker: a terminal's logs answer (a signed req op "logs") is stored and
# never answered; a frame its key does not verify counts against that terminal (wrong key);
# a hostile state frame is harmless.
def test_logs_answer_is_stored_not_answered(worker, db):
    w, key = worker
    body = json.dumps({"v": 1, "op": "logs", "id": "cmd-1", "ts": 1, "lines": ["a", "b"]})
    assert w.handle(TOPIC, protocol.encode_frame(body.encode(), key)) is None
    db.expire_all()
    assert db.get(TerminalHealth, "fz-01").log_lines == ["a", "b"]
    assert w.counters["logs"] == 1
    # unsigned "logs": dropped as any bad frame, and it counts as a wrong key
    forged = protocol.encode_frame(body.replace('"a"', '"forged"').encode(), b"k" * 32)
    assert w.handle(TOPIC, forged) is None
    db.expire_all()
    row = db.get(TerminalHealth, "fz-01")
    assert row.log_lines == ["a", "b"] and row.bad_signatures == 1
    assert w.counters["dropped_bad_signature"] == 1
    for _ in range(5):  # a flood: counted, written once a minute at most
        assert w.handle(TOPIC, forged) is None
    db.expire_all()
    assert db.get(TerminalHealth, "fz-01").bad_signatures == 1
    assert w.counters["dropped_bad_signature"] == 6


@pytest.mark.parametrize("payload", [b"", b"\x00" * 3000, b'{"online":true,"up":{}}' * 50,
                                     b'{"online":true,"up":1e999}', b'[[[[[[[[[[]]]]]]]]]]'])
def test_hostile_state_frames_are_harmless(worker, db, payload):
    w, _ = worker
    w.handle_state("vafa/v1/dev/fz-01/state", payload)
    w.handle_state("vafa/v1/dev/fz-01/state", b'{"online":true,"up":5,"heap":1}')
    db.expire_all()
    assert db.get(TerminalHealth, "fz-01").free_heap == 1


def test_a_reflashed_terminal_gets_its_config_again_from_the_worker(worker, db):
    from backend.services import terminal_commands

    w, key = worker
    published = []
    w.client.publish = lambda topic, frame, qos=0: published.append((topic, frame, qos))
    terminal_commands.stage_config(db, "fz-01", {"idle_s": 45})
    db.commit()
    state = {"online": True, "up": 5, "cfg": 0}
    w.handle_state("vafa/v1/dev/fz-01/state", json.dumps(state).encode())
    assert [(topic, qos) for topic, _frame, qos in published] == [("vafa/v1/dev/fz-01/cmd", 1)]
    body = json.loads(protocol.decode_frame(published[0][1], key))
    assert (body["op"], body["cfg_ver"], body["settings"]) == ("set", 1, {"idle_s": 45})
    # the same state again (retained, or every 60 s): not re-sent
    w.handle_state("vafa/v1/dev/fz-01/state", json.dumps(state).encode())
    assert len(published) == 1
    db.expire_all()
    assert terminal_commands.last_resend(db, "fz-01").cfg_ver == 1


# OTA at the worker (docs/protocol.md): a terminal's state with `fwk` and `ota` moves its
# rollout row; its signed `op:"ota"` request is answered with a signed OK, stored (a retry
# gets the same bytes), writes no ledger row, and marks the rollout `running`; a malformed
# one is refused BAD_REQUEST, signed.
OTA_TOPIC = "vafa/v1/dev/ota-01/req"
OTA_STATE = "vafa/v1/dev/ota-01/state"


@pytest.fixture
def ota_worker(app, db, tmp_path):
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


def test_state_then_confirmation_through_the_worker(ota_worker, db):
    w, key, build = ota_worker
    w.handle_state(OTA_STATE, json.dumps({"online": True, "fw": "0.3.0", "fwk": "py"}).encode())
    db.expire_all()
    assert db.get(Device, "ota-01").firmware_kind == "py"
    firmware_builds.roll_out(db, lambda *_: None, build, base_url="http://x", now=NOW, actor=SYSTEM,
                             device_id="ota-01")
    db.commit()
    w.handle_state(OTA_STATE, json.dumps({"online": True, "fw": "0.3.0", "fwk": "py", "ota": {
        "ver": "9.9.1", "st": "installed"}}).encode())
    db.expire_all()
    assert db.get(FirmwareRollout, "ota-01").state == "installed"

    topic, reply = w.handle(OTA_TOPIC, frame(key))
    assert topic == "vafa/v1/dev/ota-01/res"
    body = json.loads(protocol.decode_frame(reply, key))
    assert (body["id"], body["ok"], body["code"], body["msg"]) == ("ota-abc", True, "OK", "")
    assert w.handle(OTA_TOPIC, frame(key)) == (topic, reply)  # a retry: the same bytes
    db.expire_all()
    assert db.get(FirmwareRollout, "ota-01").state == "running"
    assert db.get(Device, "ota-01").firmware_version == "9.9.1"
    assert db.scalar(select(func.count()).select_from(LedgerTransaction)) == 0


def test_a_malformed_ota_request_is_refused_signed(ota_worker, db):
    w, key, _ = ota_worker
    _, reply = w.handle(OTA_TOPIC, frame(key, id="ota-bad", seq=8, card="9900010000000019"))
    body = json.loads(protocol.decode_frame(reply, key))
    assert (body["id"], body["ok"], body["code"]) == ("ota-bad", False, "BAD_REQUEST")
    db.expire_all()
    assert db.get(FirmwareRollout, "ota-01") is None


@pytest.mark.parametrize("extra", [{"use_points": -1}, {"use_credit": -1}, {"amount": 1000}])
def test_an_ota_request_carries_no_money_fields(ota_worker, db, extra):
    w, key, _ = ota_worker
    _, reply = w.handle(OTA_TOPIC, frame(key, id="ota-money", seq=9, **extra))
    body = json.loads(protocol.decode_frame(reply, key))
    assert (body["ok"], body["code"]) == (False, "BAD_REQUEST")
    assert db.scalar(select(func.count()).select_from(LedgerTransaction)) == 0


# The worker counts as subscribed only once the broker's SUBACK grants its request
# subscription (not when it sent SUBSCRIBE): tests and the supervisor wait on it.
def test_subscribed_waits_for_the_brokers_grant(app):
    worker = Worker(app, host="127.0.0.1", port=1, username="x", password="x")
    worker._request_subscription_mid = 7
    granted = [ReasonCode(PacketTypes.SUBACK, "Granted QoS 1")]
    refused = [ReasonCode(PacketTypes.SUBACK, "Not authorized")]
    worker._on_subscribe(worker.client, None, 8, granted, None)  # the state subscription
    assert worker.subscribed is False
    worker._on_subscribe(worker.client, None, 7, refused, None)
    assert worker.subscribed is False
    worker._on_subscribe(worker.client, None, 7, granted, None)
    assert worker.subscribed is True
