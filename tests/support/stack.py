"""A running Vafa: migrated database with the demo club, our own Mosquitto configured
from the device table, and an MQTT worker, all on this machine."""

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from flask import Flask
from paho.mqtt.enums import CallbackAPIVersion

from backend import protocol
from backend.extensions import db
from backend.models import the_club
from backend.mqtt.worker import Worker
from backend.services import demo, devices
from tests.support.broker import MosquittoProcess
from tests.support.waiting import wait_for

CONNECT_TIMEOUT_S = 10


@dataclass
class Stack:
    app: Flask
    broker: MosquittoProcess
    worker: Worker
    instance_dir: Path

    def device_config(self, device_id: str) -> dict:
        return json.loads((self.instance_dir / "devices" / device_id / "config.json").read_text())

    def terminal(self, device_id: str) -> "FakeTerminal":
        return FakeTerminal(self.device_config(device_id), self.broker.port)


def start_stack(app: Flask, broker: MosquittoProcess) -> Stack:
    instance_dir = Path(app.config["INSTANCE_DIR"])
    app.config["MQTT_PORT"] = broker.port
    app.config["MQTT_BACKEND_PORT"] = broker.backend_port
    with app.app_context():
        # The bare demo club: Sara's balances start at the welcome credit alone.
        result = demo.seed_demo(db.session, datetime.now(UTC), history=False)
        # The demo doubles points on Saturdays; a live stack prices at the real time, so
        # without this every answer would depend on the day the suite runs in Tehran.
        the_club(db.session).weekday_points_percent = [100] * 7
        db.session.commit()
        devices.write_terminal_configs(db.session, result.terminals, app.config)
        devices.write_broker_config(
            db.session, broker.config_dir, port=broker.port, backend_port=broker.backend_port,
            backend_username=app.config["MQTT_USERNAME"],
            backend_password=app.config["MQTT_PASSWORD"],
        )
        db.session.rollback()
    broker.start()
    worker = Worker(app, host="127.0.0.1", port=broker.backend_port,
                    username=app.config["MQTT_USERNAME"], password=app.config["MQTT_PASSWORD"])
    worker.start()
    wait_for(lambda: worker.subscribed, CONNECT_TIMEOUT_S, "the worker subscribed")
    return Stack(app, broker, worker, instance_dir)


@dataclass
class FakeTerminal:
    """A terminal speaking the protocol with paho, for tests below the simulator."""

    config: dict
    port: int
    replies: list[bytes] = field(default_factory=list)

    def __post_init__(self):
        self.device_id = self.config["device_id"]
        self.key = bytes.fromhex(self.config["key_hex"])
        self.arrived = threading.Condition()
        self.connected = threading.Event()
        self.disconnected = threading.Event()  # the broker (or we) closed the session
        self.refused: mqtt.ReasonCode | None = None
        self.subacks: dict[int, list] = {}  # SUBACK reason codes by message id
        self._res_mid: int | None = None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.device_id,
                                  clean_session=True)
        self.client.username_pw_set(self.config["mqtt"]["user"], self.config["mqtt"]["password"])
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = lambda *args: self.disconnected.set()

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self.refused = reason_code
        else:
            _, self._res_mid = client.subscribe(protocol.topic(self.device_id, "res"), qos=1)
        self.connected.set()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self.arrived:
            self.subacks[mid] = list(reason_codes)
            self.arrived.notify_all()

    def wait_suback(self, mid: int) -> list:
        """The SUBACK's reason codes of subscription `mid`, once it has arrived."""
        with self.arrived:
            assert self.arrived.wait_for(lambda: mid in self.subacks, CONNECT_TIMEOUT_S), (
                "no SUBACK")
            return self.subacks[mid]

    def subscribe(self, topic: str) -> list:
        """Subscribe to `topic` (QoS 1) and wait for the SUBACK; its reason codes."""
        result, mid = self.client.subscribe(topic, qos=1)
        assert result == mqtt.MQTT_ERR_SUCCESS, result
        return self.wait_suback(mid)

    def _on_message(self, client, userdata, message):
        with self.arrived:
            self.replies.append(message.payload)
            self.arrived.notify_all()

    def __enter__(self):
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        assert self.connected.wait(CONNECT_TIMEOUT_S), "terminal did not connect"
        assert self.refused is None, f"the broker refused the terminal: {self.refused}"
        # Requests go out only once replies can come back.
        assert not any(code.is_failure for code in self.wait_suback(self._res_mid))
        return self

    def __exit__(self, *exc):
        self.client.disconnect()
        self.client.loop_stop()

    def send_raw(self, payload: bytes, topic: str | None = None) -> None:
        info = self.client.publish(topic or protocol.topic(self.device_id, "req"), payload, qos=1)
        info.wait_for_publish(CONNECT_TIMEOUT_S)

    def send(self, body: dict) -> None:
        self.send_raw(protocol.encode_frame(protocol.encode_body(body), self.key))

    def wait_reply(self, timeout_s: float = 5.0) -> dict | None:
        """The next reply's body (signature verified), or None when none arrives."""
        deadline = time.monotonic() + timeout_s
        with self.arrived:
            while not self.replies:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self.arrived.wait(remaining)
            frame = self.replies.pop(0)
        return json.loads(protocol.decode_frame(frame, self.key))

    def replies_before_lookup(self, seq: int) -> list[bytes]:
        """Send a lookup (request number `seq`) as a sentinel, wait for its reply and
        return the frames that arrived before it, still unread.

        For "nothing arrived" without a sleep: this session's requests reach the
        broker in order, the worker answers one frame at a time in that order, and the
        broker hands this session its messages in the order they were published, so a
        reply due for anything sent before the sentinel would arrive before its reply."""
        self.send(self.request(seq, op="lookup", amount=None, use_credit=None))
        sentinel_id = f"{self.device_id}-{seq:06d}"

        def position() -> int | None:
            for index, frame in enumerate(self.replies):
                try:
                    body = json.loads(protocol.decode_frame(frame, self.key))
                except (protocol.FrameError, ValueError):  # not ours, or not signed by us
                    continue
                if body.get("id") == sentinel_id:
                    return index
            return None

        with self.arrived:
            assert self.arrived.wait_for(lambda: position() is not None, CONNECT_TIMEOUT_S), (
                "no reply to the sentinel lookup")
            index = position()
            earlier = self.replies[:index]
            del self.replies[:index + 1]
        return earlier

    def request(self, seq: int, **fields) -> dict:
        body = {"v": 1, "id": f"{self.device_id}-{seq:06d}", "seq": seq,
                "ts": int(time.time()), "op": "purchase", "card": "9900010000000019",
                "amount": 250_000, "use_credit": 0}
        body.update(fields)
        return {key: value for key, value in body.items() if value is not None}
