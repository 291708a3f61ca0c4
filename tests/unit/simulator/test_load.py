"""Load generator pieces that need no broker."""

import pytest

from simulator import load


def test_percentile_nearest_rank():
    values = sorted(float(v) for v in range(1, 101))
    assert load.percentile(values, 50) == 50
    assert load.percentile(values, 95) == 95
    assert load.percentile(values, 99) == 99
    assert load.percentile([7.0], 99) == 7.0
    assert load.percentile([], 50) is None


def test_summary():
    r = load.Result()
    for ms in (1.0, 2.0, 3.0, 4.0):
        r.ok(ms)
    r.error("TIMEOUT")
    s = load.summarize(r, 2, 2.0)
    assert (s["count"], s["ok"], s["errors"], s["rate_per_s"]) == (5, 4, 1, 2.5)
    assert s["error_codes"] == {"TIMEOUT": 1}
    assert s["latency_ms"] == {"p50": 2.0, "p95": 4.0, "p99": 4.0, "max": 4.0}


@pytest.mark.parametrize("argv,msg", [
    (["--terminals", "0", "--rate", "1", "--duration", "1"], "> 0"),
    (["--terminals", "1", "--rate", "x", "--duration", "1"], "not a number"),
    (["--terminals", "1", "--rate", "1"], "--duration"),
    (["--terminals", "1", "--rate", "1", "--duration", "1", "--warmup", "-1"], ">= 0"),
    (["--terminals", "1", "--rate", "1", "--duration", "1", "--warmup", "1e9"], "<= 600"),
])
def test_usage_errors(argv, msg, capsys):
    with pytest.raises(SystemExit) as e:
        load.main(argv)
    assert e.value.code == 2 and msg in capsys.readouterr().err


def test_missing_devices(tmp_path, capsys):
    assert load.main(["--terminals", "1", "--rate", "1", "--duration", "1",
                      "--instance-dir", str(tmp_path)]) == 2
    assert "needs 1 device configs, found 0" in capsys.readouterr().err
