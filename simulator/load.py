"""``python -m simulator load``: N virtual terminals against a running Vafa.

Each virtual terminal is one registered device (DIR/devices/<id>/config.json): it signs
its requests with the device key exactly as the firmware does (vafa.protocol), takes its
seq from the device's store (so the simulator and the load generator never reuse a seq),
keeps one request in flight, and paces itself to its share of --rate. Latency is measured
from publish to the verified response.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from simulator import shim

EXIT_OK = 0
EXIT_ERRORS = 1  # the run finished but some requests failed
EXIT_USAGE = 2
RESPONSE_TIMEOUT_S = 5.0  # PROTOCOL.md: the terminal waits 5 s for a response
CONNECT_TIMEOUT_S = 10.0
MAX_TERMINALS = 1000
MAX_DURATION_S = 3600.0
DEFAULT_CARD = "9900010000000019"


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list (None when empty)."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass
class Result:
    latencies_ms: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ok(self, ms: float) -> None:
        with self.lock:
            self.latencies_ms.append(ms)

    def error(self, code: str) -> None:
        with self.lock:
            self.errors[code] = self.errors.get(code, 0) + 1


class VirtualTerminal(threading.Thread):
    def __init__(self, config_path: Path, args, interval_s: float, deadline: float,
                 result: Result):
        super().__init__(daemon=True)
        from vafa import config as vconfig
        from vafa.store import Store

        self.cfg = vconfig.load(str(config_path))
        self.key = vconfig.key_bytes(self.cfg)
        self.device_id = self.cfg["device_id"]
        self.store = Store(str(config_path.resolve().parent))
        self.args = args
        self.interval_s = interval_s
        self.deadline = deadline
        self.result = result
        self.failure: str | None = None
        self._cond = threading.Condition()
        self._responses: dict[str, bytes] = {}
        self._connected = threading.Event()
        m = self.cfg["mqtt"]
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.device_id,
                                  clean_session=True)
        self.client.username_pw_set(m["user"], m["password"])
        if m["tls"]:
            self.client.tls_set()
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message

    def _on_connect(self, client, userdata, flags, reason_code, properties):
        if reason_code.is_failure:
            self.failure = f"{self.device_id}: broker refused the connection: {reason_code}"
            client.disconnect()
        else:
            client.subscribe(f"vafa/v1/dev/{self.device_id}/res", qos=1)
        self._connected.set()

    def _on_message(self, client, userdata, message):
        from vafa import protocol

        body = protocol.decode_frame(bytes(message.payload), self.key)
        parsed = protocol.parse_body(body) if body is not None else None
        if parsed is None:
            self.result.error("BAD_SIGNATURE")
            return
        with self._cond:
            self._responses[str(parsed.get("id"))] = parsed
            self._cond.notify_all()

    def connect(self) -> None:
        m = self.cfg["mqtt"]
        try:
            self.client.connect(m["host"], m["port"], keepalive=m["keepalive_s"])
        except OSError as e:
            self.failure = f"{self.device_id}: cannot connect to {m['host']}:{m['port']}: {e}"
            return
        self.client.loop_start()
        if not self._connected.wait(CONNECT_TIMEOUT_S):
            self.failure = f"{self.device_id}: no CONNACK within {CONNECT_TIMEOUT_S:g} s"
        time.sleep(0.1)  # let the SUBACK arrive before the first request

    def run(self) -> None:
        from vafa import protocol

        next_at = time.monotonic()
        while True:
            now = time.monotonic()
            if now >= self.deadline:
                break
            if now < next_at:
                time.sleep(min(next_at - now, self.deadline - now))
                continue
            next_at = max(next_at + self.interval_s, now)
            seq = self.store.next_seq()
            rid = protocol.request_id(self.device_id, seq)
            if self.args.op == "lookup":
                body = protocol.make_request(self.device_id, seq, int(time.time()), "lookup",
                                             self.args.card)
            else:
                body = protocol.make_request(self.device_id, seq, int(time.time()), "purchase",
                                             self.args.card, self.args.amount, 0)
            frame = protocol.encode_frame(body, self.key)
            started = time.monotonic()
            info = self.client.publish(f"vafa/v1/dev/{self.device_id}/req", frame, qos=1)
            with self._cond:
                got = self._cond.wait_for(lambda rid=rid: rid in self._responses,
                                          RESPONSE_TIMEOUT_S)
                response = self._responses.pop(rid, None)
                self._responses.clear()  # late answers to timed-out requests: bounded
            if not got or response is None:
                self.result.error("TIMEOUT" if info.rc == mqtt.MQTT_ERR_SUCCESS
                                  else "PUBLISH_FAILED")
                continue
            ms = (time.monotonic() - started) * 1000
            if response.get("ok"):
                self.result.ok(ms)
            else:
                self.result.error(str(response.get("code", "ERROR")))

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def build_parser() -> argparse.ArgumentParser:
    def positive(kind, limit):
        def parse(s: str):
            try:
                v = kind(s)
            except ValueError:
                raise argparse.ArgumentTypeError(f"not a number: {s!r}") from None
            if not 0 < v <= limit:
                raise argparse.ArgumentTypeError(f"must be > 0 and <= {limit}")
            return v
        return parse

    p = argparse.ArgumentParser(prog="python -m simulator load",
                                description="N virtual terminals with real signing, one "
                                            "request in flight each.")
    p.add_argument("--terminals", type=positive(int, MAX_TERMINALS), required=True,
                   help="number of virtual terminals (registered devices to use)")
    p.add_argument("--rate", type=positive(float, 100_000.0), required=True,
                   help="target requests per second, all terminals together")
    p.add_argument("--duration", type=positive(float, MAX_DURATION_S), required=True,
                   help="seconds of sending (in-flight requests get up to 5 s more)")
    p.add_argument("--instance-dir", type=Path, default=Path("instance"),
                   help="holds devices/<id>/config.json (default: instance)")
    p.add_argument("--op", choices=("purchase", "lookup"), default="purchase")
    p.add_argument("--card", default=DEFAULT_CARD, help=f"member card (default {DEFAULT_CARD})")
    p.add_argument("--amount", type=positive(int, 10**12 - 1), default=10_000,
                   help="purchase amount in rials (default 10,000)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    return p


def summarize(result: Result, terminals: int, duration_s: float) -> dict:
    lat = sorted(result.latencies_ms)
    errors = sum(result.errors.values())

    def r(v):
        return None if v is None else round(v, 2)

    return {
        "terminals": terminals,
        "duration_s": duration_s,
        "count": len(lat) + errors,
        "ok": len(lat),
        "errors": errors,
        "error_codes": dict(sorted(result.errors.items())),
        "rate_per_s": round((len(lat) + errors) / duration_s, 2),
        "latency_ms": {"p50": r(percentile(lat, 50)), "p95": r(percentile(lat, 95)),
                       "p99": r(percentile(lat, 99)), "max": r(lat[-1] if lat else None)},
    }


def main(argv=None) -> int:
    shim.install()
    from vafa import config as vconfig

    from card_spec import normalize_digits

    args = build_parser().parse_args(argv)
    args.card = normalize_digits(args.card)
    configs = sorted((args.instance_dir / "devices").glob("*/config.json"))
    if len(configs) < args.terminals:
        print(f"error: --terminals {args.terminals} needs {args.terminals} device configs, "
              f"found {len(configs)} in {args.instance_dir / 'devices'}/*/config.json "
              "(register more terminals)", file=sys.stderr)
        return EXIT_USAGE
    result = Result()
    interval_s = args.terminals / args.rate
    try:
        terminals = [VirtualTerminal(p, args, interval_s, 0.0, result)
                     for p in configs[:args.terminals]]
    except vconfig.ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    try:
        for t in terminals:
            t.connect()
            if t.failure:
                print(f"error: {t.failure}", file=sys.stderr)
                return EXIT_USAGE
        deadline = time.monotonic() + args.duration
        for t in terminals:
            t.deadline = deadline
            t.start()
        for t in terminals:
            t.join(args.duration + RESPONSE_TIMEOUT_S + 5)
    finally:
        for t in terminals:
            t.close()
    summary = summarize(result, args.terminals, args.duration)
    if args.json:
        print(json.dumps(summary))
    else:
        lat = summary["latency_ms"]
        print(f"terminals {summary['terminals']}, {summary['duration_s']:g} s: "
              f"{summary['count']} requests ({summary['rate_per_s']:g}/s), "
              f"{summary['ok']} ok, {summary['errors']} errors"
              + (f" {summary['error_codes']}" if summary["errors"] else ""))
        print(f"latency ms: p50 {lat['p50']}  p95 {lat['p95']}  p99 {lat['p99']}  "
              f"max {lat['max']}")
    return EXIT_OK if summary["errors"] == 0 and summary["count"] else EXIT_ERRORS
