"""Scripted terminal sessions: ``python -m simulator --headless --steps/--script``.

A step is ``name`` or ``name:argument``:

    scan:9900010000000019   the scanner reads a code
    key:E                   one keypad key (0-9 C B E U L R)
    keys:250000E            several keys in a row
    wait:500                run the terminal loop for 500 ms
    net:off / net:on        pull / plug the network (net:on waits for the broker)
    reboot                  reset: the app restarts from what is on flash
    power-cut               power lost and back: as reboot, and the board's clock restarts
                            at 2000-01-01, unsynced (no battery clock)
    drain:10000             run until the offline journal is empty, at most 10,000 ms

Every new display frame and every receipt is printed as it appears, so support staff
can replay a cashier's report and read exactly what the terminal showed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simulator.hardware import VALID_KEYS, render_escpos

STEP_HELP = ("scan:CARD, key:K, keys:KEYS, wait:MS, net:on|off, reboot, power-cut, drain:MS "
             "(keys: 0-9 C B E U L R)")
MAX_STEPS = 10_000
MAX_WAIT_MS = 600_000  # one wait/drain step runs at most ten minutes

EXIT_OK = 0
EXIT_FAILED = 2


class StepError(ValueError):
    pass


@dataclass(frozen=True)
class Step:
    name: str
    arg: str | int | None = None

    def __str__(self) -> str:
        return self.name if self.arg is None else f"{self.name}:{self.arg}"


def _ms(name: str, value: str, where: str) -> int:
    try:
        ms = int(value)
    except ValueError:
        raise StepError(f"{where}: {name} needs milliseconds, got {value!r}") from None
    if not 0 <= ms <= MAX_WAIT_MS:
        raise StepError(f"{where}: {name} must be 0..{MAX_WAIT_MS} ms, got {ms}")
    return ms


def parse_step(text: str, where: str = "step") -> Step:
    from card_spec import normalize_digits

    name, _, arg = text.strip().partition(":")
    name = name.strip().lower()
    arg = arg.strip()
    if name == "scan":
        if not arg:
            raise StepError(f"{where}: scan needs a code, e.g. scan:9900010000000019")
        return Step("scan", normalize_digits(arg))
    if name in ("key", "keys"):
        keys = normalize_digits(arg).upper()
        bad = [k for k in keys if k not in VALID_KEYS]
        if not keys or bad or (name == "key" and len(keys) != 1):
            raise StepError(f"{where}: {name}:{arg!r} - keys are one of "
                            f"{''.join(sorted(VALID_KEYS))}"
                            + (" (key takes exactly one)" if name == "key" else ""))
        return Step("keys", keys)
    if name in ("wait", "drain"):
        return Step(name, _ms(name, arg, where))
    if name == "net":
        if arg.lower() not in ("on", "off"):
            raise StepError(f"{where}: net takes on or off, got {arg!r}")
        return Step("net", arg.lower())
    if name in ("reboot", "power-cut") and not arg:
        return Step(name)
    raise StepError(f"{where}: unknown step {text.strip()!r}; steps: {STEP_HELP}")


def parse(text: str, separator: str = ",") -> list[Step]:
    steps = []
    for n, raw in enumerate(text.split(separator), 1):
        raw = raw.split("#", 1)[0].strip() if separator == "\n" else raw.strip()
        if not raw:
            continue
        steps.append(parse_step(raw, f"step {n}" if separator == "," else f"line {n}"))
    if not steps:
        raise StepError("the script has no steps")
    if len(steps) > MAX_STEPS:
        raise StepError(f"at most {MAX_STEPS} steps")
    return steps


class Printer:
    """Prints display frames and receipts the terminal produced since the last call."""

    def __init__(self, term, out: Callable[[str], None]):
        self.term = term
        self.out = out
        self.frames_seen = 0
        self.receipts_seen = 0
        self.last_frame: list[str] | None = None

    def flush(self) -> None:
        hw = self.term.hw
        for frame in hw.display.history[self.frames_seen:]:
            if frame != self.last_frame:
                self.out("[display]")
                for line in frame:
                    self.out(line)
                self.last_frame = frame
        self.frames_seen = len(hw.display.history)
        for raw in hw.printer.receipts[self.receipts_seen:]:
            self.out("[receipt]")
            for line in render_escpos(raw):
                self.out(line)
        self.receipts_seen = len(hw.printer.receipts)


def run(term, steps: list[Step], timeout_s: float, out: Callable[[str], None] = print,
        err: Callable[[str], None] = print) -> int:
    """Run ``steps`` on a simulator.terminal.SimTerminal; 0 when every step completed."""
    from vafa import app as vapp

    shown = Printer(term, out)
    shown.flush()
    if (not steps or steps[0] != Step("net", "off")) and term.link.up:
        if not term.connect(timeout_s):
            err(f"cannot connect to the MQTT broker at {term.broker}; continuing offline")

    def idle_input() -> bool:
        return not term.hw.scanner.queue and not term.hw.keypad.queue

    def settled() -> bool:
        return idle_input() and term.app.state != vapp.SENDING

    for step in steps:
        out(f"[step] {step}")
        if step.name == "scan":
            term.hw.scanner.scan(step.arg)
        elif step.name == "keys":
            term.hw.keypad.press(*step.arg)
        elif step.name == "wait":
            term.run_for(step.arg / 1000)
        elif step.name == "net":
            term.set_network(step.arg == "on")
            if step.arg == "on" and not term.connect(timeout_s):
                shown.flush()
                err(f"net:on - no connection to the MQTT broker at {term.broker} "
                    f"within {timeout_s:g} s")
                return EXIT_FAILED
            if step.arg == "off":
                term.step()  # the session notices at once, as on a dropped Wi-Fi link
        elif step.name in ("reboot", "power-cut"):
            if step.name == "reboot":
                term.reboot()
            else:
                term.power_cut()
                out(f"[clock] power cut: the board's clock restarts at "
                    f"{term.app.clock.now()} (2000-01-01), unsynced")
            shown.flush()
            if term.journal.torn_records:
                out(f"[journal] dropped {term.journal.torn_records} torn record "
                    f"({term.journal.torn_bytes} bytes)")
        elif step.name == "drain":
            if not term.run_until(lambda: len(term.journal) == 0 and term.app.replay is None,
                                  step.arg / 1000):
                shown.flush()
                err(f"drain: {len(term.journal)} journal entries still queued after "
                    f"{step.arg} ms")
                return EXIT_FAILED
            out(f"[journal] drained; confirmed {len(term.app.replayed)}, "
                f"refused {len(term.app.rejected)}, set aside {term.journal.dead}")
            for rid, code, msg in term.app.rejected:
                out(f"[journal] refused {rid}: {code} {msg}")
        if step.name in ("scan", "keys"):
            if not term.run_until(settled, timeout_s):
                shown.flush()
                err(f"{step}: no response within {timeout_s:g} s")
                return EXIT_FAILED
        shown.flush()
    out(f"[journal] queued {len(term.journal)}")
    return EXIT_OK
