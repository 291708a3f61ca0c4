"""Issue 16 at the worker: a terminal's logs answer (a signed req op "logs") is stored and
never answered; a frame its key does not verify counts against that terminal (wrong key);
a hostile state frame is harmless."""

import json

import pytest

from backend import protocol
from backend.models import TerminalHealth
from backend.mqtt.worker import Worker
from tests import factories

TOPIC = "vafa/v1/dev/fz-01/req"


@pytest.fixture
def worker(app, db):
    credentials = factories.device(db, device_id="fz-01")
    db.commit()
    return Worker(app, host="127.0.0.1", port=1, username="x", password="x"), bytes.fromhex(
        credentials.key_hex)


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
