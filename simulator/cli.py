"""``python -m simulator``: run the terminal firmware with simulated hardware."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

from card_spec import normalize_digits
from simulator import hardware
from simulator.mqtt_adapter import PahoUMQTTClient

EXIT_OK = 0
EXIT_REFUSED = 1  # ok:false from the backend, or the terminal refused the input
EXIT_NO_RESPONSE = 2  # timeout, broker unreachable, bad setup (argparse usage errors too)


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
                   help="run one scripted transaction and print display and receipt")
    p.add_argument("--device", default="t01", help="device id (default: t01)")
    p.add_argument("--instance-dir", default="instance", type=Path,
                   help="instance directory holding devices/<id>/config.json (default: instance)")
    p.add_argument("--config", type=Path, help="config.json path (overrides --instance-dir)")
    # A barcode carries ASCII digits; a person typing the argument may use Persian ones.
    p.add_argument("--scan", metavar="CARD", type=normalize_digits,
                   help="card number the scanner reads")
    p.add_argument("--amount", type=_positive_amount, help="purchase amount in rials")
    p.add_argument("--use-credit", type=_use_credit, default=0, metavar="N|-1",
                   help="credit to spend: 0 none (default), -1 as much as allowed, N rials")
    p.add_argument("--lookup", action="store_true", help="balance lookup instead of a purchase")
    p.add_argument("--timeout-s", type=_positive_float, default=10.0,
                   help="give up after this many seconds (default: 10)")
    p.add_argument("-v", "--verbose", action="store_true", help="log firmware messages")
    return p


def parse_args(argv=None) -> argparse.Namespace:
    p = build_parser()
    a = p.parse_args(argv)
    if not a.headless:
        return a
    if not a.scan:
        p.error("--headless needs --scan CARD")
    if a.lookup and a.amount is not None:
        p.error("--lookup takes no --amount")
    if not a.lookup and a.amount is None:
        p.error("--headless needs --amount RIALS (or --lookup)")
    if a.lookup and a.use_credit:
        p.error("--lookup takes no --use-credit")
    return a


def script_keys(args) -> list[str]:
    """The keypad presses of the scripted transaction."""
    if args.lookup:
        return ["L"]
    keys = list(str(args.amount))
    if args.use_credit == -1:
        keys.append("U")
    keys.append("E")
    return keys


def _err(msg: str) -> None:
    print(f"error: {msg}", file=sys.stderr)


def _print_screen(hw) -> None:
    print("[display]")
    for line in hw.display.lines:
        print(line)


def run_headless(args) -> int:
    from vafa import app as vapp
    from vafa import config as vconfig
    from vafa.net import Session
    from vafa.store import Store

    cfg_path = args.config or args.instance_dir / "devices" / args.device / "config.json"
    try:
        cfg = vconfig.load(str(cfg_path))
    except vconfig.ConfigError as e:
        _err(f"{e} (config for device {args.device!r}; run the backend seed or pass --config)")
        return EXIT_NO_RESPONSE
    store_root = Path(cfg_path).resolve().parent
    m = cfg["mqtt"]
    broker = f"{m['host']}:{m['port']}"
    log_lines: list[str] = []

    def log(s: str) -> None:
        log_lines.append(s)
        if args.verbose:
            print(f"[firmware] {s}", file=sys.stderr)

    def factory():
        return PahoUMQTTClient(cfg["device_id"], m["host"], port=m["port"], user=m["user"],
                               password=m["password"], keepalive=m["keepalive_s"],
                               ssl=True if m["tls"] else None)

    hw = hardware.build()
    net = Session(factory, cfg["device_id"], keepalive_s=m["keepalive_s"], time_fn=time.time,
                  log=log)
    app = vapp.App(cfg, hw, net, Store(str(store_root)), log=log)
    app.show_idle()

    # The terminal refuses a bad card itself: nothing is sent, no broker needed.
    app.on_scan(args.scan)
    if app.outcome == vapp.OUT_INVALID_CARD:
        _print_screen(hw)
        _err(f"{args.scan!r} is not a valid card number (16 digits, Luhn); nothing was sent")
        return EXIT_REFUSED
    app.show_idle()

    if not net.connect():
        reason = log_lines[-1] if log_lines else "unknown reason"
        _err(f"cannot connect to the MQTT broker at {broker}: {reason}")
        return EXIT_NO_RESPONSE

    hw.scanner.scan(args.scan)
    hw.keypad.press(*script_keys(args))

    async def drive() -> bool:
        task = asyncio.ensure_future(app.run())
        deadline = time.monotonic() + args.timeout_s
        credit_set = False
        try:
            while time.monotonic() < deadline:
                if args.use_credit > 0 and not credit_set and app.state in (vapp.CARD,
                                                                             vapp.AMOUNT):
                    app.use_credit = args.use_credit  # a rial amount: no key for it yet
                    credit_set = True
                if app.outcome is not None and app.state == vapp.RESULT:
                    return True
                if task.done():
                    task.result()  # re-raise a crash of the app loop
                    return False
                await asyncio.sleep(0.01)
            return False
        finally:
            app.stop()
            await task

    try:
        finished = asyncio.run(drive())
    finally:
        net.close()
        hw.deinit()

    if not finished:
        _print_screen(hw)
        _err(f"timed out after {args.timeout_s:g} s waiting for the backend's response "
             f"via the MQTT broker at {broker}")
        return EXIT_NO_RESPONSE
    _print_screen(hw)
    if app.outcome == vapp.OUT_NO_CONNECTION:
        _err(f"no response from the backend via the MQTT broker at {broker} "
             f"after {vapp.MAX_RESENDS} resends")
        return EXIT_NO_RESPONSE
    if hw.printer.receipts:
        print("[receipt]")
        for line in hw.printer.text_lines():
            print(line)
    if app.outcome == vapp.OUT_OK:
        return EXIT_OK
    r = app.last_response or {}
    _err(f"{r.get('code', '?')}: {r.get('msg', '')}")
    return EXIT_REFUSED


def main(argv=None) -> int:
    args = parse_args(argv)
    if not args.headless:
        print("window mode not yet available, use --headless", file=sys.stderr)
        return EXIT_NO_RESPONSE
    return run_headless(args)
