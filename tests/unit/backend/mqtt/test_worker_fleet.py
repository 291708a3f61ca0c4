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
