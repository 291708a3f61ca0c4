"""`verify`: watch a terminal come online and answer a balance lookup end to end.

Connects to the broker with the terminal's password as its read-only watcher account
`<device>.watch` (its ACL lets it read the device's `state` and `res`), waits for the retained
`{"online": true, …}` state, then for a signed, successful reply on `res` — the answer
to the lookup the technician makes at the terminal with a test card. Nothing is sent
in the terminal's name, so its request sequence is never disturbed.
"""

import json
import secrets
import threading
import time
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from backend import protocol
from backend.broker import WATCH_SUFFIX


class VerifyError(Exception):
    pass


@dataclass
class Verified:
    device_id: str
    firmware: str | None
    reply: dict


class Watcher:
    def __init__(self, config: dict, *, host: str | None = None, port: int | None = None):
        self.config = config
        self.device_id = config["device_id"]
        self.key = bytes.fromhex(config["key_hex"])
        mqtt_config = config["mqtt"]
        self.host = host or mqtt_config["host"]
        self.port = port or mqtt_config["port"]
        self.online_state: dict | None = None  # the first {"online": true, …} seen
        self.subscribed = threading.Event()
        self.replies: list[dict] = []
        self.changed = threading.Condition()
        self.refused: str | None = None
        # The device's read-only watcher account (backend/broker.py WATCH_SUFFIX): on the
        # terminals' listener the client id is the username, so logging in as the device
        # itself would throw the terminal off.
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"{self.device_id}-verify-{secrets.token_hex(3)}")
        self.client.username_pw_set(mqtt_config["user"] + WATCH_SUFFIX, mqtt_config["password"])
        if mqtt_config.get("tls"):
            self.client.tls_set()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self._state_mid: int | None = None

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            with self.changed:
                self.refused = str(reason_code)
                self.changed.notify_all()
            return
        # `res` first: the broker handles subscriptions in order, so once the retained
        # state arrives no reply can be missed any more.
        client.subscribe(protocol.topic(self.device_id, "res"), qos=1)
        _result, self._state_mid = client.subscribe(protocol.topic(self.device_id, "state"),
                                                    qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        if mid == self._state_mid:
            self.subscribed.set()

    def _on_message(self, client, userdata, message):
        with self.changed:
            if message.topic.endswith("/state"):
                try:
                    state = json.loads(message.payload)
                except ValueError:
                    return
                # Latched: a short visit online (a lookup, then a clean disconnect with
                # an offline state) must not be missed by a slow waiter.
                if isinstance(state, dict) and state.get("online") and not self.online_state:
                    self.online_state = state
            else:
                try:
                    self.replies.append(json.loads(protocol.decode_frame(message.payload,
                                                                         self.key)))
                except ValueError:  # FrameError, bad JSON
                    return  # not signed with this terminal's key: not its answer
            self.changed.notify_all()

    def _wait(self, predicate, deadline: float, what: str):
        with self.changed:
            while True:
                if self.refused:
                    raise VerifyError(f"the broker refused the terminal's credentials "
                                      f"({self.refused}); is it registered and not revoked?")
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise VerifyError(f"timed out waiting for {what}")
                self.changed.wait(remaining)

    def run(self, timeout_s: float, on_online=None) -> Verified:
        deadline = time.monotonic() + timeout_s
        try:
            self.client.connect(self.host, self.port, keepalive=30)
        except OSError as error:
            raise VerifyError(f"cannot reach the broker at {self.host}:{self.port}: "
                              f"{error}") from None
        self.client.loop_start()
        try:
            state = self._wait(lambda: self.online_state, deadline,
                               f"terminal {self.device_id} to come online")
            if on_online is not None:
                on_online(state)
            reply = self._wait(lambda: self.replies[-1] if self.replies else None, deadline,
                               "a lookup at the terminal")
        finally:
            self.client.disconnect()
            self.client.loop_stop()
        if not reply.get("ok"):
            raise VerifyError(f"the backend answered {reply.get('code')}: {reply.get('msg')}")
        return Verified(self.device_id, state.get("fw"), reply)
