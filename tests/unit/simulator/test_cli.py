"""CLI argument validation and the paths that need no broker."""

import json

import pytest

from simulator import cli
from tests.support.broker import free_port

KEY_HEX = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"


@pytest.fixture
def instance(tmp_path):
    d = tmp_path / "instance" / "devices" / "t01"
    d.mkdir(parents=True)
    port = free_port()  # nothing listens there
    (d / "config.json").write_text(json.dumps({
        "device_id": "t01", "key_hex": KEY_HEX, "lang": "en", "club_name": "Vafa Demo Club",
        "mqtt": {"host": "127.0.0.1", "port": port, "user": "t01", "password": "pw",
                 "tls": False, "keepalive_s": 30},
    }))
    return tmp_path / "instance", port


def _run(capsys, *argv):
    with pytest.raises(SystemExit) as e:
        cli.parse_args(list(argv))
    return e.value.code, capsys.readouterr().err


def test_negative_amount_is_a_usage_error(capsys):
    code, err = _run(capsys, "--headless", "--scan", "9900010000000019", "--amount", "-5")
    assert code == 2 and "amount must be > 0" in err


@pytest.mark.parametrize("argv,msg", [
    (["--headless", "--scan", "9900010000000019", "--amount", "abc"], "integer"),
    (["--headless", "--scan", "9900010000000019", "--amount", "0"], "> 0"),
    (["--headless", "--amount", "100"], "--scan"),
    (["--headless", "--scan", "9900010000000019"], "--amount"),
    (["--headless", "--scan", "9900010000000019", "--lookup", "--amount", "5"], "--lookup"),
    (["--headless", "--scan", "9900010000000019", "--amount", "5", "--use-credit", "-2"],
     "use-credit"),
    (["--headless", "--scan", "9900010000000019", "--amount", "5", "--timeout-s", "0"], "> 0"),
])
def test_usage_errors(capsys, argv, msg):
    code, err = _run(capsys, *argv)
    assert code == 2 and msg in err


def test_script_keys():
    a = cli.parse_args(["--headless", "--scan", "9900010000000019", "--amount", "250000",
                        "--use-credit", "-1"])
    assert cli.script_keys(a) == list("250000") + ["U", "E"]
    a = cli.parse_args(["--headless", "--scan", "9900010000000019", "--lookup"])
    assert cli.script_keys(a) == ["L"]
    a = cli.parse_args(["--headless", "--scan", "9900010000000019", "--amount", "7"])
    assert cli.script_keys(a) == ["7", "E"] and a.use_credit == 0 and a.timeout_s == 10
    a = cli.parse_args(["--headless", "--scan", "9900010000000019", "--amount", "7",
                        "--use-points"])
    assert cli.script_keys(a) == ["7", "U", "U", "E"]
    a = cli.parse_args(["--headless", "--scan", "9900010000000019", "--amount", "7",
                        "--use-points", "--use-credit", "-1"])
    assert cli.script_keys(a) == ["7", "U", "U", "U", "E"]


def test_bad_card_is_refused_without_network(instance, capsys):
    inst, _ = instance
    code = cli.main(["--headless", "--instance-dir", str(inst), "--scan", "9900010000000018",
                     "--amount", "1000"])
    out, err = capsys.readouterr()
    assert code == 1
    assert "Invalid card" in out
    assert "not a valid card" in err and "nothing was sent" in err
    assert not (inst / "devices" / "t01" / "seq").exists()


def test_missing_config(tmp_path, capsys):
    code = cli.main(["--headless", "--instance-dir", str(tmp_path), "--scan",
                     "9900010000000019", "--amount", "1000"])
    assert code == 2
    assert "config" in capsys.readouterr().err


def test_broker_unreachable_names_host_and_port(instance, capsys):
    inst, port = instance
    code = cli.main(["--headless", "--instance-dir", str(inst), "--scan", "9900010000000019",
                     "--amount", "1000", "--timeout-s", "3"])
    err = capsys.readouterr().err
    assert code == 2
    assert f"127.0.0.1:{port}" in err and "cannot connect" in err


@pytest.mark.parametrize("argv,msg", [
    (["--steps", "scan:9900010000000019,key:X"], "keys are one of"),
    (["--steps", "key:12"], "exactly one"),
    (["--steps", "wait:soon"], "milliseconds"),
    (["--steps", "wait:-1"], "0..600000"),
    (["--steps", "net:maybe"], "on or off"),
    (["--steps", "dance"], "unknown step"),
    (["--steps", " , "], "no steps"),
    (["--steps", "reboot", "--script", "x"], "not both"),
    (["--steps", "reboot", "--scan", "9900010000000019"], "cannot be combined"),
    (["--script", "/nonexistent/steps.txt"], "cannot read script"),
])
def test_script_usage_errors(capsys, argv, msg):
    code, err = _run(capsys, *argv)
    assert code == 2 and msg in err


def test_script_file_with_comments(tmp_path):
    f = tmp_path / "steps.txt"
    f.write_text("# a cashier's report\nnet:off\nscan:\u06f9\u06f9\u06f0\u06f0\u06f0"
                 "\u06f10000000019\nkeys:25e  # enter\n\nwait:100\nreboot\ndrain:50\n")
    a = cli.parse_args(["--script", str(f)])
    assert [str(s) for s in a.step_list] == ["net:off", "scan:9900010000000019", "keys:25E",
                                             "wait:100", "reboot", "drain:50"]
    assert a.headless


def test_offline_script_journals_without_a_broker(instance, capsys):
    inst, _ = instance
    code = cli.main(["--instance-dir", str(inst), "--steps",
                     "net:off,scan:9900010000000019,keys:1500E,key:C,"
                     "scan:9900010000000019,key:L,key:R"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "[step] keys:1500E" in out
    assert "Saved offline" in out and "Amount: 1,500" in out
    assert "Points will be added later" in out.split("[receipt]")[1]
    assert "Needs connection" in out.split("[step] keys:L")[1]
    # Refund last offers the card's journaled sale too (it replays before the refund).
    assert "Refund last?" in out.split("[step] keys:R")[1]
    assert "t01-000001" in out.split("[step] keys:R")[1]
    assert "[journal] queued 1" in out
    assert (inst / "devices" / "t01" / "journal.log").stat().st_size > 0


def test_drain_without_broker_fails_clearly(instance, capsys):
    inst, port = instance
    code = cli.main(["--instance-dir", str(inst), "--timeout-s", "1", "--steps", "net:on"])
    assert code == 2
    assert f"127.0.0.1:{port}" in capsys.readouterr().err


def test_window_without_a_display_says_so(instance, capsys, monkeypatch):
    inst, _ = instance
    monkeypatch.delenv("DISPLAY", raising=False)
    assert cli.main(["--instance-dir", str(inst)]) == 2
    err = capsys.readouterr().err
    assert "cannot open the window" in err and "--headless" in err


def test_screenshot_is_for_the_window(capsys):
    code, err = _run(capsys, "--headless", "--screenshot", "x.png", "--scan",
                     "9900010000000019", "--amount", "5")
    assert code == 2 and "not --headless" in err
