"""Checks of a terminal's config.json (provisioning/terminal_config.py), called directly:
every problem is named by its field, all at once; a setup config carries wiring only.
The `check-config` command around them: tests/unit/provisioning/test_cli.py."""

import copy
import json

import pytest

from provisioning import terminal_config
from tests.unit.provisioning.test_cli import GOOD


def test_the_reference_config_has_no_problems():
    assert terminal_config.problems(copy.deepcopy(GOOD)) == []


def test_every_problem_is_reported_at_once_each_naming_its_field():
    config = copy.deepcopy(GOOD)
    config.update(device_id="T 1", key_hex="AB" * 32, lang="de", seq_floor=-1)
    config["mqtt"].update(port=0, user="t02", password="short", insecure="yes")
    assert [problem.split(":")[0] for problem in terminal_config.problems(config)] == [
        "device_id", "key_hex", "lang", "mqtt.port", "mqtt.user", "mqtt.password",
        "mqtt.insecure", "seq_floor"]


@pytest.mark.parametrize(("change", "problem"), [
    ({"mqtt": None}, "mqtt: missing"),
    ({"chip": "esp8266"}, "chip: must be one of"),
    ({"pins": None}, "pins: missing"),
    ({"seq_floor": 1.5}, "seq_floor: must be a whole number >= 0"),
])
def test_missing_or_unknown_sections_are_named(change, problem):
    config = {**copy.deepcopy(GOOD), **change}
    assert any(found.startswith(problem) for found in terminal_config.problems(config))


def test_a_pin_used_twice_is_a_problem():
    config = copy.deepcopy(GOOD)
    config["pins"]["buzzer"] = config["pins"]["led"]
    assert terminal_config.problems(config) != []
    assert terminal_config.pin_problems(config["pins"]) == terminal_config.problems(config)


def test_a_setup_config_has_wiring_and_no_identity_or_secrets():
    setup = terminal_config.setup_config({"buzzer": 5})
    assert set(setup) == {"chip", "pins"}
    assert setup["pins"] == {**terminal_config.DEFAULT_PINS, "buzzer": 5}


def test_load_reads_an_object_and_names_the_file_otherwise(tmp_path):
    path = tmp_path / "t01.json"
    path.write_text(json.dumps(GOOD), encoding="utf-8")
    assert terminal_config.load(path)["device_id"] == "t01"
    for text, message in (("[1, 2]", "must hold a JSON object"), ("{", "not valid JSON")):
        path.write_text(text)
        with pytest.raises(ValueError, match=message):
            terminal_config.load(path)
    with pytest.raises(ValueError, match="no such file"):
        terminal_config.load(tmp_path / "missing.json")
