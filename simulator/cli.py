"""``python -m simulator``: run the terminal firmware with simulated hardware."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from card_spec import normalize_digits
from simulator import script as sim_script
from simulator.options import EXIT_NO_RESPONSE, EXIT_OK, EXIT_REFUSED, config_path


def _positive_amount(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        msg = f"amount must be an integer number of rials: {s!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"amount must be > 0 rials, got {v}")
    if v >= 10**12:
        raise argparse.ArgumentTypeError("amount too large (max 12 digits)")
    return v


def _use_credit(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"use-credit must be an integer: {s!r}") from None
    if v < -1:
        raise argparse.ArgumentTypeError("use-credit must be -1 (as much as allowed), 0 or > 0")
    return v


def _positive_float(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {s!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return v


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Vafa terminal simulator: the real firmware app with simulated hardware.",
        epilog="Exit codes: 0 ok, 1 refused (ok:false or invalid card), "
               "2 no response / broker unreachable / usage error.",
    )
    p.add_argument("--headless", action="store_true",
                   help="no window: run one transaction (--scan ...) or a script of steps "
                        "(--script/--steps) and print every display frame and receipt")
    p.add_argument("--script", type=Path, metavar="FILE",
                   help="steps, one per line (# comments): " + sim_script.STEP_HELP)
    p.add_argument("--steps", metavar="STEPS",
                   help="the same steps, comma separated, e.g. "
                        "'scan:9900010000000019,keys:250000E,wait:500,net:off'")
    p.add_argument("--device", default="t01", help="device id (default: t01)")
    p.add_argument("--instance-dir", default="instance", type=Path,
                   help="instance directory holding devices/<id>/config.json (default: instance)")
    p.add_argument("--config", type=Path, help="config.json path (overrides --instance-dir)")
    p.add_argument("--enrol-qr", metavar="JSON",
                   help="setup mode first: the terminal scans this provisioning QR code "
                        "(`python -m provisioning qr --json` prints its payload), enrols over "
                        "HTTP and writes --config, then runs --scan/--steps, if any, with its "
                        "new credentials")
    # A barcode carries ASCII digits; a person typing the argument may use Persian ones.
    p.add_argument("--scan", metavar="CARD", type=normalize_digits,
                   help="card number the scanner reads")
    p.add_argument("--amount", type=_positive_amount, help="purchase amount in rials")
    p.add_argument("--use-credit", type=_use_credit, default=0, metavar="N|-1",
                   help="credit to spend: 0 none (default), -1 as much as allowed, N rials")
    p.add_argument("--use-points", action="store_true",
                   help="pay with points: as many as the rules allow (the U key)")
    p.add_argument("--lookup", action="store_true", help="balance lookup instead of a purchase")
    p.add_argument("--screenshot", type=Path, metavar="PNG",
                   help="window: run --steps/--script in the window, save a screenshot "
                        "of it and exit")
    p.add_argument("--timeout-s", type=_positive_float, default=10.0,
                   help="give up waiting for a response or a connection after this many "
                        "seconds (default: 10)")
    p.add_argument("-v", "--verbose", action="store_true", help="log firmware messages")
    return p


def parse_args(argv=None) -> argparse.Namespace:
    p = build_parser()
    a = p.parse_args(argv)
    a.step_list = None
    if a.enrol_qr is not None:
        if a.config is None:
            p.error("--enrol-qr needs --config PATH: where the terminal keeps its config.json")
        if a.screenshot is not None:
            p.error("--enrol-qr runs headless; it cannot take --screenshot")
        a.headless = True
    if a.script is not None or a.steps is not None:
        if a.script is not None and a.steps is not None:
            p.error("give --script or --steps, not both")
        if a.scan or a.amount is not None or a.lookup:
            p.error("--script/--steps cannot be combined with --scan/--amount/--lookup")
        try:
            text = a.script.read_text() if a.script is not None else a.steps
            a.step_list = sim_script.parse(text, separator="\n" if a.script else ",")
        except OSError as e:
            p.error(f"cannot read script {a.script}: {e.strerror}")
        except sim_script.StepError as e:
            p.error(str(e))
        a.headless = a.headless or a.screenshot is None
        return a
    if a.screenshot is not None:
        a.step_list = []
        if a.headless:
            p.error("--screenshot is for the window, not --headless")
        return a
    if not a.headless:
        return a
    if a.enrol_qr is not None and not a.scan and a.amount is None and not a.lookup:
        return a  # enrol only
    if not a.scan:
        p.error("--headless needs --scan CARD")
    if a.lookup and a.amount is not None:
        p.error("--lookup takes no --amount")
    if not a.lookup and a.amount is None:
        p.error("--headless needs --amount RIALS (or --lookup)")
    if a.lookup and a.use_credit:
        p.error("--lookup takes no --use-credit")
    if a.lookup and a.use_points:
        p.error("--lookup takes no --use-points")
    return a


def script_keys(args) -> list[str]:
    """The keypad presses of the scripted transaction."""
    if args.lookup:
        return ["L"]
    keys = list(str(args.amount))
    # U turns in turn: credit, points, credit and points (vafa.app.PAY_MODES).
    if getattr(args, "use_points", False):
        keys += ["U", "U", "U"] if args.use_credit == -1 else ["U", "U"]
    elif args.use_credit == -1:
        keys.append("U")
    keys.append("E")
    return keys


def _err(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)


def _print_screen(hw) -> None:
    print("[display]")
    for line in hw.display.lines:
        print(line)


def _load_terminal(args, log):
    from vafa import config as vconfig

    from simulator.terminal import SimTerminal

    try:
        return SimTerminal(config_path(args), log=log)
    except vconfig.ConfigError as e:
        _err(f"{e} (config for device {args.device!r}; run the backend seed or pass --config)")
        return None


def _print_report(term) -> None:
    j = term.journal
    if j.torn_records:
        print(f"[journal] dropped {j.torn_records} torn record ({j.torn_bytes} bytes): "
              "a sale being saved when the power went; it was never confirmed")


def _firmware_log(verbose: bool):
    """The firmware's log callback: to stderr with -v, silent otherwise."""

    def log(s: str) -> None:
        if verbose:
            print(f"[firmware] {s}", file=sys.stderr)

    return log


def run_headless(args) -> int:
    from vafa import app as vapp

    log = _firmware_log(args.verbose)
    term = _load_terminal(args, log)
    if term is None:
        return EXIT_NO_RESPONSE
    hw, app = term.hw, term.app
    try:
        _print_report(term)
        # The terminal refuses a bad card itself: nothing is sent, no broker needed.
        app.on_scan(args.scan)
        if app.outcome == vapp.OUT_INVALID_CARD:
            _print_screen(hw)
            _err(f"{args.scan!r} is not a valid card number (16 digits, Luhn); "
                 "nothing was sent")
            return EXIT_REFUSED
        app.show_idle()
        if not term.connect_once(args.timeout_s):
            reason = term.log_lines[-1] if term.log_lines else "unknown reason"
            _err(f"cannot connect to the MQTT broker at {term.broker}: {reason}")
            return EXIT_NO_RESPONSE
        hw.scanner.scan(args.scan)
        hw.keypad.press(*script_keys(args))
        credit_set = False

        def finished() -> bool:
            nonlocal credit_set
            if args.use_credit > 0 and not credit_set and app.state in (vapp.CARD,
                                                                         vapp.AMOUNT):
                app.use_credit = args.use_credit  # a rial amount: no key for it yet
                credit_set = True
            return app.outcome is not None and app.state == vapp.RESULT

        done = term.run_until(finished, args.timeout_s)
    finally:
        term.close()

    _print_screen(hw)
    if not done:
        _err(f"timed out after {args.timeout_s:g} s waiting for the backend's response "
             f"via the MQTT broker at {term.broker}")
        return EXIT_NO_RESPONSE
    if app.outcome == vapp.OUT_NO_CONNECTION:
        _err(f"no response from the backend via the MQTT broker at {term.broker} "
             f"after {vapp.MAX_RESENDS} resends")
        return EXIT_NO_RESPONSE
    if hw.printer.receipts:
        print("[receipt]")
        for line in hw.printer.text_lines():
            print(line)
    if app.outcome in (vapp.OUT_OK, vapp.OUT_OFFLINE):
        return EXIT_OK
    r = app.last_response or {}
    _err(f"{r.get('code', '?')}: {r.get('msg', '')}")
    return EXIT_REFUSED


def run_script(args) -> int:
    log = _firmware_log(args.verbose)
    term = _load_terminal(args, log)
    if term is None:
        return EXIT_NO_RESPONSE
    try:
        _print_report(term)
        return sim_script.run(term, args.step_list, timeout_s=args.timeout_s,
                              out=print, err=_err)
    finally:
        term.close()


def run_enrol(args) -> int:
    from simulator.terminal import enrol

    log = _firmware_log(args.verbose)
    setup = enrol(args.config, args.enrol_qr, log=log, timeout_s=args.timeout_s)
    shown = []
    for frame in setup.hw.display.history:
        if frame != (shown[-1] if shown else None):
            print("[display]")
            for line in frame:
                print(line)
            shown.append(frame)
    if setup.enrolled is None:
        _err(f"setup mode: {' '.join(setup.lines[1:])} ({setup.reason})")
        return EXIT_NO_RESPONSE if setup.reason in ("no_server", "wifi_failed") \
            else EXIT_REFUSED
    print(f"[setup] enrolled as {setup.enrolled['device_id']}; config written to {args.config}")
    return EXIT_OK


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "load":
        from simulator import load

        return load.main(argv[1:])
    args = parse_args(argv)
    if args.enrol_qr is not None:
        code = run_enrol(args)
        if code != EXIT_OK or (args.step_list is None and not args.scan):
            return code
    if args.step_list is not None and args.headless:
        return run_script(args)
    if not args.headless:
        from simulator import window

        return window.main(args)
    return run_headless(args)
