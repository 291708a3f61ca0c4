"""``python -m simulator load``: N virtual terminals against a running Vafa.

Each virtual terminal is one registered device (DIR/devices/<id>/config.json). It signs
its requests with the device key exactly as PROTOCOL.md frames them, keeps one request
in flight, and follows an open-loop schedule: terminal i of N is due every N/rate
seconds, offset by i/rate. A terminal still waiting for its response when it is due
sends as soon as the response arrives, and slots it could not use are skipped, so an
overloaded backend shows as an achieved rate below the offered one (both are reported).
Latency is measured from just before the publish to the verified response.

All terminals run on one thread: their paho clients use the external-loop API
(socket(), loop_read/loop_write/loop_misc) under one selector, so the generator itself
needs a fraction of one core at thousands of requests per second instead of one thread
per terminal. `LoadGenerator` is the library the benchmark (`make bench`) drives; the CLI
runs one step of it.
"""

from __future__ import annotations

import argparse
import json
import math
import selectors
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from backend import protocol

EXIT_OK = 0
EXIT_ERRORS = 1  # the run finished but some requests failed
EXIT_USAGE = 2
RESPONSE_TIMEOUT_S = 5.0  # PROTOCOL.md: the terminal waits 5 s for a response
CONNECT_TIMEOUT_S = 10.0
MAX_TERMINALS = 1000
MAX_DURATION_S = 3600.0
MAX_WARMUP_S = 600.0
DEFAULT_CARD = "9900010000000019"
MISC_INTERVAL_S = 1.0  # paho's keepalive bookkeeping
MAX_SELECT_WAIT_S = 0.005
REPLAY_AGE_S = 3600  # replayed journal entries were sold an hour ago (inside the window)
USE_ALL_CREDIT = -1  # PROTOCOL.md: "as much as the rules allow"


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Result:
    """What one measured step saw: latencies of successful requests and error codes."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)  # request ids answered successfully
    sent: int = 0

    def ok(self, ms: float, request_id: str = "") -> None:
        self.latencies_ms.append(ms)
        if request_id:
            self.ids.append(request_id)

    def error(self, code: str) -> None:
        self.errors[code] = self.errors.get(code, 0) + 1


def summarize(result: Result, terminals: int, duration_s: float,
              offered_rate: float | None = None) -> dict:
    """The step's numbers. rate_per_s counts every answered or failed request;
    achieved_per_s only the successful ones."""
    lat = sorted(result.latencies_ms)
    errors = sum(result.errors.values())

    def r(v):
        return None if v is None else round(v, 2)

    summary = {
        "terminals": terminals,
        "duration_s": duration_s,
        "count": len(lat) + errors,
        "ok": len(lat),
        "errors": errors,
        "error_codes": dict(sorted(result.errors.items())),
        "rate_per_s": round((len(lat) + errors) / duration_s, 2),
        "achieved_per_s": round(len(lat) / duration_s, 2),
        "latency_ms": {"p50": r(percentile(lat, 50)), "p95": r(percentile(lat, 95)),
                       "p99": r(percentile(lat, 99)), "max": r(lat[-1] if lat else None)},
    }
    if offered_rate is not None:
        summary["offered_per_s"] = offered_rate
    return summary


# ---- framing (PROTOCOL.md "Framing and signature"): the backend's codec, one home ------

encode_frame = protocol.encode_frame


def decode_frame(payload: bytes, key: bytes) -> bytes | None:
    """The body when the signature verifies, else None (a load run counts it, never stops)."""
    try:
        return protocol.decode_frame(payload, key)
    except protocol.FrameError:
        return None


# ---- terminals -----------------------------------------------------------------------

@dataclass
class TerminalSpec:
    """One registered device as the load generator needs it."""

    device_id: str
    key: bytes
    host: str
    port: int
    username: str
    password: str
    cards: list[str]  # members this terminal sells to, in turn
    next_seq: int = 1  # strictly increasing per device (PROTOCOL.md)

    @classmethod
    def from_config(cls, config: dict, cards: list[str], next_seq: int) -> TerminalSpec:
        m = config["mqtt"]
        return cls(config["device_id"], bytes.fromhex(config["key_hex"]), m["host"],
                   int(m["port"]), m["user"], m["password"], cards, next_seq)


@dataclass(frozen=True)
class Workload:
    op: str = "purchase"  # or "lookup"
    amount_rials: int = 100_000
    spend: bool = False  # pay with credit: use_credit -1
    replay_share: float = 0.0  # share of terminals replaying journaled offline sales
    expect: str = "backend"  # or "echo": the request frame comes back unchanged


class _Terminal:
    def __init__(self, spec: TerminalSpec, replaying: bool):
        self.spec = spec
        self.replaying = replaying
        self.seq = spec.next_seq
        self.card_index = 0
        self.next_at = 0.0
        self.in_flight: str | None = None  # request id
        self.sent_at = 0.0
        self.measured = False  # sent inside the measured window
        self.connected = False
        self.subscribed = False
        self.failure: str | None = None
        self.arrived: list[bytes] = []
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=spec.device_id,
                                  clean_session=True)
        self.client.username_pw_set(spec.username, spec.password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self.failure = f"{self.spec.device_id}: broker refused the connection: {reason_code}"
            return
        self.connected = True
        client.subscribe(f"vafa/v1/dev/{self.spec.device_id}/res", qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties):
        self.subscribed = True

    def _on_message(self, client, userdata, message):
        self.arrived.append(bytes(message.payload))

    def body(self, workload: Workload, now_ts: int) -> tuple[str, bytes]:
        spec = self.spec
        seq = self.seq
        self.seq += 1
        request_id = f"{spec.device_id}-{seq:06d}"
        card = spec.cards[self.card_index % len(spec.cards)]
        self.card_index += 1
        fields = {"v": 1, "id": request_id, "seq": seq, "ts": now_ts, "op": workload.op,
                  "card": card}
        if workload.op == "purchase":
            fields["amount"] = workload.amount_rials
            fields["use_credit"] = 0
            if self.replaying:
                # A journaled sale (credit is never spent offline) replayed now.
                fields["ts"] = now_ts - REPLAY_AGE_S
                fields["offline"] = True
            elif workload.spend:
                fields["use_credit"] = USE_ALL_CREDIT
        return request_id, json.dumps(fields, separators=(",", ":")).encode()


class LoadGenerator:
    """Connected virtual terminals that run measured steps at offered rates.

    Keep one instance across steps: the terminals stay connected and their seq counters
    keep increasing (read `next_seqs()` to continue in a later generator)."""

    def __init__(self, specs: list[TerminalSpec], workload: Workload = Workload()):
        if not specs:
            raise ValueError("at least one terminal is needed")
        self.workload = workload
        replaying = round(len(specs) * workload.replay_share)
        self.terminals = [_Terminal(spec, index < replaying)
                          for index, spec in enumerate(specs)]
        self.selector = selectors.DefaultSelector()
        self.last_misc = 0.0

    # -- connection --------------------------------------------------------------------
    def connect(self, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
        for terminal in self.terminals:
            spec = terminal.spec
            try:
                terminal.client.connect(spec.host, spec.port, keepalive=30)
            except OSError as error:
                raise ConnectionError(f"{spec.device_id}: cannot connect to "
                                      f"{spec.host}:{spec.port}: {error}") from None
            sock = terminal.client.socket()
            # A request is one small packet: without this, Nagle's algorithm holds it
            # back until the previous packet's (delayed) ACK, adding ~40 ms.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.selector.register(sock, selectors.EVENT_READ, terminal)
        deadline = time.monotonic() + timeout_s
        while not all(t.subscribed for t in self.terminals):
            for terminal in self.terminals:
                if terminal.failure:
                    raise ConnectionError(terminal.failure)
            if time.monotonic() > deadline:
                missing = [t.spec.device_id for t in self.terminals if not t.subscribed]
                raise ConnectionError(f"no CONNACK/SUBACK within {timeout_s:g} s for "
                                      f"{', '.join(missing[:5])}")
            self._poll(0.01)

    def close(self) -> None:
        for terminal in self.terminals:
            try:
                terminal.client.disconnect()
                terminal.client.loop_write()
            except Exception:  # closing anyway
                pass
            try:
                self.selector.unregister(terminal.client.socket())
            except Exception:
                pass
            terminal.client.socket() and terminal.client.socket().close()
        self.selector.close()

    def next_seqs(self) -> dict[str, int]:
        return {t.spec.device_id: t.seq for t in self.terminals}

    # -- the loop ----------------------------------------------------------------------
    def _poll(self, timeout_s: float) -> list[_Terminal]:
        """Read whatever arrived; returns the terminals that got messages."""
        got = []
        for key, _events in self.selector.select(max(0.0, timeout_s)):
            terminal = key.data
            rc = terminal.client.loop_read()
            if rc != mqtt.MQTT_ERR_SUCCESS:
                terminal.failure = f"{terminal.spec.device_id}: connection lost ({rc})"
                raise ConnectionError(terminal.failure)
            if terminal.client.want_write():
                terminal.client.loop_write()
            if terminal.arrived:
                got.append(terminal)
        now = time.monotonic()
        if now - self.last_misc > MISC_INTERVAL_S:
            self.last_misc = now
            for terminal in self.terminals:
                terminal.client.loop_misc()
                if terminal.client.want_write():
                    terminal.client.loop_write()
        return got

    def run_step(self, rate_per_s: float, duration_s: float, warmup_s: float = 1.0,
                 drain_s: float = RESPONSE_TIMEOUT_S) -> dict:
        """Offer `rate_per_s` for warmup_s + duration_s; stats cover requests sent in the
        measured window (after the warm-up). Waits up to drain_s for the last answers."""
        if rate_per_s <= 0 or duration_s <= 0:
            raise ValueError("rate and duration must be positive")
        workload = self.workload
        expect_echo = workload.expect == "echo"
        count = len(self.terminals)
        interval_s = count / rate_per_s
        result = Result()
        start = time.perf_counter() + 0.01
        measure_from = start + warmup_s
        stop_at = measure_from + duration_s
        for index, terminal in enumerate(self.terminals):
            terminal.next_at = start + index / rate_per_s
            terminal.in_flight = None
            terminal.arrived.clear()
        pending: dict[str, _Terminal] = {}  # in-flight request id -> terminal
        sent_in_window = 0
        while True:
            now = time.perf_counter()
            sending = now < stop_at
            if not sending and not pending:
                break
            if not sending and now > stop_at + drain_s:
                break
            # Send what is due.
            next_due = stop_at
            if sending:
                now_ts = int(time.time())
                for terminal in self.terminals:
                    if terminal.in_flight is not None:
                        continue
                    if terminal.next_at <= now:
                        request_id, body = terminal.body(workload, now_ts)
                        frame = encode_frame(body, terminal.spec.key)
                        terminal.in_flight = request_id
                        terminal.measured = measure_from <= now < stop_at
                        sent_in_window += terminal.measured
                        pending[request_id] = terminal
                        terminal.sent_at = time.perf_counter()
                        terminal.client.publish(f"vafa/v1/dev/{terminal.spec.device_id}/req",
                                                frame, qos=1)
                        if terminal.client.want_write():
                            terminal.client.loop_write()
                        terminal.next_at += interval_s
                        if terminal.next_at < now:  # slots missed while waiting: skipped
                            terminal.next_at = now
                    elif terminal.next_at < next_due:
                        next_due = terminal.next_at
            wait_s = min(MAX_SELECT_WAIT_S, max(0.0, next_due - time.perf_counter()))
            for terminal in self._poll(wait_s):
                received_at = time.perf_counter()
                frames, terminal.arrived = terminal.arrived, []
                for payload in frames:
                    body = decode_frame(payload, terminal.spec.key)
                    if body is None:
                        result.error("BAD_SIGNATURE")
                        continue
                    try:
                        answer = json.loads(body)
                    except ValueError:
                        result.error("BAD_JSON")
                        continue
                    request_id = str(answer.get("id"))
                    if request_id != terminal.in_flight:
                        continue  # a late answer to a request that timed out
                    pending.pop(request_id, None)
                    terminal.in_flight = None
                    if not terminal.measured:
                        continue
                    if expect_echo or answer.get("ok"):
                        result.ok((received_at - terminal.sent_at) * 1000, request_id)
                    else:
                        result.error(str(answer.get("code", "ERROR")))
            # Bounded wait per request (PROTOCOL.md: 5 s), then the terminal moves on.
            now = time.perf_counter()
            for request_id, terminal in list(pending.items()):
                if now - terminal.sent_at > RESPONSE_TIMEOUT_S:
                    del pending[request_id]
                    terminal.in_flight = None
                    if terminal.measured:
                        result.error("TIMEOUT")
        for terminal in pending.values():
            terminal.in_flight = None
            if terminal.measured:
                result.error("TIMEOUT")
        result.sent = sent_in_window
        summary = summarize(result, count, duration_s, rate_per_s)
        summary["sent_per_s"] = round(sent_in_window / duration_s, 2)
        summary["ids"] = result.ids
        return summary


# ---- CLI -----------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    def bounded(kind, low, high, *, above_low=False):
        """An argparse type: a `kind` number in [low, high], or (low, high] when above_low."""
        def parse(text: str):
            try:
                value = kind(text)
            except ValueError:
                raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
            if not ((low < value) if above_low else (low <= value)) or value > high:
                raise argparse.ArgumentTypeError(
                    f"must be {'>' if above_low else '>='} {low:g} and <= {high:g}")
            return value
        return parse

    def positive(kind, limit):
        return bounded(kind, 0, limit, above_low=True)

    p = argparse.ArgumentParser(
        prog="python -m simulator load",
        description="N virtual terminals with real signing, one request in flight each, "
                    "on an open-loop schedule at the offered rate.",
        epilog="example: python -m simulator load --terminals 2 --rate 50 --duration 10 --json")
    p.add_argument("--terminals", type=positive(int, MAX_TERMINALS), required=True,
                   help="number of virtual terminals (registered devices to use)")
    p.add_argument("--rate", type=positive(float, 100_000.0), required=True,
                   help="offered requests per second, all terminals together")
    p.add_argument("--duration", type=positive(float, MAX_DURATION_S), required=True,
                   help="seconds measured (after the warm-up; in-flight requests get up to "
                        "5 s more)")
    p.add_argument("--warmup", type=bounded(float, 0, MAX_WARMUP_S), default=1.0,
                   help="seconds sent before measuring, excluded from the stats (default 1)")
    p.add_argument("--instance-dir", type=Path, default=Path("instance"),
                   help="holds devices/<id>/config.json (default: instance)")
    p.add_argument("--op", choices=("purchase", "lookup"), default="purchase")
    p.add_argument("--card", action="append",
                   help=f"member card; repeat to spread purchases (default {DEFAULT_CARD})")
    p.add_argument("--amount", type=positive(int, 10**12 - 1), default=10_000,
                   help="purchase amount in rials (default 10,000)")
    p.add_argument("--spend", action="store_true",
                   help="pay with credit: use_credit -1 (as much as the rules allow)")
    p.add_argument("--replay-share", type=bounded(float, 0, 1), default=0.0,
                   help="share of terminals replaying journaled sales (offline: true), "
                        "e.g. 0.1")
    p.add_argument("--expect", choices=("backend", "echo"), default="backend",
                   help="echo: a consumer returns the request frame unchanged (baseline)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    return p


def main(argv=None) -> int:
    from simulator import shim

    shim.install()
    from vafa import config as vconfig
    from vafa.store import Store

    from card_spec import normalize_digits

    args = build_parser().parse_args(argv)
    cards = [normalize_digits(card) for card in (args.card or [DEFAULT_CARD])]
    configs = sorted((args.instance_dir / "devices").glob("*/config.json"))
    if len(configs) < args.terminals:
        print(f"error: --terminals {args.terminals} needs {args.terminals} device configs, "
              f"found {len(configs)} in {args.instance_dir / 'devices'}/*/config.json "
              "(register more terminals)", file=sys.stderr)
        return EXIT_USAGE
    specs, stores = [], []
    try:
        for index, path in enumerate(configs[:args.terminals]):
            config = vconfig.load(str(path))
            store = Store(str(path.resolve().parent))
            own = cards[index::args.terminals] or cards
            specs.append(TerminalSpec.from_config(config, own, store.last_seq() + 1))
            stores.append(store)
    except vconfig.ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    workload = Workload(op=args.op, amount_rials=args.amount, spend=args.spend,
                        replay_share=args.replay_share, expect=args.expect)
    generator = LoadGenerator(specs, workload)
    try:
        generator.connect()
        summary = generator.run_step(args.rate, args.duration, warmup_s=args.warmup)
    except ConnectionError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        # The seqs used are kept, as the firmware keeps them on flash.
        for store, seq in zip(stores, generator.next_seqs().values(), strict=True):
            if seq - 1 > store.last_seq():
                from vafa.store import write_atomic

                write_atomic(store._seq_path, str(seq - 1))
        generator.close()
    summary.pop("ids")
    if args.json:
        print(json.dumps(summary))
    else:
        lat = summary["latency_ms"]
        print(f"terminals {summary['terminals']}, {summary['duration_s']:g} s measured: "
              f"offered {args.rate:g}/s, sent {summary['sent_per_s']:g}/s, "
              f"{summary['ok']} ok ({summary['achieved_per_s']:g}/s), "
              f"{summary['errors']} errors"
              + (f" {summary['error_codes']}" if summary["errors"] else ""))
        print(f"latency ms: p50 {lat['p50']}  p95 {lat['p95']}  p99 {lat['p99']}  "
              f"max {lat['max']}")
    return EXIT_OK if summary["errors"] == 0 and summary["count"] else EXIT_ERRORS
