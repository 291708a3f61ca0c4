"""The worker under faults: a temporary database fault, or anything unexpected a frame
raises, is answered UNAVAILABLE and acknowledged (never left for the broker to hand back),
a held database lock costs a frame a bounded wait, and nothing is half-written."""

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from backend import protocol
from backend.extensions import db
from backend.models import LedgerEntry, Purchase, TerminalRequest
from backend.mqtt import worker as worker_module
from backend.services import terminal


def counts(stack):
    with stack.app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(model))
                     for model in (Purchase, LedgerEntry, TerminalRequest))


def database_down(*args, **kwargs):
    raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))


def test_database_gone_while_loading_the_device_answers_unavailable(stack, monkeypatch):
    with stack.terminal("t01") as till:
        till.send(till.request(1, op="lookup", amount=None, use_credit=None))
        assert till.wait_reply()["ok"] is True  # the worker has seen t01's key
        before = counts(stack)
        with monkeypatch.context() as patch:
            patch.setattr(terminal, "load_active_device", database_down)
            till.send(till.request(2))
            reply = till.wait_reply()
            assert (reply["ok"], reply["code"], reply["id"]) == (False, "UNAVAILABLE",
                                                                 "t01-000002")
            # Acknowledged: no redelivery storm while the database is away; the next
            # request's answer (UNAVAILABLE too) is the next thing to arrive.
            assert till.replies_before_lookup(900) == []
        assert counts(stack) == before
        # The terminal retries the same id once the database is back: charged once.
        till.send(till.request(2))
        assert till.wait_reply()["ok"] is True
    assert counts(stack)[0] == before[0] + 1
    assert stack.worker.counters["crash"] == 0


def test_a_device_never_seen_gets_no_reply_while_the_database_is_down(stack, monkeypatch):
    tried = threading.Event()

    def down_once_tried(*args, **kwargs):
        tried.set()
        database_down()

    with stack.terminal("t02") as till:
        with monkeypatch.context() as patch:
            patch.setattr(terminal, "load_active_device", down_once_tried)
            till.send(till.request(1))
            assert tried.wait(5), "the worker did not take the frame"
        # The database is back for the next frame, which the worker takes only after
        # finishing this one: its answer is the first to arrive.
        assert till.replies_before_lookup(900) == []
    assert stack.worker.counters["unavailable_unsigned"] == 1
    assert stack.worker.counters["crash"] == 0


def test_a_fault_during_the_transaction_commits_nothing(stack, monkeypatch):
    from backend.services import purchase_pipeline

    original = purchase_pipeline.run

    def fail_after_writing(session, **kwargs):
        original(session, **kwargs)  # the purchase and its entries are flushed…
        raise OperationalError("COMMIT", {}, Exception("connection lost"))  # …then lost

    monkeypatch.setattr(purchase_pipeline, "run", fail_after_writing)
    before = counts(stack)
    with stack.terminal("t01") as till:
        till.send(till.request(1))
        assert till.wait_reply()["code"] == "UNAVAILABLE"
    assert counts(stack) == before


def test_an_unexpected_error_is_answered_unavailable_and_not_redelivered(stack, monkeypatch):
    original = terminal.answer
    calls = []

    def fails_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug that strikes once")
        return original(*args, **kwargs)

    monkeypatch.setattr(terminal, "answer", fails_once)
    with stack.terminal("t01") as till:
        till.send(till.request(1))
        reply = till.wait_reply()
        assert (reply["code"], reply["id"]) == ("UNAVAILABLE", "t01-000001")
        till.send(till.request(1))  # the terminal's retry of the same id
        assert till.wait_reply()["ok"] is True
        # Acknowledged: the failed frame was not handed back to the worker (it would
        # have been answered before the next request).
        assert till.replies_before_lookup(2) == []
    assert len(calls) == 3  # the sale, its retry, the lookup
    assert stack.worker.counters["crash"] == 1
    assert counts(stack)[0] == 1


@pytest.mark.parametrize("raised", [RecursionError("deep"), OverflowError("int too large"),
                                    MemoryError(), KeyError("x")])
def test_whatever_a_frame_raises_the_worker_goes_on(stack, monkeypatch, raised):
    original = terminal.answer

    def poisoned(session, device_id, request, now):
        if request.amount == 666:
            raise raised
        return original(session, device_id, request, now)

    monkeypatch.setattr(terminal, "answer", poisoned)
    with stack.terminal("t01") as till:
        for seq in range(1, 31):  # more than the broker's in-flight window (20)
            till.send(till.request(seq, amount=666))
        till.send(till.request(31))
        replies = [till.wait_reply() for _ in range(31)]
        assert till.replies_before_lookup(900) == []  # nothing answered twice
    assert [reply["code"] for reply in replies] == ["UNAVAILABLE"] * 30 + ["OK"]
    assert stack.worker.counters["crash"] == 30
    assert counts(stack)[0] == 1


def test_the_pause_hook_is_inert_unless_its_variable_is_set(stack, monkeypatch, tmp_path):
    assert stack.worker._pause_hook is None
    monkeypatch.setenv(worker_module.PAUSE_AFTER_COMMIT_ENV, str(tmp_path / "trigger"))
    hook = worker_module.PauseAfterCommit.from_environ()
    # Set but without its trigger file: nothing happens, at the cost of one rename try.
    hook.maybe_pause("vafa/v1/dev/t01/req", b'{"ok":true}')
    assert not (tmp_path / "trigger.paused").exists()


@pytest.mark.parametrize("error", [
    OperationalError("x", {}, Exception("database is locked")),
])
def test_temporary_faults_are_recognised(error):
    from backend.database import is_temporary_fault

    assert is_temporary_fault(error)
    assert not is_temporary_fault(RuntimeError("bug"))
    assert not is_temporary_fault(protocol.FrameError("bad"))


def test_a_storm_of_hostile_frames_never_stalls_the_worker(stack):
    """More bad frames than the broker's in-flight window (20), through the real broker:
    dropped or refused, each acknowledged, and the next real sale is answered."""
    import random

    rng = random.Random(10)
    before = counts(stack)
    with stack.terminal("t01") as till:
        good = protocol.encode_frame(protocol.encode_body(till.request(1)), till.key)
        for number in range(60):
            kind = number % 4
            if kind == 0:
                frame = rng.randbytes(rng.randrange(1, 300))
            elif kind == 1:
                frame = protocol.encode_frame(rng.randbytes(rng.randrange(1, 300)), till.key)
            elif kind == 2:
                frame = good[:-rng.randrange(1, 64)]
            else:
                frame = good.replace(b'"amount":250000', b'"amount":1e999')
            till.send_raw(frame)
        till.send(till.request(2))
        replies = []
        while (reply := till.wait_reply(timeout_s=5)) is not None:
            replies.append(reply)
            if reply["id"] == "t01-000002":
                break
    assert replies[-1]["id"] == "t01-000002" and replies[-1]["ok"] is True
    assert all(reply["ok"] is False for reply in replies[:-1])
    assert stack.worker.counters["crash"] == 0
    assert counts(stack)[0] == before[0] + 1


def test_a_held_database_lock_costs_a_frame_a_bounded_wait_answered_unavailable(stack):
    """Issue 17 item 10: another process holds the write lock (SQLite) or the device's row
    lock (PostgreSQL). The frame is answered UNAVAILABLE after the worker's bounded wait,
    well within the terminal's 5 s, stores nothing, and the retry after is charged once."""
    import sqlite3
    import time

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(stack.app.config["SQLALCHEMY_DATABASE_URI"])
    with stack.terminal("t01") as till:
        till.send(till.request(1, op="lookup", amount=None, use_credit=None))
        assert till.wait_reply()["ok"] is True
        before = counts(stack)
        if url.get_backend_name() == "sqlite":
            holder = sqlite3.connect(url.database, isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")
            release = holder.rollback
        else:
            engine = create_engine(url)
            holder = engine.connect()
            holder.execute(text("SELECT id FROM device WHERE id = 't01' FOR UPDATE"))
            release = holder.rollback
        try:
            started = time.monotonic()
            till.send(till.request(2))
            reply = till.wait_reply(timeout_s=10)
            waited_s = time.monotonic() - started
        finally:
            release()
            holder.close()
        assert (reply["code"], reply["id"]) == ("UNAVAILABLE", "t01-000002")
        assert waited_s < 2 * worker_module.WORKER_LOCK_WAIT_MS / 1000 < 5
        assert counts(stack) == before  # UNAVAILABLE is not stored
        till.send(till.request(2))
        assert till.wait_reply()["ok"] is True
    assert counts(stack)[0] == before[0] + 1
