"""The MQTT worker: parse, verify, call the terminal service, reply, then acknowledge.

A request is acknowledged (paho-mqtt `manual_ack`) only after its transaction committed
and its reply was handed to the client, so a crash means redelivery; redelivery is
harmless because the service answers a repeated (device, id) from its stored response.

Faults (docs/RELIABILITY.md):
- A temporary database fault (unreachable, connection lost, a lock held past the
  worker's bounded lock wait) anywhere in the handling is answered `UNAVAILABLE` and
  acknowledged: the failed attempt committed nothing and the terminal retries the same id
  (its retries are bounded). The reply is signed with the device key from the last
  successful load (a small cache used for nothing else), since the fault may be in
  loading the device itself; a device never seen since start gets no reply and retries
  after its 5 s timeout.
- No frame can hold the worker (issue 17): a body is bounded before and while it is
  parsed (protocol.py), and any other exception a frame raises, whatever its type, is
  logged, counted (`crash`), answered `UNAVAILABLE` when the device is known, and
  acknowledged, so the broker never hands it back, before or after a restart.
- The worker's database lock wait is bounded (WORKER_LOCK_WAIT_MS) well below the
  terminal's 5 s timeout, so another process holding SQLite's write lock (or a
  PostgreSQL row lock) costs each frame at most that, answered `UNAVAILABLE`.
"""

import json
import logging
import os
import queue
import secrets
import socket
import threading
import time
from collections import Counter, OrderedDict
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from flask import Flask
from paho.mqtt.enums import CallbackAPIVersion

from backend import metrics, protocol
from backend.broker import backend_client_id
from backend.database import bound_lock_wait, is_temporary_fault
from backend.errors import UnknownDevice
from backend.extensions import db
from backend.services import devices, terminal, terminal_commands, texts

log = logging.getLogger(__name__)

KEEPALIVE_S = 30
RECONNECT_MIN_DELAY_S = 1
RECONNECT_MAX_DELAY_S = 30
# Bounds the requests the broker hands us before we acknowledged earlier ones.
MAX_INFLIGHT_MESSAGES = 20
STATE_SUBSCRIPTION = "vafa/v1/dev/+/state"
# Keys of recently seen devices, only for signing UNAVAILABLE while the database is down.
MAX_CACHED_KEYS = 10_000
# How long the worker's transactions wait for a database lock (SQLite's write lock, a
# PostgreSQL row lock) before the frame is answered UNAVAILABLE: well below the
# terminal's 5 s reply timeout, so a held lock cannot tie the worker up for long.
WORKER_LOCK_WAIT_MS = 1_500
# PostgreSQL: a statement that runs longer than this is cancelled (UNAVAILABLE too).
WORKER_STATEMENT_TIMEOUT_MS = 3_000
# Test hook of the chaos suite (tests/chaos): the path of a trigger file. Unset in
# production, where the worker holds None and checks nothing.
PAUSE_AFTER_COMMIT_ENV = "VAFA_TEST_PAUSE_AFTER_COMMIT"
PAUSE_LIMIT_S = 120
# Group commit (docs/hot-path.md): at most this many queued requests answered in one
# transaction; bounded by what the broker hands us unacknowledged. 1: one by one.
MAX_BATCH = MAX_INFLIGHT_MESSAGES
# A terminal's bad signatures are written to the database at most this often (issue 16).
BAD_SIGNATURE_NOTE_S = 60


def _code_of(response: bytes) -> str:
    """The `code` of a response body the service built (`…"ok":…,"code":"X",…`)."""
    start = response.find(b'"code":"') + 8
    return response[start:response.find(b'"', start)].decode("ascii")


def _is_deadlock(error: BaseException) -> bool:
    """PostgreSQL's deadlock or serialization failure: two batches locked rows in opposite
    orders. Not the database being away, so worth answering one request at a time."""
    return getattr(getattr(error, "orig", None), "sqlstate", None) in {"40P01", "40001"}


def mask_card(number: str) -> str:
    return "…" + number[-4:] if len(number) >= 4 else "…"


class PauseAfterCommit:
    """Pauses a worker between a request's database commit and its MQTT acknowledgement,
    so a test can `kill -9` it exactly there. When the trigger file exists, the first
    worker to commit an accepted request takes it (rename: exactly one worker wins),
    writes `<trigger>.paused` with its pid, the request topic and id, and sleeps (at most
    PAUSE_LIMIT_S, then carries on)."""

    def __init__(self, trigger: Path):
        self.trigger = trigger

    @classmethod
    def from_environ(cls) -> "PauseAfterCommit | None":
        path = os.environ.get(PAUSE_AFTER_COMMIT_ENV)
        return cls(Path(path)) if path else None

    def maybe_pause(self, topic: str, frame: bytes) -> None:
        if b'"ok":true' not in frame:
            return
        taken = self.trigger.with_name(f"{self.trigger.name}.{os.getpid()}")
        try:
            self.trigger.rename(taken)
        except OSError:
            return  # no trigger, or another worker took it
        marker = self.trigger.with_name(self.trigger.name + ".paused")
        request_id = json.loads(frame.rpartition(b"\n")[0]).get("id")
        marker.write_text(f"{os.getpid()} {topic} {request_id}\n")
        log.warning("test hook: paused after commit of a request on %s", topic)
        time.sleep(PAUSE_LIMIT_S)


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
        self._keys: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self._bad_signature_noted: OrderedDict[str, datetime] = OrderedDict()
        self._pause_hook = PauseAfterCommit.from_environ()
        self.batch_max = max(1, min(MAX_BATCH, int(app.config.get("WORKER_BATCH_MAX", 1))))
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._batcher: threading.Thread | None = None
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            # On the backend's listener; "backend:" ids are out of every terminal's reach
            # (backend/broker.py). Without a stable id a restart starts a new session.
            client_id=backend_client_id(client_id or f"worker-{secrets.token_hex(6)}"),
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        self.client.username_pw_set(username, password)
        self.client.max_inflight_messages_set(MAX_INFLIGHT_MESSAGES)
        self.client.reconnect_delay_set(RECONNECT_MIN_DELAY_S, RECONNECT_MAX_DELAY_S)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = self._on_subscribe
        self.subscribed = False  # True once the broker acknowledged the request subscription
        self._request_subscription_mid: int | None = None

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
        self.bound_lock_wait()
        self._start_batcher()
        self.connect()
        self.client.loop_forever(retry_first_connection=True)

    def start(self) -> None:
        """Run the network loop in a background thread (tests, embedding)."""
        self.bound_lock_wait()
        self._start_batcher()
        self.connect()
        self.client.loop_start()

    def bound_lock_wait(self) -> None:
        """Bound the lock wait of this process's database connections (a worker serving
        terminals: the web panel keeps its longer wait)."""
        with self.app.app_context():
            bound_lock_wait(db.engine, WORKER_LOCK_WAIT_MS, WORKER_STATEMENT_TIMEOUT_MS)

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
        if self._batcher is not None:
            self._queue.put(None)
            self._batcher.join()
            self._batcher = None

    def _start_batcher(self) -> None:
        """With WORKER_BATCH_MAX > 1, requests are answered on a thread of their own that
        takes what is queued (up to the bound) as one batch; the network loop only queues."""
        if self.batch_max > 1 and self._batcher is None:
            self._batcher = threading.Thread(target=self._run_batches, name="vafa-batcher",
                                             daemon=True)
            self._batcher.start()

    def _run_batches(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            messages = [first]
            while len(messages) < self.batch_max:
                try:
                    message = self._queue.get_nowait()
                except queue.Empty:
                    break
                if message is None:
                    self._queue.put(None)
                    break
                messages.append(message)
            started = time.perf_counter()
            try:
                replies = self.handle_batch([(item.topic, item.payload) for item in messages])
            except Exception:
                log.exception("batch of %d frames not handled; acknowledged", len(messages))
                self._count("crash")
                replies = [None] * len(messages)
            # Only now, after the batch's transaction committed: replies, then acks.
            for message, reply in zip(messages, replies, strict=True):
                self._reply_and_ack(self.client, message, reply, started)

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            log.error("broker refused the worker: %s", reason_code)
            return
        # Each reply is a small packet answered at once: without TCP_NODELAY, Nagle's
        # algorithm holds it for the broker's delayed ACK (~40 ms a round trip on Linux).
        sock = client.socket()
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        # Subscribe on every connect: the broker may have lost the session.
        self.subscribed = False
        _, self._request_subscription_mid = client.subscribe(self.subscription, qos=1)
        # Terminals' retained status for the panel. Not shared: MQTT 5 does not send
        # retained messages to shared subscriptions, and applying a state twice is harmless.
        client.subscribe(STATE_SUBSCRIPTION, qos=0)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        # Subscribed means the broker's SUBACK granted it: before that a request may be
        # published and never delivered to this worker.
        if mid != self._request_subscription_mid:
            return
        if any(code.is_failure for code in reason_codes):
            log.error("broker refused the subscription %s: %s", self.subscription,
                      reason_codes)
            return
        self.subscribed = True
        log.info("worker connected to %s:%s, subscribed %s", self.host, self.port,
                 self.subscription)

    def _count(self, name: str) -> None:
        """One outcome: the worker's own counters (tests read them) and Prometheus's."""
        self.counters[name] += 1
        metrics.FRAMES.labels(name).inc()
        if name.startswith("dropped_"):
            metrics.SECURITY_EVENTS.labels(name.removeprefix("dropped_")).inc()

    def _on_message(self, client, userdata, message):
        if message.topic.endswith("/state"):
            self.handle_state(message.topic, message.payload)
            return
        if self._batcher is not None:
            self._queue.put(message)
            return
        started = time.perf_counter()
        try:
            reply = self.handle(message.topic, message.payload)
        except Exception:
            # handle() answers every exception of a frame itself; this is the last guard
            # so that nothing a frame raises can leave it for redelivery.
            log.exception("frame on %s not handled; acknowledged", message.topic)
            self._count("crash")
            reply = None
        self._reply_and_ack(client, message, reply, started)

    def _reply_and_ack(self, client, message, reply, started: float) -> None:
        if reply is not None:
            reply_topic, frame = reply
            if self._pause_hook is not None:
                self._pause_hook.maybe_pause(message.topic, frame)
            client.publish(reply_topic, frame, qos=1)
            metrics.REPLY_SECONDS.observe(time.perf_counter() - started)
        client.ack(message.mid, message.qos)

    def publish_command(self, topic: str, frame: bytes) -> None:
        """A command of the backend's own to one terminal (a config re-sent after a
        reflash): QoS 1, so the broker keeps it for a terminal that just went away."""
        self.client.publish(topic, frame, qos=1)

    def handle_state(self, topic: str, payload: bytes) -> bool:
        """Record a terminal's online flag, firmware, queue depth and health; never
        replies, but re-sends the panel's config to a terminal that lost it (reflash)."""
        try:
            device_id = protocol.device_id_from_topic(topic, "state")
        except protocol.FrameError as error:
            self._drop("bad_topic", error)
            return False
        with self.app.app_context():
            try:
                return terminal_commands.take_state(db.session, self.publish_command, device_id,
                                                    payload, datetime.now(UTC))
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
                try:
                    session.rollback()
                    session.remove()
                except Exception as error:  # a dead connection: the pool replaces it
                    log.warning("session clean-up failed: %s", error)
                log.debug("frame handled in %.1f ms", (time.perf_counter() - started) * 1000)

    def _handle(self, session, topic: str, payload: bytes) -> tuple[str, bytes] | None:
        try:
            device_id = protocol.device_id_from_topic(topic, "req")
        except protocol.FrameError as error:
            return self._drop("bad_topic", error)
        if len(payload) > protocol.MAX_PAYLOAD_BYTES:
            return self._drop("oversize", f"{len(payload)} bytes from {device_id}")
        now = datetime.now(UTC)
        now_ts = int(now.timestamp())
        try:
            device = terminal.load_active_device(session, device_id)
            key = bytes.fromhex(device.key_hex)
            lang = device.lang
            self._remember_key(device_id, key, lang)
            body = protocol.decode_frame(payload, key)
        except UnknownDevice as error:
            return self._drop("unknown_device", error)
        except protocol.FrameError as error:
            self._note_bad_signature(session, device_id, now)
            return self._drop("bad_signature", f"{device_id}: {error}")
        except Exception as error:
            if not is_temporary_fault(error):
                raise
            return self._unavailable_before_load(device_id, payload, now_ts, error)
        # A byte test first, so that a sale's body is not parsed twice on the hot path.
        if b'"logs"' in body:
            logs = devices.logs_body(body)
            if logs is not None:
                # The terminal's answer to cmd "logs" (issue 16): stored, never answered.
                self._count("logs" if devices.record_logs(session, device_id, logs, now)
                            else "logs_refused")
                return None
        request_id = None
        try:
            try:
                request = protocol.parse_request(body)
            except protocol.ProtocolError as error:
                request_id = error.request_id
                log.warning("%s/%s refused %s: %s", device_id, request_id, error.code,
                            error.message)
                if request_id is None:
                    # No id to store it under: answered, not stored.
                    response = self._error(lang, None, error.code, error.message, now_ts)
                else:
                    response = terminal.refuse_body(session, device_id, error, now)
                    self._count(error.code)
                return protocol.topic(device_id, "res"), protocol.encode_frame(response, key)
            request_id = request.id
            if terminal.clock_ahead(request, now):
                self._count("clock_ahead_clamped")
            response = terminal.answer(session, device_id, request, now)
            self._note_answer(device_id, request, response)
        except UnknownDevice as error:
            return self._drop("unknown_device", error)
        except Exception as error:
            if is_temporary_fault(error):
                # Database unavailable or locked for too long: the terminal may retry the id.
                log.error("%s/%s database fault: %s", device_id, request_id,
                          str(error).splitlines()[0] if str(error) else type(error).__name__)
            else:
                # A bug or a body no check foresaw: whatever it raised (RecursionError,
                # OverflowError from a driver, …), answered and acknowledged, never
                # redelivered, so it cannot hold this worker or the others.
                log.exception("%s/%s request failed; answered UNAVAILABLE", device_id,
                              request_id)
                self._count("crash")
            response = self._error(lang, request_id, "UNAVAILABLE", "", now_ts)
        return protocol.topic(device_id, "res"), protocol.encode_frame(response, key)

    def _note_answer(self, device_id: str, request, response: bytes) -> None:
        code = _code_of(response)
        self._count(code)
        if request.offline:
            metrics.OFFLINE_REPLAYS.inc()
        # Debug, not info: a line per sale costs a record (formatted and redacted when
        # made, backend.log_redaction) on the hot path; refusals and faults stay info+.
        if code != "OK":
            log.info("%s/%s %s refused %s", device_id, request.id, request.op, code)
        elif log.isEnabledFor(logging.DEBUG):
            log.debug("%s/%s %s card %s: OK", device_id, request.id, request.op,
                      mask_card(request.card))

    def handle_batch(self, frames: list[tuple[str, bytes]]) -> list[tuple[str, bytes] | None]:
        """Process several frames; what `handle` returns for each, in order. Verified
        requests are answered together by `terminal.answer_batch` (one commit); any
        other frame (a drop, a refused body, logs, a fault while reading) goes the
        one-by-one way, after the requests before it committed, so a device's frames
        keep their order. Nothing is returned before its transaction committed."""
        replies: list[tuple[str, bytes] | None] = [None] * len(frames)
        pending: list[tuple[int, str, bytes, str, object]] = []
        now = datetime.now(UTC)
        with self.app.app_context():
            session = db.session
            try:
                for index, (topic, payload) in enumerate(frames):
                    opened = self._open_request(session, topic, payload, now)
                    if opened is not None:
                        pending.append((index, *opened))
                        continue
                    self._answer_pending(session, frames, pending, replies, now)
                    pending = []
                    session.rollback()  # no read transaction held across another's commit
                    replies[index] = self.handle(topic, payload)
                self._answer_pending(session, frames, pending, replies, now)
            finally:
                session.rollback()
                session.remove()
        return replies

    def _open_request(self, session, topic: str, payload: bytes, now):
        """(device id, key, lang, request) of a verified request to answer in a batch,
        else None. Reads only; whatever it does not take, `handle` deals with alone."""
        try:
            device_id = protocol.device_id_from_topic(topic, "req")
            if len(payload) > protocol.MAX_PAYLOAD_BYTES:
                return None
            device = terminal.load_active_device(session, device_id)
            key = bytes.fromhex(device.key_hex)
            body = protocol.decode_frame(payload, key)
            if b'"logs"' in body:
                return None
            request = protocol.parse_request(body)
        except Exception:
            session.rollback()
            return None
        self._remember_key(device_id, key, device.lang)
        if terminal.clock_ahead(request, now):
            self._count("clock_ahead_clamped")
        return device_id, key, device.lang, request

    def _answer_pending(self, session, frames, pending, replies, now) -> None:
        if not pending:
            return
        try:
            bodies = terminal.answer_batch(
                session, [(device_id, request) for _, device_id, _, _, request in pending], now)
        except terminal.BatchStopped as stopped:
            bodies = stopped.answered
            rest = pending[len(bodies):]
            if is_temporary_fault(stopped.cause) and not _is_deadlock(stopped.cause):
                # Nothing of the rest committed: UNAVAILABLE, the terminals retry the ids.
                log.error("batch of %d: database fault: %s", len(pending),
                          str(stopped.cause).splitlines()[0] if str(stopped.cause)
                          else type(stopped.cause).__name__)
                for index, device_id, key, lang, request in rest:
                    response = self._error(lang, request.id, "UNAVAILABLE", "",
                                           int(now.timestamp()))
                    replies[index] = (protocol.topic(device_id, "res"),
                                      protocol.encode_frame(response, key))
            else:
                # A race, a deadlock or one request's bug: the rest one by one, as without
                # batching (what was committed is answered from the store).
                self._count("batch_split")
                for index, *_ in rest:
                    replies[index] = self.handle(*frames[index])
        for (index, device_id, key, _, request), body in zip(pending, bodies, strict=False):
            self._note_answer(device_id, request, body)
            replies[index] = protocol.topic(device_id, "res"), protocol.encode_frame(body, key)

    def _note_bad_signature(self, session, device_id: str, now) -> None:
        """Per terminal, for the panel's "wrong key" warning (issue 16); at most one write
        per terminal every BAD_SIGNATURE_NOTE_S, so a flood of forged frames costs the
        database nothing more."""
        last = self._bad_signature_noted.get(device_id)
        if last is not None and (now - last).total_seconds() < BAD_SIGNATURE_NOTE_S:
            return
        self._bad_signature_noted[device_id] = now
        self._bad_signature_noted.move_to_end(device_id)
        if len(self._bad_signature_noted) > MAX_CACHED_KEYS:
            self._bad_signature_noted.popitem(last=False)
        try:
            devices.record_bad_signature(session, device_id, now)  # rolls back if it fails
        except Exception as error:
            log.warning("bad signature of %s not recorded: %s", device_id, error)

    def _remember_key(self, device_id: str, key: bytes, lang: str) -> None:
        self._keys[device_id] = (key, lang)
        self._keys.move_to_end(device_id)
        if len(self._keys) > MAX_CACHED_KEYS:
            self._keys.popitem(last=False)

    def _unavailable_before_load(self, device_id: str, payload: bytes, now_ts: int, error):
        """The database failed while loading the device: answer UNAVAILABLE if the frame
        verifies with the key this worker last saw for it, else leave it to the
        terminal's retry. Either way nothing was written."""
        log.error("%s: database fault loading the device: %s", device_id,
                  str(error).splitlines()[0])
        cached = self._keys.get(device_id)
        if cached is None:
            self._count("unavailable_unsigned")
            return None
        key, lang = cached
        try:
            body = protocol.decode_frame(payload, key)
        except protocol.FrameError as frame_error:
            return self._drop("bad_signature", f"{device_id}: {frame_error}")
        try:
            request_id = protocol.parse_request(body).id
        except protocol.ProtocolError as protocol_error:
            request_id = protocol_error.request_id
        response = self._error(lang, request_id, "UNAVAILABLE", "", now_ts)
        return protocol.topic(device_id, "res"), protocol.encode_frame(response, key)

    def _error(self, lang, request_id, code, detail, now_ts) -> bytes:
        self._count(code)
        message = texts.error_text(lang, code, detail)
        return protocol.encode_body(protocol.error_body(request_id, code, message, now_ts))

    def _drop(self, reason: str, detail) -> None:
        # Security events: counted and logged, never answered (PROTOCOL.md "Framing").
        self._count(f"dropped_{reason}")
        log.warning("dropped frame (%s): %s", reason, detail)
        return None
