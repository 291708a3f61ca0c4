# The terminal's MQTT session on vafa.mqtt.Client (our own non-blocking client: the
# frozen umqtt differs by MicroPython release and blocks).
#
# Persistent session (clean_session False), keepalive, retained last will on the state
# topic, subscriptions to res and cmd (QoS 1) on every connect, retained online state.
# poll() never waits: a connection is started by one poll() and finished by later ones
# (vafa.mqtt's bounded steps); reconnects follow a bounded exponential backoff counted
# on the loop's ticks. A QoS 1 request whose PUBACK does not come within
# vafa.mqtt.PUBACK_TIMEOUT_MS, or whose connection dropped first, is reported by
# request_failed(), so the app falls back to the journal at once instead of waiting for
# its resends.
import json
import sys

from micropython import const

from vafa.clock import ticks_add, ticks_diff, ticks_ms
from vafa.version import VERSION

# The kind of build this terminal takes over the air (vafa.ota.kind(), not imported:
# the downloader loads only when updating): MicroPython .mpy, the simulator sources.
FW_KIND = "mpy" if getattr(sys.implementation, "name", "") == "micropython" else "py"

BACKOFF_MIN_MS = const(1000)
BACKOFF_MAX_MS = const(30000)
# After this many failed connects in a row the cached broker address is looked up
# again (DNS can block on the ESP32: done rarely, see docs/terminal.md).
RESOLVE_AFTER_FAILS = const(5)
_MAX_FAILED_TOKENS = const(8)
# The retained state is published on connect, when the app says something changed, and
# at least this often (issue 16 "Health"); never more than once per STATE_MIN_MS on change.
STATE_EVERY_MS = const(60000)
STATE_MIN_MS = const(2000)
# The health part of a state frame stays within this (the frame bound is 4 KiB).
MAX_STATE_BYTES = const(1024)


def topic(device_id, leaf):
    return "vafa/v1/dev/%s/%s" % (device_id, leaf)


class Session:
    """``client_factory()`` returns a fresh, unconnected vafa.mqtt.Client (client id,
    host, port, user, password, keepalive, TLS context and Sockets already given).
    ``busy()`` (optional) True means the cashier is typing: no new connection attempt
    (its DNS lookup and TLS handshake are the only steps that can take long) is started
    then."""

    def __init__(self, client_factory, device_id, keepalive_s=30, time_fn=None,
                 link_ok=None, log=None, busy=None):
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
        self.busy = busy
        self.note = ""  # shown on the idle screen, e.g. "NO CA.PEM" (main.py)
        self._handler = None
        self.client = None
        self.connected = False
        self.queued = 0
        self._backoff = BACKOFF_MIN_MS
        self._next_try = None  # None: try at once
        self._fails = 0
        self.connects = 0
        self._token = 0
        self._pending = {}  # token -> packet id of a request publish awaiting PUBACK
        self._failed = []  # tokens whose publish was never acknowledged
        self._now = None
        # health() returns a dict of health fields for the state topic (App.health);
        # other parts (e.g. OTA) may add fields to what it returns.
        self.health = None
        self.ota = None  # the update's report for the state (vafa.app, vafa.ota)
        self._state_at = None  # ticks of the last state publish

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
        """The retained state: online flag, firmware, journal depth, time, and the
        health fields (docs/protocol.md "State"), dropped whole if they would make the
        body larger than MAX_STATE_BYTES."""
        if not online:
            return b'{"online":false}'
        head = ('{"online":true,"fw":%s,"fwk":"%s","queued":%d,"ts":%d'
                % (json.dumps(VERSION), FW_KIND, self.queued, self._now_s()))
        if self.ota:  # an update's progress (vafa.ota): at most about 170 bytes
            head += ',"ota":' + json.dumps(self.ota)
        extra = ""
        if self.health is not None:
            try:
                h = self.health()
                extra = json.dumps(h)[1:-1] if h else ""
            except Exception as e:  # a probe failing must not cost the state
                self._say("health failed: %r" % (e,))
        if extra and len(head) + len(extra) + 2 <= MAX_STATE_BYTES:
            return (head + "," + extra + "}").encode()
        return (head + "}").encode()

    def _ticks(self, now_ms):
        # Callers without a time (the app's publishes) get the last poll()'s: the same
        # clock as the Client's timers, in tests a fake one.
        if now_ms is not None:
            return now_ms
        return self._now if self._now is not None else ticks_ms()

    def connect(self, now_ms=None):
        """Start one connection attempt (returns at once; poll() completes it). False
        when it could not even start."""
        now_ms = self._ticks(now_ms)
        self._drop()
        c = None
        try:
            c = self._factory()
            c.set_callback(self._on_msg)
            c.set_last_will(self.t_state, self.state_body(False), retain=True, qos=1)
            self.client = c
            c.connect(now_ms, clean_session=False)
        except Exception as e:  # OSError (DNS, socket), MQTTError
            self._failed_attempt(now_ms, e, c)
            return False
        return True

    def _failed_attempt(self, now_ms, e, c):
        self._say("mqtt connect failed: %r" % (e,))
        self._drop()
        self._fails += 1
        if self._fails >= RESOLVE_AFTER_FAILS and c is not None and c.sockets is not None:
            c.sockets.forget()
            self._fails = 0
        self._schedule(now_ms)

    def _up(self, now_ms):
        c = self.client
        c.subscribe(self.t_res, now_ms, qos=1)
        c.subscribe(self.t_cmd, now_ms, qos=1)
        c.publish(self.t_state, self.state_body(True), now_ms, retain=True, qos=1)
        self._state_at = now_ms
        self.connected = True
        self.connects += 1
        self._fails = 0
        self._backoff = BACKOFF_MIN_MS
        self._next_try = None
        self._say("mqtt connected")

    def _schedule(self, now_ms):
        self._next_try = ticks_add(now_ms, self._backoff)
        self._backoff = min(self._backoff * 2, BACKOFF_MAX_MS)

    def _drop(self):
        c = self.client
        self.client = None
        self.connected = False
        if c is not None:
            for token, pid in self._pending.items():
                if pid in c.inflight:
                    self._failed = (self._failed + [token])[-_MAX_FAILED_TOKENS:]
            try:
                c.disconnect()
            except Exception:
                pass
        self._pending = {}

    def _lost(self, now_ms, e):
        if not self.connected:
            self._failed_attempt(now_ms, e, self.client)
            return
        self._say("mqtt connection lost: %r" % (e,))
        self._drop()
        self._schedule(now_ms)

    def poll(self, now_ms=None):
        """Deliver waiting messages, keep the connection alive, reconnect when due."""
        now_ms = self._ticks(now_ms)
        self._now = now_ms
        c = self.client
        if c is None:
            if self._link_ok is not None and not self._link_ok():
                return
            if self.busy is not None and self.busy():
                return
            if self._next_try is None or ticks_diff(now_ms, self._next_try) >= 0:
                self.connect(now_ms)
            return
        try:
            c.step(now_ms)
            if not self.connected and c.connected:
                self._up(now_ms)
        except Exception as e:
            self._lost(now_ms, e)
            return
        for token in list(self._pending):
            if self._pending[token] not in c.inflight:
                del self._pending[token]  # PUBACK arrived
        if (self.connected and self._state_at is not None
                and ticks_diff(now_ms, self._state_at) >= STATE_EVERY_MS):
            self.publish_state(now_ms)

    def _publish(self, t, body, now_ms, retain):
        now_ms = self._ticks(now_ms)
        if not self.connected:
            return 0
        try:
            return self.client.publish(t, body, now_ms, retain=retain, qos=1)
        except Exception as e:
            self._lost(now_ms, e)
            return 0

    def publish_request(self, frame, now_ms=None):
        """Queue a signed request frame (QoS 1). Returns a token for request_failed()
        (true), or 0 when not connected or it failed."""
        pid = self._publish(self.t_req, frame, now_ms, False)
        if not pid:
            return 0
        self._token += 1
        self._pending[self._token] = pid
        return self._token

    def request_failed(self, token):
        """True when the publish behind ``token`` was never acknowledged by the broker
        (the connection dropped or its PUBACK did not come in time)."""
        return token in self._failed

    def publish_state(self, now_ms=None):
        """Publish the retained state (queued count, health). False if not connected or
        failed."""
        now_ms = self._ticks(now_ms)
        self._state_at = now_ms
        return bool(self._publish(self.t_state, self.state_body(True), now_ms, True))

    def state_due(self, now_ms=None):
        """True when a changed state may be published now (STATE_MIN_MS since the last)."""
        now_ms = self._ticks(now_ms)
        return (self.connected and (self._state_at is None
                                    or ticks_diff(now_ms, self._state_at) >= STATE_MIN_MS))

    def close(self):
        c = self.client
        if c is not None and self.connected:
            try:
                # Queued only: DISCONNECT follows; the broker keeps the retained offline
                # state only if this gets written before the close, else the will does it.
                now_ms = self._ticks(None)
                c.publish(self.t_state, self.state_body(False), now_ms, retain=True)
                c.step(now_ms)
            except Exception:
                pass
        self._drop()
