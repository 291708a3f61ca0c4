"""The load generator against a live stack: real signing, one request in flight each."""

import json
import subprocess
import sys

from sqlalchemy import func, select

from backend.extensions import db
from backend.models import TerminalRequest


def test_two_terminals_for_two_seconds(stack):
    r = subprocess.run(
        [sys.executable, "-m", "simulator", "load", "--terminals", "2", "--rate", "20",
         "--duration", "2", "--warmup", "0", "--instance-dir", str(stack.instance_dir),
         "--op", "lookup", "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    s = json.loads(r.stdout)
    assert s["errors"] == 0 and s["terminals"] == 2
    assert 10 <= s["count"] <= 42  # paced at 20/s for 2 s (one in flight each)
    lat = s["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"] < 5000
    with stack.app.app_context():
        rows = db.session.execute(select(TerminalRequest.device_id, func.count())
                                  .group_by(TerminalRequest.device_id)).all()
    per_device = {device: n for device, n in rows}
    assert set(per_device) == {"t01", "t02"} and sum(per_device.values()) == s["count"]


def test_more_terminals_than_registered_devices_fails_clearly(stack):
    r = subprocess.run(
        [sys.executable, "-m", "simulator", "load", "--terminals", "3", "--rate", "1",
         "--duration", "1", "--instance-dir", str(stack.instance_dir)],
        capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert "needs 3 device configs, found 2" in r.stderr
