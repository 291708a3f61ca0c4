"""Real Mosquitto with the generated password file and ACL, and a real worker."""

import json
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import func, select

from backend import protocol
from backend.extensions import db
from backend.models import LedgerEntry, Purchase, TerminalRequest
from tests.support.waiting import wait_for


def database_counts(stack):
    with stack.app.app_context():
        return tuple(db.session.scalar(select(func.count()).select_from(model))
                     for model in (Purchase, LedgerEntry, TerminalRequest))


def test_a_signed_purchase_is_answered_and_recorded(stack):
    with stack.terminal("t01") as till:
        till.send(till.request(1))
        reply = till.wait_reply()
    assert reply["ok"] is True
    assert reply["bal"] == {"credit": 61_875, "points": 25}
    assert database_counts(stack)[0] == 1


def test_wrong_password_cannot_connect(stack):
    config = stack.device_config("t01")
    config["mqtt"]["password"] = "not-the-password"
    terminal = type(stack.terminal("t01"))(config, stack.broker.port)
    terminal.client.connect("127.0.0.1", stack.broker.port)
    terminal.client.loop_start()
    try:
        assert terminal.connected.wait(5)
        assert terminal.refused is not None
    finally:
        terminal.client.loop_stop()


def test_a_device_cannot_publish_on_another_devices_topic(stack):
    before = database_counts(stack)
    seen_by_backend = []
    spy_subscribed, spy_saw_sentinel = threading.Event(), threading.Event()
    spy = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="spy")
    spy.username_pw_set(stack.app.config["MQTT_USERNAME"], stack.app.config["MQTT_PASSWORD"])

    def spy_on_message(client, userdata, message):
        seen_by_backend.append(message.payload)
        spy_saw_sentinel.set()

    spy.on_message = spy_on_message
    spy.on_subscribe = lambda *args: spy_subscribed.set()
    spy.connect("127.0.0.1", stack.broker.backend_port)
    spy.subscribe("vafa/v1/dev/t02/req", qos=1)
    spy.loop_start()
    assert spy_subscribed.wait(5), "no SUBACK for the spy"
    try:
        with stack.terminal("t01") as intruder, stack.terminal("t02") as victim:
            # Even a correctly signed body: the broker must not pass it on. Its PUBACK
            # comes after the broker has routed it (or not) to every subscriber.
            intruder.send_raw(
                protocol.encode_frame(protocol.encode_body(intruder.request(1)), victim.key),
                topic="vafa/v1/dev/t02/req",
            )
            # The victim's own lookup goes the same way after it: it is the first thing
            # the spy sees and the first reply the victim gets; the intruder gets none.
            assert victim.replies_before_lookup(900) == []
            assert spy_saw_sentinel.wait(5)
            assert intruder.replies_before_lookup(900) == []
    finally:
        spy.loop_stop()
        spy.disconnect()
    assert len(seen_by_backend) == 1
    assert json.loads(protocol.decode_frame(seen_by_backend[0], victim.key))["id"] == (
        "t02-000900")
    assert database_counts(stack) == (*before[:2], before[2] + 2)  # the sentinels


def test_a_device_cannot_read_another_devices_replies(stack):
    with stack.terminal("t02") as eavesdropper:
        eavesdropper.subscribe("vafa/v1/dev/t01/res")
        with stack.terminal("t01") as till:
            till.send(till.request(1))
            assert till.wait_reply()["ok"] is True
        # t01's reply was routed before the eavesdropper's own lookup was even sent:
        # had the broker passed it on, it would be here before the lookup's reply.
        assert eavesdropper.replies_before_lookup(900) == []


def test_unsigned_and_wrongly_signed_frames_get_no_reply_and_change_nothing(stack):
    before = database_counts(stack)
    with stack.terminal("t01") as till:
        body = protocol.encode_body(till.request(1))
        till.send_raw(body)  # unsigned
        till.send_raw(body + b"\n" + b"0" * 64)  # wrong signature
        till.send_raw(protocol.encode_frame(body, b"k" * 32))  # someone else's key
        assert till.replies_before_lookup(900) == []
    assert database_counts(stack) == (*before[:2], before[2] + 1)  # the sentinel
    assert stack.worker.counters["dropped_bad_signature"] == 3


def test_oversize_frame_is_dropped(stack):
    before = database_counts(stack)
    with stack.terminal("t01") as till:
        till.send(till.request(1, pad="x" * 5000))
        assert till.replies_before_lookup(900) == []
    assert stack.worker.counters["dropped_oversize"] == 1
    assert database_counts(stack) == (*before[:2], before[2] + 1)  # the sentinel


def test_bad_input_gets_its_code_and_changes_nothing(stack):
    before = database_counts(stack)
    with stack.terminal("t01") as till:
        cases = [
            (protocol.encode_frame(b"{oops", till.key), "BAD_REQUEST", None),
            (till.request(1, op="steal"), "BAD_REQUEST", "t01-000001"),
            (till.request(2, amount=-5), "BAD_REQUEST", "t01-000002"),
            (till.request(3, amount=12.5), "BAD_REQUEST", "t01-000003"),
            (till.request(4, card="99000100000000190"), "CARD_INVALID", "t01-000004"),
            (till.request(5, card="9900010000000018"), "CARD_INVALID", "t01-000005"),
            (till.request(6, card="9900011234567898"), "CARD_UNKNOWN", "t01-000006"),
            (till.request(7, use_credit=10**9), "INSUFFICIENT_CREDIT", "t01-000007"),
        ]
        for payload, code, request_id in cases:
            if isinstance(payload, dict):
                till.send(payload)
            else:
                till.send_raw(payload)
            reply = till.wait_reply()
            assert reply is not None, code
            assert (reply["ok"], reply["code"], reply["id"]) == (False, code, request_id)
            assert reply["msg"]
    # Nothing changed; each refusal with a readable id is stored (issue 17 item 3).
    assert database_counts(stack) == (before[0], before[1], before[2] + len(cases) - 1)


def test_redelivered_request_gets_the_same_bytes_once(stack):
    with stack.terminal("t01") as till:
        frame = protocol.encode_frame(protocol.encode_body(till.request(1)), till.key)
        till.send_raw(frame)
        till.send_raw(frame)
        first_frame_reply = till.wait_reply()
        second_frame_reply = till.wait_reply()
    assert first_frame_reply == second_frame_reply
    assert database_counts(stack)[:2] == (1, 102)  # 100 welcome entries + spend-free earn


def test_anonymous_clients_are_refused_by_the_generated_config(stack):
    conf = (stack.broker.config_dir / "mosquitto.conf").read_text()
    assert "allow_anonymous false" in conf and "password_file" in conf and "acl_file" in conf
    refused, answered = [], threading.Event()

    def on_connect(client, userdata, flags, reason_code, properties):
        refused.append(reason_code.is_failure)
        answered.set()

    anonymous = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="anonymous")
    anonymous.on_connect = on_connect
    anonymous.connect("127.0.0.1", stack.broker.port)
    anonymous.loop_start()
    try:
        assert answered.wait(5), "no CONNACK"
    finally:
        anonymous.loop_stop()
    assert refused == [True]


def test_a_revoked_device_cannot_connect_and_its_frames_are_dropped(stack):
    import os
    import signal

    from backend.services import devices
    from backend.unit_of_work import SYSTEM

    with stack.terminal("t02") as till:
        frame = protocol.encode_frame(protocol.encode_body(till.request(1)), till.key)
        with stack.app.app_context():
            devices.revoke_device(db.session, "t02", actor=SYSTEM)
            devices.write_broker_config(
                db.session, stack.broker.config_dir, port=stack.broker.port,
                backend_port=stack.broker.backend_port,
                backend_username=stack.app.config["MQTT_USERNAME"],
                backend_password=stack.app.config["MQTT_PASSWORD"])
            db.session.rollback()
        os.kill(stack.broker.process.pid, signal.SIGHUP)  # Mosquitto re-reads passwd and ACL
        # Applying the new password file, the broker drops the session it no longer
        # knows: from then on the reload is done.
        assert till.disconnected.wait(5), "the broker kept the revoked terminal connected"
    revoked = stack.terminal("t02")
    revoked.client.connect("127.0.0.1", stack.broker.port)
    revoked.client.loop_start()
    try:
        assert revoked.connected.wait(5) and revoked.refused is not None
    finally:
        revoked.client.loop_stop()
    # A frame it signed earlier, replayed by anyone, changes nothing either.
    before = database_counts(stack)
    assert stack.worker.handle("vafa/v1/dev/t02/req", frame) is None
    assert stack.worker.counters["dropped_unknown_device"] == 1
    assert database_counts(stack) == before


def _login(port: int, username: str, password: str, client_id: str) -> mqtt.Client | None:
    """Connect and wait for the CONNACK: the client when accepted, None when refused."""
    answered = threading.Event()
    outcome = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id,
                         protocol=mqtt.MQTTv5)
    client.username_pw_set(username, password)

    def on_connect(client, userdata, flags, reason_code, properties):
        outcome.append(not reason_code.is_failure)
        answered.set()

    client.on_connect = on_connect
    client.connect("127.0.0.1", port, keepalive=30)
    client.loop_start()
    assert answered.wait(5), "no CONNACK"
    if outcome == [True]:
        return client
    client.loop_stop()
    return None


def _watch_disconnects(worker) -> list:
    disconnects = []
    worker.client.on_disconnect = lambda *args: disconnects.append(args)
    return disconnects


def test_a_terminal_claiming_the_workers_client_id_does_not_throw_it_off(stack):
    """Issue 17 item 2: logging in as t01 with the worker's client id used to take the
    worker's session over. The terminals' listener makes the id the username, so the
    impostor only gets "t01", and the worker goes on answering t02."""
    worker_id = stack.worker.client._client_id.decode()
    assert worker_id.startswith("backend:")
    disconnects = _watch_disconnects(stack.worker)
    t01 = stack.device_config("t01")["mqtt"]
    answered = 0
    with stack.terminal("t02") as till:
        for seq in range(1, 11):
            impostor = _login(stack.broker.port, t01["user"], t01["password"], worker_id)
            assert impostor is not None  # t01's own login works, under its own id
            till.send(till.request(seq, op="lookup", amount=None, use_credit=None))
            reply = till.wait_reply()
            answered += reply is not None and reply["ok"] is True
            impostor.disconnect()
            impostor.loop_stop()
    assert answered == 10
    assert disconnects == []
    assert stack.worker.client.is_connected()


def test_a_terminal_cannot_log_in_on_the_backend_listener(stack):
    t01 = stack.device_config("t01")["mqtt"]
    worker_id = stack.worker.client._client_id.decode()
    disconnects = _watch_disconnects(stack.worker)
    assert _login(stack.broker.backend_port, t01["user"], t01["password"], worker_id) is None
    assert _login(stack.broker.backend_port, t01["user"], t01["password"], "t01") is None
    # and the backend's account is not valid on the terminals' listener
    assert _login(stack.broker.port, stack.app.config["MQTT_USERNAME"],
                  stack.app.config["MQTT_PASSWORD"], "backend:x") is None
    with stack.terminal("t02") as till:
        till.send(till.request(1, op="lookup", amount=None, use_credit=None))
        assert till.wait_reply()["ok"] is True
    assert disconnects == []


def test_a_terminal_cannot_throw_another_terminal_off(stack):
    t01 = stack.device_config("t01")["mqtt"]
    with stack.terminal("t02") as victim:
        impostor = _login(stack.broker.port, t01["user"], t01["password"], "t02")
        try:
            victim.send(victim.request(1, op="lookup", amount=None, use_credit=None))
            assert victim.wait_reply()["ok"] is True
            assert victim.client.is_connected()
        finally:
            impostor.disconnect()
            impostor.loop_stop()


def test_two_workers_share_the_subscription_without_kicking_each_other(stack):
    from backend.mqtt.worker import Worker

    second = Worker(stack.app, host="127.0.0.1", port=stack.broker.backend_port,
                    username=stack.app.config["MQTT_USERNAME"],
                    password=stack.app.config["MQTT_PASSWORD"], client_id="second-worker")
    first_disconnects = _watch_disconnects(stack.worker)
    second_disconnects = _watch_disconnects(second)
    second.start()
    try:
        wait_for(lambda: second.subscribed, 10, "the second worker subscribed")
        with stack.terminal("t01") as till:
            for seq in range(1, 21):
                till.send(till.request(seq, op="lookup", amount=None, use_credit=None))
                assert till.wait_reply()["ok"] is True
        assert first_disconnects == [] and second_disconnects == []
        # MQTT 5 shared subscription: both took part.
        handled = [sum(w.counters.values()) for w in (stack.worker, second)]
        assert all(count > 0 for count in handled), handled
    finally:
        second.stop()
