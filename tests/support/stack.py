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
from backend.mqtt.worker import Worker
from backend.services import demo, devices
from tests.support.broker import MosquittoProcess

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
    deadline = time.monotonic() + CONNECT_TIMEOUT_S
    while not worker.subscribed:
        assert time.monotonic() < deadline, "worker did not subscribe"
        time.sleep(0.02)
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
        self.refused: mqtt.ReasonCode | None = None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.device_id,
                                  clean_session=True)
        self.client.username_pw_set(self.config["mqtt"]["user"], self.config["mqtt"]["password"])
        self.client.on_message = self._on_message
        self.client.on_connect = self._on_connect

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self.refused = reason_code
        else:
            client.subscribe(protocol.topic(self.device_id, "res"), qos=1)
        self.connected.set()

    def _on_message(self, client, userdata, message):
        with self.arrived:
            self.replies.append(message.payload)
            self.arrived.notify_all()

    def __enter__(self):
        self.client.connect("127.0.0.1", self.port, keepalive=30)
        self.client.loop_start()
        assert self.connected.wait(CONNECT_TIMEOUT_S), "terminal did not connect"
        time.sleep(0.1)  # let the SUBACK arrive before the first request
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

    def request(self, seq: int, **fields) -> dict:
        body = {"v": 1, "id": f"{self.device_id}-{seq:06d}", "seq": seq,
                "ts": int(time.time()), "op": "purchase", "card": "9900010000000019",
                "amount": 250_000, "use_credit": 0}
        body.update(fields)
        return {key: value for key, value in body.items() if value is not None}
