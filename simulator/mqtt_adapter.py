"""A paho-mqtt 2.x client with the interface of micropython-lib ``umqtt.simple``."""

from __future__ import annotations

import queue
import ssl as _ssl
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

INBOX_MAX = 256
WAIT_S = 5.0


class MQTTException(OSError):
    pass


class PahoUMQTTClient:
    """``umqtt.simple.MQTTClient``-shaped: connect/subscribe/publish block until the
    broker acknowledged (like umqtt.simple with QoS 1); received messages wait in a
    bounded queue until ``check_msg()`` hands them to the callback on the caller's
    thread."""

    def __init__(self, client_id, server, port=0, user=None, password=None, keepalive=0,
                 ssl=None, link=None):
        self.client_id = client_id
        self.server = server
        self.port = port or (8883 if ssl else 1883)
        self.user = user
        self.password = password
        self.keepalive = keepalive or 60
        self.ssl = ssl
        # A simulator.terminal.Link: while it is down every socket operation fails with
        # OSError, like umqtt.simple on an ESP32 whose Wi-Fi dropped.
        self.link = link
        self._cb = None
        self._will = None
        self._client: mqtt.Client | None = None
        self._inbox: queue.Queue = queue.Queue(maxsize=INBOX_MAX)
        self._cond = threading.Condition()
        self._connack = None
        self._connected = False
        self._session_present = False
        self._acked: set[int] = set()
        self._refused: set[int] = set()
        self.dropped = 0

    # -- umqtt.simple interface ------------------------------------------------------
    def set_callback(self, f):
        self._cb = f

    def set_last_will(self, topic, msg, retain=False, qos=0):
        self._will = (topic, msg, qos, retain)

    def connect(self, clean_session=True, timeout=WAIT_S):
        self._link_up()
        timeout = timeout or WAIT_S
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id,
                        clean_session=clean_session, protocol=mqtt.MQTTv311)
        if self.user is not None:
            c.username_pw_set(self.user, self.password)
        if self.ssl:
            if isinstance(self.ssl, _ssl.SSLContext):
                c.tls_set_context(self.ssl)
            else:
                c.tls_set()
        if self._will:
            topic, msg, qos, retain = self._will
            c.will_set(topic, msg, qos=qos, retain=retain)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        c.on_subscribe = self._on_subscribe
        self._connack = None
        c.connect(self.server, self.port, keepalive=self.keepalive)  # OSError if refused
        self._client = c
        c.loop_start()
        with self._cond:
            self._cond.wait_for(lambda: self._connack is not None, timeout)
        rc = self._connack
        if rc is None or rc.is_failure:
            self.disconnect()
            raise MQTTException(
                f"broker {self.server}:{self.port} "
                + ("did not answer CONNECT" if rc is None else f"refused connection: {rc}")
            )
        return bool(self._session_present)

    def subscribe(self, topic, qos=0):
        rc, mid = self._require().subscribe(topic, qos)
        if rc != mqtt.MQTT_ERR_SUCCESS:
            raise OSError(f"subscribe failed: {mqtt.error_string(rc)}")
        with self._cond:
            if not self._cond.wait_for(lambda: mid in self._acked or not self._connected,
                                       WAIT_S) or mid not in self._acked:
                raise OSError(f"no SUBACK for {topic}")
            self._acked.discard(mid)
            if mid in self._refused:
                self._refused.discard(mid)
                raise OSError(f"broker refused subscription to {topic}")

    def publish(self, topic, msg, retain=False, qos=0):
        info = self._require().publish(topic, msg, qos=qos, retain=retain)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise OSError(f"publish failed: {mqtt.error_string(info.rc)}")
        if qos:
            try:
                info.wait_for_publish(WAIT_S)
            except (RuntimeError, ValueError) as e:
                raise OSError(f"publish failed: {e}") from e
            if not info.is_published():
                raise OSError("no PUBACK")

    def check_msg(self):
        self._require()
        while True:
            try:
                topic, payload = self._inbox.get_nowait()
            except queue.Empty:
                return None
            if self._cb is not None:
                self._cb(topic, payload)

    def wait_msg(self):
        topic, payload = self._inbox.get()
        if self._cb is not None:
            self._cb(topic, payload)

    def ping(self):
        self._require()  # paho's network thread sends PINGREQ itself

    def disconnect(self):
        c, self._client = self._client, None
        self._connected = False
        if c is not None:
            try:
                c.disconnect()
            finally:
                c.loop_stop()

    # -- paho callbacks (network thread) ---------------------------------------------
    def _link_up(self) -> None:
        if self.link is not None and not self.link.up:
            raise OSError("network is down (simulated)")

    def _require(self) -> mqtt.Client:
        self._link_up()
        if self._client is None or not self._connected:
            raise OSError("MQTT not connected")
        return self._client

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        with self._cond:
            self._connack = reason_code
            self._session_present = getattr(flags, "session_present", False)
            self._connected = not reason_code.is_failure
            self._cond.notify_all()
        if reason_code.is_failure:
            client.disconnect()  # stop paho from retrying with bad credentials

    def _on_disconnect(self, client, userdata, flags, reason_code, properties):
        with self._cond:
            self._connected = False
            self._cond.notify_all()

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        with self._cond:
            if any(rc.is_failure for rc in reason_codes):
                self._refused.add(mid)
            self._acked.add(mid)
            self._cond.notify_all()

    def _on_message(self, client, userdata, message):
        item = (message.topic.encode(), bytes(message.payload))
        try:
            self._inbox.put_nowait(item)
        except queue.Full:
            self.dropped += 1
