"""The worker's Prometheus metrics count what it really handled, and are served over HTTP."""

import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from backend import metrics, protocol
from backend.metrics import WORKER_REGISTRY
from tests.support.broker import free_port


def value(name: str, labels: dict | None = None) -> float:
    return WORKER_REGISTRY.get_sample_value(name, labels or {}) or 0.0


def test_sales_replays_and_bad_frames_are_counted(stack):
    before = {"ok": value("vafa_frames_total", {"code": "OK"}),
              "bad": value("vafa_security_events_total", {"reason": "bad_signature"}),
              "replays": value("vafa_offline_replays_total"),
              "replies": value("vafa_reply_seconds_count")}
    with stack.terminal("t01") as till:
        till.send(till.request(1))
        assert till.wait_reply()["ok"] is True
        till.send(till.request(2, offline=True))
        assert till.wait_reply()["ok"] is True
        till.send_raw(protocol.encode_body(till.request(3)) + b"\n" + b"0" * 64)
        assert till.replies_before_lookup(900) == []
    assert value("vafa_frames_total", {"code": "OK"}) - before["ok"] == 3  # and the lookup
    assert value("vafa_offline_replays_total") - before["replays"] == 1
    assert value("vafa_security_events_total", {"reason": "bad_signature"}) - before["bad"] == 1
    assert value("vafa_reply_seconds_count") - before["replies"] == 3


def test_the_worker_serves_its_metrics_on_loopback():
    port = free_port()
    metrics.serve_worker_metrics(port)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    names = {family.name for family in text_string_to_metric_families(text)}
    assert {"vafa_frames", "vafa_reply_seconds", "vafa_offline_replays",
            "vafa_security_events"} <= names
