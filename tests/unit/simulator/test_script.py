"""Scripted terminal sessions (simulator/script.py): steps typed in any digit script
parse to one form, anything else is refused with a message naming the step or line; the
run itself against a live terminal is tests/e2e and tests/unit/simulator/test_process.py."""

import pytest

from simulator import script
from simulator.script import Step, StepError


def test_every_kind_of_step_parses():
    steps = script.parse("scan:۹۹۰۰۰۱۰۰۰۰۰۰۰۰۱۹, key:e, keys:250000E, wait:500, net:OFF, "
                         "net:on, reboot, power-cut, drain:10000")
    assert steps == [Step("scan", "9900010000000019"), Step("keys", "E"),
                     Step("keys", "250000E"), Step("wait", 500), Step("net", "off"),
                     Step("net", "on"), Step("reboot"), Step("power-cut"),
                     Step("drain", 10_000)]
    assert [str(step) for step in steps[:2]] == ["scan:9900010000000019", "keys:E"]


def test_a_script_file_has_one_step_a_line_and_comments():
    text = "# Sara pays 250,000\nscan:9900010000000019\n\nkeys:250000E  # then OK\n"
    assert script.parse(text, separator="\n") == [Step("scan", "9900010000000019"),
                                                  Step("keys", "250000E")]


@pytest.mark.parametrize(("text", "message"), [
    ("scan:", "step 1: scan needs a code"),
    ("key:12", "key takes exactly one"),
    ("keys:25X", "keys are one of"),
    ("wait:soon", "wait needs milliseconds, got 'soon'"),
    ("drain:600001", "drain must be 0..600000 ms, got 600001"),
    ("wait:-1", "wait must be 0..600000 ms"),
    ("net:maybe", "net takes on or off"),
    ("reboot:now", "unknown step 'reboot:now'"),
    ("dance", "unknown step 'dance'; steps: scan:CARD"),
    (" , ", "the script has no steps"),
])
def test_bad_steps_are_refused_with_where_and_why(text, message):
    with pytest.raises(StepError, match=message):
        script.parse(text)


def test_a_script_files_errors_name_the_line():
    with pytest.raises(StepError, match="line 3: unknown step 'jump'"):
        script.parse("reboot\n# fine so far\njump\n", separator="\n")


def test_a_script_is_bounded():
    assert len(script.parse(",".join(["reboot"] * script.MAX_STEPS))) == script.MAX_STEPS
    with pytest.raises(StepError, match=f"at most {script.MAX_STEPS} steps"):
        script.parse(",".join(["reboot"] * (script.MAX_STEPS + 1)))


class Display:
    def __init__(self):
        self.history = []


class Printer:
    def __init__(self):
        self.receipts = []


class Hardware:
    def __init__(self):
        self.display, self.printer = Display(), Printer()


class Terminal:
    def __init__(self):
        self.hw = Hardware()


def test_the_printer_shows_each_new_frame_once():
    term, lines = Terminal(), []
    printer = script.Printer(term, lines.append)
    term.hw.display.history += [["Scan card"], ["Scan card"], ["Sara", "250,000"]]
    printer.flush()
    printer.flush()  # nothing new: nothing printed again
    assert lines == ["[display]", "Scan card", "[display]", "Sara", "250,000"]
