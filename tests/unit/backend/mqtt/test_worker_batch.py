"""Group commit in the worker, through a real broker (docs/hot-path.md "Group commit"):
queued requests are answered in one transaction, replied to only after it committed, and
a worker that dies before the commit published nothing; the broker hands the requests to
the next worker, which answers each once."""

import threading

import pytest
from sqlalchemy import func, select

from backend.extensions import db
from backend.models import Purchase
from backend.mqtt.worker import Worker
from backend.services import terminal
from tests.conftest import build_app
from tests.support.stack import start_stack

QUIET_S = 0.5  # how long "no reply" is waited for


class WorkerKilled(BaseException):
    """Ends the batch thread the way a kill does: nothing after it runs."""


@pytest.fixture
def stack(tmp_path_factory, databases, broker, app):
    live = build_app(tmp_path_factory, databases, app.database_kind, WORKER_BATCH_MAX=8)
    running = start_stack(live, broker)
    yield running
    running.worker.stop()


def purchases(stack) -> int:
    with stack.app.app_context():
        return db.session.scalar(select(func.count()).select_from(Purchase))


def test_replies_come_only_after_the_batch_committed_in_order(stack, monkeypatch):
    before = purchases(stack)
    real_answer_batch = terminal.answer_batch
    gate, sizes = threading.Event(), []

    def held_answer_batch(session, items, now):
        assert gate.wait(10), "the test did not open the gate"
        sizes.append(len(items))
        return real_answer_batch(session, items, now)

    monkeypatch.setattr(terminal, "answer_batch", held_answer_batch)
    with stack.terminal("t01") as till:
        till.send(till.request(1))
        # A body refused before the service (a bad check digit) in the middle: it goes
        # the one-by-one way after the request before it committed.
        till.send(till.request(2, card="9900019999999"))
        till.send(till.request(3))
        till.send(till.request(4))
        assert till.wait_reply(QUIET_S) is None  # held before its commit: no reply
        gate.set()
        replies = [till.wait_reply() for _ in range(4)]
    assert [(reply["id"], reply["code"]) for reply in replies] == [
        ("t01-000001", "OK"), ("t01-000002", "CARD_INVALID"), ("t01-000003", "OK"),
        ("t01-000004", "OK")]
    assert sizes == [1, 2]  # the held sale, then the two queued behind the refused body
    assert purchases(stack) == before + 3


# The kill is an exception escaping the worker's network thread; pytest reports that, and
# here it is the point.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_worker_killed_before_the_commit_loses_nothing(stack, monkeypatch):
    before = purchases(stack)
    real_answer_batch = terminal.answer_batch
    killed = threading.Event()

    def killed_before_commit(session, items, now):
        session.begin_nested()  # mid-batch: a savepoint open, nothing committed
        killed.set()
        raise WorkerKilled

    first = our_worker(stack)
    stack.worker.stop()
    monkeypatch.setattr(terminal, "answer_batch", killed_before_commit)
    first.start()
    with stack.terminal("t01") as till:
        assert wait_subscribed(first)
        till.send(till.request(1))
        assert killed.wait(10)
        assert till.wait_reply(QUIET_S) is None  # nothing published
        first.client.disconnect()  # gone without acknowledging
        first.client.loop_stop()
        assert purchases(stack) == before
        monkeypatch.setattr(terminal, "answer_batch", real_answer_batch)
        second = our_worker(stack)  # the same client id: the same broker session
        second.start()
        try:
            reply = till.wait_reply(10)
            assert (reply["id"], reply["code"]) == ("t01-000001", "OK")
            assert till.wait_reply(QUIET_S) is None  # answered once
        finally:
            second.stop()
    assert purchases(stack) == before + 1


def our_worker(stack) -> Worker:
    """A worker with a fixed client id on a plain subscription (the stack's stopped
    worker's session stays in the shared group and would take shared requests)."""
    return Worker(stack.app, host="127.0.0.1", port=stack.broker.backend_port,
                  username=stack.app.config["MQTT_USERNAME"],
                  password=stack.app.config["MQTT_PASSWORD"], client_id="batch-test-worker",
                  shared_subscription=False)


def wait_subscribed(worker, timeout_s: float = 10) -> bool:
    subscribed = threading.Event()
    deadline = threading.Timer(timeout_s, subscribed.set)
    deadline.start()
    while not worker.subscribed and not subscribed.wait(0.02):
        pass
    deadline.cancel()
    return worker.subscribed
