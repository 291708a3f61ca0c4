"""The MQTT worker: parse, verify, call the terminal service, reply, then acknowledge.

A request is acknowledged (paho-mqtt `manual_ack`) only after its transaction committed
and its reply was handed to the client, so a crash means redelivery; redelivery is
harmless because the service answers a repeated (device, id) from its stored response.
"""

import logging
import time
from collections import Counter
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from flask import Flask
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy.exc import OperationalError

from backend import protocol
from backend.errors import DomainError, UnknownDevice
from backend.extensions import db
from backend.services import devices, terminal, texts

log = logging.getLogger(__name__)

KEEPALIVE_S = 30
RECONNECT_MIN_DELAY_S = 1
RECONNECT_MAX_DELAY_S = 30
# Bounds the requests the broker hands us before we acknowledged earlier ones.
MAX_INFLIGHT_MESSAGES = 20
STATE_SUBSCRIPTION = "vafa/v1/dev/+/state"


def mask_card(number: str) -> str:
    return "…" + number[-4:] if len(number) >= 4 else "…"


class Worker:
    def __init__(
        self,
        app: Flask,
        *,
        host: str,
        port: int,
        username: str,
        password: str,
        shared_subscription: bool = True,
        client_id: str | None = None,
    ):
        self.app = app
        self.host = host
        self.port = port
        self.shared_subscription = shared_subscription
        self.counters: Counter[str] = Counter()
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id or f"vafa-worker-{int(time.time() * 1000) % 10**9}",
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(MAX_INFLIGHT_MESSAGES)
        self.client.reconnect_delay_set(RECONNECT_MIN_DELAY_S, RECONNECT_MAX_DELAY_S)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.subscribed = False

    @property
    def subscription(self) -> str:
        plain = "vafa/v1/dev/+/req"
        return f"$share/vafa/{plain}" if self.shared_subscription else plain

    def connect(self) -> None:
        properties = mqtt.Properties(mqtt.PacketTypes.CONNECT)
        # Keep the session (and unacknowledged requests) for a day across restarts.
        properties.SessionExpiryInterval = 24 * 3600
        self.client.connect(
            self.host, self.port, keepalive=KEEPALIVE_S, clean_start=False, properties=properties
        )

    def run_forever(self) -> None:
        self.connect()
        self.client.loop_forever(retry_first_connection=True)

    def start(self) -> None:
        """Run the network loop in a background thread (tests, embedding)."""
        self.connect()
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.error("broker refused the worker: %s", reason_code)
            return
        # Subscribe on every connect: the broker may have lost the session.
        client.subscribe(self.subscription, qos=1)
        # Terminals' retained status for the panel. Not shared: MQTT 5 does not send
        # retained messages to shared subscriptions, and applying a state twice is harmless.
        client.subscribe(STATE_SUBSCRIPTION, qos=0)
        self.subscribed = True
        log.info("worker connected to %s:%s, subscribed %s", self.host, self.port,
                 self.subscription)

    def _on_message(self, client, userdata, message):
        if message.topic.endswith("/state"):
            self.handle_state(message.topic, message.payload)
            return
        try:
            reply = self.handle(message.topic, message.payload)
            if reply is not None:
                reply_topic, frame = reply
                client.publish(reply_topic, frame, qos=1)
            client.ack(message.mid, message.qos)
        except Exception:
            # Not acknowledged: the broker redelivers it when this session reconnects.
            log.exception("request on %s failed; leaving it unacknowledged", message.topic)
            self.counters["crash"] += 1

    def handle_state(self, topic: str, payload: bytes) -> bool:
        """Record a terminal's online flag, firmware and queue depth; never replies."""
        try:
            device_id = protocol.device_id_from_topic(topic, "state")
        except protocol.FrameError as error:
            self._drop("bad_topic", error)
            return False
        with self.app.app_context():
            try:
                return devices.record_state(db.session, device_id, payload, datetime.now(UTC))
            except Exception:
                log.exception("state of %s not recorded", device_id)
                return False
            finally:
                db.session.rollback()
                db.session.remove()

    def handle(self, topic: str, payload: bytes) -> tuple[str, bytes] | None:
        """Process one frame; returns (topic, signed frame) to publish, or None to drop."""
        started = time.perf_counter()
        with self.app.app_context():
            session = db.session
            try:
                return self._handle(session, topic, payload)
            finally:
                session.rollback()
                session.remove()
                log.debug("frame handled in %.1f ms", (time.perf_counter() - started) * 1000)

    def _handle(self, session, topic: str, payload: bytes) -> tuple[str, bytes] | None:
        try:
            device_id = protocol.device_id_from_topic(topic, "req")
        except protocol.FrameError as error:
            return self._drop("bad_topic", error)
        if len(payload) > protocol.MAX_PAYLOAD_BYTES:
            return self._drop("oversize", f"{len(payload)} bytes from {device_id}")
        try:
            device = terminal.load_active_device(session, device_id)
            key = bytes.fromhex(device.key_hex)
            lang = device.lang
            body = protocol.decode_frame(payload, key)
        except UnknownDevice as error:
            return self._drop("unknown_device", error)
        except protocol.FrameError as error:
            return self._drop("bad_signature", f"{device_id}: {error}")
        now = datetime.now(UTC)
        now_ts = int(now.timestamp())
        request_id = None
        try:
            request = protocol.parse_request(body)
            request_id = request.id
            response = terminal.answer(session, device_id, request, now)
            self.counters["OK"] += 1
            log.info("%s/%s %s card %s: OK", device_id, request.id, request.op,
                     mask_card(request.card))
        except protocol.ProtocolError as error:
            request_id = error.request_id
            response = self._error(lang, request_id, error.code, error.message, now_ts)
            log.warning("%s/%s refused %s: %s", device_id, request_id, error.code, error.message)
        except UnknownDevice as error:
            return self._drop("unknown_device", error)
        except DomainError as error:
            response = self._error(lang, request_id, error.code, error.message, now_ts)
            log.info("%s/%s refused %s: %s", device_id, request_id, error.code, error.message)
        except OperationalError as error:
            # Database unavailable or locked for too long: the terminal may retry the id.
            response = self._error(lang, request_id, "UNAVAILABLE", "", now_ts)
            log.error("%s/%s database fault: %s", device_id, request_id, error)
        return protocol.topic(device_id, "res"), protocol.encode_frame(response, key)

    def _error(self, lang, request_id, code, detail, now_ts) -> bytes:
        self.counters[code] += 1
        message = texts.error_text(lang, code, detail if code == "BAD_REQUEST" else "")
        return protocol.encode_body(protocol.error_body(request_id, code, message, now_ts))

    def _drop(self, reason: str, detail) -> None:
        # Security events: counted and logged, never answered (PROTOCOL.md "Framing").
        self.counters[f"dropped_{reason}"] += 1
        log.warning("dropped frame (%s): %s", reason, detail)
        return None
