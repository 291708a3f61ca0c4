"""Publishing to terminals from the web panel: the backend's side of the `cmd` topic.

A short-lived paho client with the backend's broker credentials per command: commands
are rare (a message on a terminal's screen, a config reload, a reboot), so a connection
per command costs nothing that matters and keeps web processes free of a long-lived
network thread. Every step is bounded by `timeout_s`; a broker that is down or slow is
reported as `BrokerUnavailable`, never a hung request.
"""

from __future__ import annotations

import secrets
import threading

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from backend.broker import backend_client_id
from backend.errors import DomainError

PUBLISH_TIMEOUT_S = 5.0


class BrokerUnavailable(DomainError):
    code = "BROKER_UNAVAILABLE"
    http_status = 503


class BrokerPublisher:
    """Publishes one QoS 1 message and returns once the broker acknowledged it."""

    def __init__(self, host: str, port: int, username: str, password: str,
                 timeout_s: float = PUBLISH_TIMEOUT_S):
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.timeout_s = timeout_s

    @classmethod
    def from_config(cls, config) -> BrokerPublisher:
        return cls(config["MQTT_BACKEND_HOST"], config["MQTT_BACKEND_PORT"],
                   config["MQTT_USERNAME"], config["MQTT_PASSWORD"])

    def publish(self, topic: str, payload: bytes) -> None:
        connected = threading.Event()
        refusal: list[str] = []

        def on_connect(client, userdata, flags, reason_code, properties):
            if reason_code.is_failure:
                refusal.append(str(reason_code))
            connected.set()

        # A random backend id: several web processes publish at once without colliding.
        client = mqtt.Client(CallbackAPIVersion.VERSION2, clean_session=True,
                             client_id=backend_client_id(f"panel-{secrets.token_hex(6)}"))
        client.username_pw_set(self.username, self.password)
        client.on_connect = on_connect
        try:
            client.connect(self.host, self.port, keepalive=int(self.timeout_s) + 5)
        except OSError as error:
            raise BrokerUnavailable(f"the broker at {self.host}:{self.port} cannot be "
                                    f"reached: {error}") from None
        client.loop_start()
        try:
            if not connected.wait(self.timeout_s):
                raise BrokerUnavailable(f"the broker at {self.host}:{self.port} did not "
                                        f"answer within {self.timeout_s:g} s")
            if refusal:
                raise BrokerUnavailable(f"the broker refused the backend: {refusal[0]}")
            info = client.publish(topic, payload, qos=1)
            try:
                info.wait_for_publish(self.timeout_s)
            except (ValueError, RuntimeError) as error:  # paho: not queued, or lost
                raise BrokerUnavailable(f"the message was not sent: {error}") from None
            if not info.is_published():
                raise BrokerUnavailable("the broker did not confirm the message within "
                                        f"{self.timeout_s:g} s")
        finally:
            client.disconnect()
            client.loop_stop()
