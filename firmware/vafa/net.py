# MQTT session on a umqtt.simple-shaped client (micropython-lib ``umqtt.simple`` on the
# ESP32, a paho-mqtt adapter in the simulator).
#
# Persistent session (clean_session False), keepalive, retained last will on the state
# topic, subscriptions to res and cmd (QoS 1) on every connect, retained online state.
# Reconnects with bounded exponential backoff; poll() never blocks for long.
#
# umqtt.simple weaknesses covered here: it never retransmits a QoS 1 publish (the app
# resends the same request id instead), it does not restore subscriptions after a
# reconnect (we subscribe on every connect), and its socket is blocking with no timeout
# (check_msg() even switches it back to blocking), so a dead peer could hang publish()
# while it waits for PUBACK: after connect and after every check_msg() the socket gets
# SOCKET_TIMEOUT_S, turning a hang into an OSError -> reconnect; the watchdog in main.py
# is the last resort.
import json

from micropython import const

from vafa.clock import ticks_add, ticks_diff, ticks_ms
from vafa.version import VERSION

BACKOFF_MIN_MS = const(1000)
BACKOFF_MAX_MS = const(30000)
SOCKET_TIMEOUT_S = const(5)


def topic(device_id, leaf):
    return "vafa/v1/dev/%s/%s" % (device_id, leaf)


class Session:
    """``client_factory()`` returns a fresh umqtt.simple-like client (already given its
    client id, server, port, user, password, keepalive and ssl)."""

    def __init__(self, client_factory, device_id, keepalive_s=30, time_fn=None,
                 link_ok=None, log=None):
        self._factory = client_factory
        self.device_id = device_id
        self.keepalive_s = keepalive_s
        self.t_req = topic(device_id, "req")
        self.t_res = topic(device_id, "res")
        self.t_cmd = topic(device_id, "cmd")
        self.t_state = topic(device_id, "state")
        self._time = time_fn
        self._link_ok = link_ok
        self._log = log
        self._handler = None
        self.client = None
        self.connected = False
        self.queued = 0
        self._backoff = BACKOFF_MIN_MS
        self._next_try = None  # None: try at once
        self._last_out = 0
        self.connects = 0

    def set_handler(self, fn):
        """``fn(topic_str, payload_bytes)`` for every message received."""
        self._handler = fn

    def _on_msg(self, t, msg):
        if isinstance(t, (bytes, bytearray)):
            t = bytes(t).decode()
        if self._handler is not None:
            self._handler(t, bytes(msg))

    def _say(self, s):
        if self._log is not None:
            self._log(s)

    def _now_s(self):
        return int(self._time()) if self._time is not None else 0

    def state_body(self, online=True):
        if not online:
            return b'{"online":false}'
        return ('{"online":true,"fw":%s,"queued":%d,"ts":%d}'
                % (json.dumps(VERSION), self.queued, self._now_s())).encode()

    def _arm_timeout(self, c):
        sock = getattr(c, "sock", None)
        if sock is not None:
            try:
                sock.settimeout(SOCKET_TIMEOUT_S)
            except (AttributeError, OSError):
                pass

    def connect(self, now_ms=None):
        """One connection attempt. Returns True when connected and subscribed."""
        if now_ms is None:
            now_ms = ticks_ms()
        self._drop()
        try:
            c = self._factory()
            c.set_callback(self._on_msg)
            c.set_last_will(self.t_state, self.state_body(False), retain=True, qos=1)
            # timeout bounds the TCP connect and CONNACK wait (umqtt.simple >= 1.4).
            c.connect(clean_session=False, timeout=SOCKET_TIMEOUT_S)
            self._arm_timeout(c)
            self.client = c
            c.subscribe(self.t_res, qos=1)
            c.subscribe(self.t_cmd, qos=1)
            c.publish(self.t_state, self.state_body(True), retain=True, qos=1)
        except Exception as e:  # OSError, MQTTException, ...
            self._say("mqtt connect failed: %r" % (e,))
            self._drop()
            self._schedule(now_ms)
            return False
        self.connected = True
        self.connects += 1
        self._backoff = BACKOFF_MIN_MS
        self._next_try = None
        self._last_out = now_ms
        self._say("mqtt connected")
        return True

    def _schedule(self, now_ms):
        self._next_try = ticks_add(now_ms, self._backoff)
        self._backoff = min(self._backoff * 2, BACKOFF_MAX_MS)

    def _drop(self):
        c = self.client
        self.client = None
        self.connected = False
        if c is not None:
            try:
                c.disconnect()
            except Exception:
                pass

    def _lost(self, now_ms, e):
        self._say("mqtt connection lost: %r" % (e,))
        self._drop()
        self._schedule(now_ms)

    def poll(self, now_ms=None):
        """Deliver waiting messages, keep the connection alive, reconnect when due."""
        if now_ms is None:
            now_ms = ticks_ms()
        if not self.connected:
            if self._link_ok is not None and not self._link_ok():
                return
            if self._next_try is None or ticks_diff(now_ms, self._next_try) >= 0:
                self.connect(now_ms)
            return
        try:
            self.client.check_msg()
            self._arm_timeout(self.client)
            if ticks_diff(now_ms, self._last_out) >= self.keepalive_s * 500:
                self.client.ping()
                self._last_out = now_ms
        except Exception as e:
            self._lost(now_ms, e)

    def publish_request(self, frame, now_ms=None):
        """Publish a signed request frame (QoS 1). False if not connected or it failed."""
        if now_ms is None:
            now_ms = ticks_ms()
        if not self.connected:
            return False
        try:
            self.client.publish(self.t_req, frame, retain=False, qos=1)
        except Exception as e:
            self._lost(now_ms, e)
            return False
        self._last_out = now_ms
        return True

    def publish_state(self, now_ms=None):
        """Publish the retained state (queued count). False if not connected or failed."""
        if now_ms is None:
            now_ms = ticks_ms()
        if not self.connected:
            return False
        try:
            self.client.publish(self.t_state, self.state_body(True), retain=True, qos=1)
        except Exception as e:
            self._lost(now_ms, e)
            return False
        self._last_out = now_ms
        return True

    def close(self):
        c = self.client
        if c is not None and self.connected:
            try:
                c.publish(self.t_state, self.state_body(False), retain=True, qos=1)
            except Exception:
                pass
        self._drop()
