"""The load generator against the echo baseline on a real Mosquitto."""

import json

from backend import broker as broker_files
from bench import echo
from simulator.load import LoadGenerator, TerminalSpec, Workload, decode_frame, encode_frame

BACKEND_PASSWORD = "echo-test-password"
KEY = bytes(range(32))


def _start(broker, device_ids):
    hashed = broker_files.mosquitto_password_hash
    broker_files.write_broker_files(
        broker.config_dir, broker.port,
        broker_files.BrokerUser("vafa-backend", hashed(BACKEND_PASSWORD)),
        [broker_files.BrokerUser(d, hashed(f"pw-{d}")) for d in device_ids],
        backend_port=broker.backend_port)
    broker.start()


def _specs(broker, device_ids):
    return [TerminalSpec(d, KEY, "127.0.0.1", broker.port, d, f"pw-{d}",
                         cards=["9900010000000019", "9900010000000027"], next_seq=5)
            for d in device_ids]


def test_echo_round_trip_counts_and_ids(broker):
    devices = ["lt-1", "lt-2", "lt-3"]
    _start(broker, devices)
    consumer = echo.make_client("127.0.0.1", broker.backend_port, "vafa-backend",
                                BACKEND_PASSWORD)
    consumer.loop_start()
    generator = LoadGenerator(_specs(broker, devices), Workload(expect="echo"))
    try:
        generator.connect()
        summary = generator.run_step(60, duration_s=1.0, warmup_s=0.3)
    finally:
        generator.close()
        consumer.disconnect()
        consumer.loop_stop()
    # 60/s for 1 s measured: every request sent in the window answered, none twice.
    assert summary["errors"] == 0, summary["error_codes"]
    assert 55 <= summary["ok"] <= 62
    assert summary["sent_per_s"] == summary["ok"] / 1.0
    assert len(set(summary["ids"])) == summary["ok"]
    assert {i.rsplit("-", 1)[0] for i in summary["ids"]} == set(devices)
    # The warm-up used the first seqs (from 5): measured ids come after them.
    assert min(int(i.rsplit("-", 1)[1]) for i in summary["ids"]) > 5
    assert summary["latency_ms"]["p99"] < 1000
    assert generator.next_seqs()["lt-1"] > 5 + 10


def test_no_consumer_means_timeouts_not_successes(broker, monkeypatch):
    from simulator import load

    monkeypatch.setattr(load, "RESPONSE_TIMEOUT_S", 0.3)
    _start(broker, ["lt-9"])
    generator = LoadGenerator(_specs(broker, ["lt-9"]), Workload(expect="echo"))
    try:
        generator.connect()
        summary = generator.run_step(5, duration_s=0.5, warmup_s=0.0, drain_s=0.5)
    finally:
        generator.close()
    assert summary["ok"] == 0
    assert summary["error_codes"].get("TIMEOUT", 0) >= 1


def test_request_bodies_for_spend_and_replay():
    spec = _specs(type("B", (), {"port": 1})(), ["lt-4"])[0]
    replaying = LoadGenerator([spec, spec], Workload(spend=True, replay_share=0.5)).terminals
    first_id, first = replaying[0].body(Workload(spend=True, replay_share=0.5), 1_000_000)
    _, second = replaying[1].body(Workload(spend=True, replay_share=0.5), 1_000_000)
    replay, spend = json.loads(first), json.loads(second)
    assert first_id == "lt-4-000005" and replay["seq"] == 5
    assert replay["offline"] is True and replay["use_credit"] == 0
    assert replay["ts"] < 1_000_000
    assert spend["use_credit"] == -1 and "offline" not in spend
    # Signed as PROTOCOL.md frames it: the test vector.
    body = (b'{"v":1,"id":"t1-000001","seq":1,"ts":1763800000,"op":"purchase",'
            b'"card":"9900010000000019","amount":250000,"use_credit":0}')
    frame = encode_frame(body, KEY)
    assert frame.endswith(b"97957032e71d1d287522c399e4d86cdd496d6710d174fc68fe21b6b0431bff85")
    assert decode_frame(frame, KEY) == body
    assert decode_frame(frame[:-1] + b"0", KEY) is None
