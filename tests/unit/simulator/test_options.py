"""What the simulator's CLI and window share (simulator/options.py): distinct exit codes,
and where a terminal's config.json is found."""

from argparse import Namespace
from pathlib import Path

from simulator import options


def test_exit_codes_are_distinct_and_ok_is_zero():
    codes = (options.EXIT_OK, options.EXIT_REFUSED, options.EXIT_NO_RESPONSE)
    assert codes[0] == 0 and len(set(codes)) == 3


def test_an_explicit_config_wins():
    args = Namespace(config=Path("/etc/vafa/t09.json"), instance_dir=Path("/srv/instance"),
                     device="t01")
    assert options.config_path(args) == Path("/etc/vafa/t09.json")


def test_otherwise_the_instances_device_config_is_used():
    args = Namespace(config=None, instance_dir=Path("/srv/instance"), device="t01")
    assert options.config_path(args) == Path("/srv/instance/devices/t01/config.json")
