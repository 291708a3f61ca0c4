"""Issue 17 item 1 through the real broker: a burst of signed poison frames from one
terminal (JSON nested 2,000 deep, a seq of 2^63 and more, fields of thousands of
characters) while another terminal sells. Every poison frame is answered or dropped and
acknowledged at once; the seller's every request is answered within the protocol's
bound, also when the burst waited in the broker for a restarted worker."""

import json
import statistics
import time

import pytest
from sqlalchemy import func, select

from backend import protocol
from backend.extensions import db
from backend.models import Purchase
from backend.mqtt.worker import Worker
from tests.support.poison import poison_bodies
from tests.support.stack import CONNECT_TIMEOUT_S
from tests.support.waiting import wait_for

REPLY_BOUND_S = 1.0  # PROTOCOL.md "Latency": a reply within 1 s of receipt
SALES = 30


def sell(till, first_seq: int, count: int) -> list[float]:
    """One request in flight at a time, as a terminal does; each reply's round trip."""
    seconds = []
    for seq in range(first_seq, first_seq + count):
        started = time.perf_counter()
        till.send(till.request(seq, amount=1_000))
        reply = till.wait_reply(timeout_s=10)
        assert reply is not None, f"sale {seq} was not answered"
        assert (reply["id"], reply["ok"]) == (f"{till.device_id}-{seq:06d}", True), reply
        seconds.append(time.perf_counter() - started)
    return seconds


def answers(till, count: int) -> list[dict]:
    """Exactly `count` replies, then none before a later lookup's (no redelivery answered
    twice)."""
    replies = []
    for _ in range(count):
        reply = till.wait_reply(timeout_s=10)
        assert reply is not None, f"{len(replies)} of {count} answered"
        replies.append(reply)
    assert till.replies_before_lookup(900) == []
    return replies


def p99(seconds: list[float]) -> float:
    return statistics.quantiles(seconds, n=100, method="inclusive")[98]


def purchases(stack) -> int:
    with stack.app.app_context():
        count = db.session.scalar(select(func.count()).select_from(Purchase))
        db.session.remove()
        return count


def test_a_poison_burst_from_one_terminal_never_holds_up_the_others(stack):
    with stack.terminal("t01") as attacker, stack.terminal("t02") as seller:
        normal = sell(seller, 1, SALES)
        for frame_body in poison_bodies("t01", 1):
            attacker.send_raw(protocol.encode_frame(frame_body, attacker.key))
        during = sell(seller, SALES + 1, SALES)
        # Each poison frame gets its one answer (a refusal) and nothing comes back again.
        refusals = answers(attacker, 40)
    # The protocol's bound, or on a machine busy enough to miss it without any poison,
    # twice what the same sales took just before.
    assert p99(during) < max(REPLY_BOUND_S, 2 * p99(normal)), (
        f"p99 {p99(during):.3f} s with the burst, {p99(normal):.3f} s without: "
        + ", ".join(f"{s:.3f}" for s in during))
    assert {reply["code"] for reply in refusals} == {"BAD_REQUEST", "CARD_INVALID"}
    assert stack.worker.counters["crash"] == 0
    assert purchases(stack) == 2 * SALES


def test_a_poison_burst_queued_for_a_restarted_worker_is_served_once(stack):
    """The burst and the sales arrive while the worker is down: the broker keeps them in
    the worker's session and hands them to the restarted worker, which answers every sale
    within the bound; a second restart gets nothing back (all was acknowledged)."""
    # The same session as the stack's worker: offline members of a shared subscription's
    # group still get their turn of its messages, so a second session would take some.
    client_id = stack.worker.client._client_id.decode()

    def worker() -> Worker:
        started = Worker(stack.app, host="127.0.0.1", port=stack.broker.backend_port,
                         username=stack.app.config["MQTT_USERNAME"],
                         password=stack.app.config["MQTT_PASSWORD"], client_id=client_id)
        started.start()
        wait_for(lambda: started.subscribed, CONNECT_TIMEOUT_S, "the worker subscribed")
        return started

    stack.worker.stop()
    with stack.terminal("t01") as attacker, stack.terminal("t02") as seller:
        for frame_body in poison_bodies("t01", 1):
            attacker.send_raw(protocol.encode_frame(frame_body, attacker.key))
        queued = 5
        for seq in range(1, queued + 1):
            seller.send(seller.request(seq, amount=1_000))
        restarted = worker()
        try:
            started = time.perf_counter()
            answered = []
            for _ in range(queued):
                reply = seller.wait_reply(timeout_s=10)
                assert reply is not None and reply["ok"] is True, reply
                answered.append(reply["id"])
            assert time.perf_counter() - started < queued * REPLY_BOUND_S
            assert answered == [f"t02-{seq:06d}" for seq in range(1, queued + 1)]
            after = sell(seller, queued + 1, SALES)
            assert p99(after) < REPLY_BOUND_S, ", ".join(f"{s:.3f}" for s in after)
            answers(attacker, 40)
            assert restarted.counters["crash"] == 0
        finally:
            restarted.stop()
        # Nothing was left unacknowledged: the next worker of that session sees only the
        # sale sent after it started.
        again = worker()
        try:
            seller.send(seller.request(queued + SALES + 1, amount=1_000))
            assert seller.wait_reply(timeout_s=10)["ok"] is True
            assert again.counters == {"OK": 1}
        finally:
            again.stop()
    assert purchases(stack) == queued + SALES + 1


@pytest.mark.parametrize("nesting", [100, 2000])
def test_deep_json_is_refused_before_the_parser_recurses(nesting):
    body = b'{"v":1,"id":"t01-000001","x":' + b"[" * nesting + b"]" * nesting + b"}"
    with pytest.raises(protocol.ProtocolError) as refused:
        protocol.parse_request(body)
    assert refused.value.code == "BAD_REQUEST" and refused.value.request_id is None
    json.loads(b"[" * 10 + b"]" * 10)  # the parser itself is untouched
