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
from sqlalchemy import func, select

from backend import protocol
from backend.models import LedgerEntry, Purchase, TerminalRequest
from backend.mqtt.worker import Worker
from tests import factories

CODES = {"CARD_INVALID", "CARD_UNKNOWN", "CARD_BLOCKED", "INSUFFICIENT_CREDIT", "LIMIT",
         "BAD_REQUEST", "REPLAY", "STALE", "REF_UNKNOWN", "UNAVAILABLE", "ID_REUSED"}
UNIQUE = itertools.count(1)
TOPIC = "vafa/v1/dev/fz-01/req"
SETTINGS = settings(max_examples=150, deadline=2000,
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
