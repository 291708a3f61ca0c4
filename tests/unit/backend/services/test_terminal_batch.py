"""Group commit (docs/hot-path.md "Group commit"): `terminal.answer_batch` answers several
requests in one transaction, a savepoint each, with the bytes `answer` gives one by one."""

import json

import pytest
from sqlalchemy import func, select

from backend.models import Device, Purchase, TerminalRequest
from backend.services import terminal
from tests import factories
from tests.conftest import NOW
from tests.unit.backend.services.test_terminal import request

UNKNOWN_CARD = "9900019999999"


def script(cards):
    """One till's requests: sales, a spend, a lookup, an unknown card in the middle, a
    repeat of the first id, a replayed seq and a sale after them."""
    first, second = cards
    return [
        request(first, seq=1),
        request(second, seq=2, use_credit=10_000),
        request(first, seq=3, op="lookup"),
        request(UNKNOWN_CARD, seq=4),
        request(first, seq=1),  # the first request again: its stored bytes
        request(second, seq=2, request_id="t01-other"),  # an old seq: REPLAY
        request(second, seq=7),
    ]


def two_members(db):
    return [factories.card_of(factories.member(db, credit_rials=50_000)) for _ in range(2)]


@pytest.fixture
def tills(db):
    factories.device(db, device_id="t01")
    factories.device(db, device_id="t02")
    db.commit()


def codes(bodies):
    return [json.loads(body)["code"] for body in bodies]


def test_a_batch_gives_the_bytes_of_one_by_one_answers(db, tills):
    alone = [terminal.answer(db, "t02", item, NOW) for item in script(two_members(db))]
    batched = terminal.answer_batch(
        db, [("t01", item) for item in script(two_members(db))], NOW)
    assert batched == alone
    assert codes(batched) == ["OK", "OK", "OK", "CARD_UNKNOWN", "OK", "REPLAY", "OK"]
    assert json.loads(batched[5])["last_seq"] == 4
    assert db.get(Device, "t01").last_seq == 7


def test_a_refusal_in_the_middle_keeps_the_answers_around_it(db, tills):
    first, second = two_members(db)
    bodies = terminal.answer_batch(db, [
        ("t01", request(first, seq=1)),
        ("t01", request(UNKNOWN_CARD, seq=2)),
        ("t01", request(second, seq=3)),
    ], NOW)
    assert codes(bodies) == ["OK", "CARD_UNKNOWN", "OK"]
    assert db.scalar(select(func.count()).select_from(Purchase)) == 2
    stored = dict(db.execute(select(TerminalRequest.request_id, TerminalRequest.code)).all())
    assert stored == {"t01-000001": "OK", "t01-000002": "CARD_UNKNOWN", "t01-000003": "OK"}


def test_a_repeat_id_in_the_same_batch_is_answered_once(db, tills):
    first, _ = two_members(db)
    bodies = terminal.answer_batch(
        db, [("t01", request(first, seq=1)), ("t01", request(first, seq=1))], NOW)
    assert bodies[0] == bodies[1] and codes(bodies) == ["OK", "OK"]
    assert db.scalar(select(func.count()).select_from(Purchase)) == 1


def test_a_replayed_seq_is_refused_with_the_floor(db, tills):
    first, second = two_members(db)
    bodies = terminal.answer_batch(db, [
        ("t01", request(first, seq=5)),
        ("t01", request(second, seq=3)),
    ], NOW)
    refusal = json.loads(bodies[1])
    assert (refusal["code"], refusal["last_seq"]) == ("REPLAY", 5)
    assert db.scalar(select(func.count()).select_from(Purchase)) == 1


def test_a_fault_rolls_back_what_was_not_committed(db, tills, monkeypatch):
    first, second = two_members(db)
    real_run_op = terminal._run_op
    calls = []

    def failing_second_time(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("a bug in the second request")
        return real_run_op(*args, **kwargs)

    monkeypatch.setattr(terminal, "_run_op", failing_second_time)
    with pytest.raises(terminal.BatchStopped) as stopped:
        terminal.answer_batch(
            db, [("t01", request(first, seq=1)), ("t01", request(second, seq=2))], NOW)
    assert stopped.value.answered == []
    assert isinstance(stopped.value.cause, RuntimeError)
    assert db.scalar(select(func.count()).select_from(Purchase)) == 0
    assert db.get(Device, "t01").last_seq == 0


def test_answers_committed_at_a_refusal_survive_a_later_fault(db, tills, monkeypatch):
    first, second = two_members(db)
    real_run_op = terminal._run_op

    def failing_for_the_second_card(session, device, card, member, item, now, *rest):
        if item.card == second:
            raise RuntimeError("a bug")
        return real_run_op(session, device, card, member, item, now, *rest)

    monkeypatch.setattr(terminal, "_run_op", failing_for_the_second_card)
    with pytest.raises(terminal.BatchStopped) as stopped:
        terminal.answer_batch(db, [
            ("t01", request(first, seq=1)),
            ("t01", request(UNKNOWN_CARD, seq=2)),
            ("t01", request(second, seq=3)),
        ], NOW)
    assert codes(stopped.value.answered) == ["OK", "CARD_UNKNOWN"]
    assert db.scalar(select(func.count()).select_from(Purchase)) == 1
    assert db.get(Device, "t01").last_seq == 2
