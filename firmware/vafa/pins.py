# The reference terminal's wiring: one pin map per supported chip, the one place pins are
# defined. The firmware (vafa.config fills a config's missing pins from it), the
# provisioning CLI (register/image write it; provisioning/chips.py holds each chip's GPIO
# facts and validates a map against them) and docs/hardware.md (whose tables a test
# compares with MAPS) all read this file. Runs on MicroPython and CPython alike (plain
# dicts, no const()), and is kept small: the terminal holds it in RAM (about 2 KB).
#
# Fields: scanner_uart/printer_uart are UART ids; every other value is a GPIO number, or
# None for "not wired" (scanner_tx: the scanner is set up with its own setup barcodes;
# printer_rx: no paper sensing; led: the buzzer alone). The scanner and the printer may
# share one UART when the scanner has no TX and the printer no RX (UART TX to the printer,
# RX from the scanner, both 9600 baud): the ESP32-C3 has too few pins for two.

CHIPS = ("esp32", "esp32s3", "esp32c3")
DEFAULT_CHIP = "esp32"

# The reference wiring (docs/hardware.md). ESP32: no strapping pin but GPIO2 (the board's
# LED), UART RX on the input-only pins. ESP32-S3: clear of the octal PSRAM and native USB.
# ESP32-C3: 13 free GPIOs for 13 signals, so one shared UART and no LED; keypad rows on
# GPIO20/21 (UART0, unused when the REPL is on USB).
MAPS = {
    "esp32": {
        "scanner_uart": 1, "scanner_tx": 4, "scanner_rx": 34,
        "printer_uart": 2, "printer_tx": 23, "printer_rx": 35,
        "i2c_scl": 22, "i2c_sda": 21,
        "keypad_rows": [13, 14, 27, 26], "keypad_cols": [25, 33, 32, 19],
        "buzzer": 18, "led": 2,
    },
    "esp32s3": {
        "scanner_uart": 1, "scanner_tx": 17, "scanner_rx": 18,
        "printer_uart": 2, "printer_tx": 15, "printer_rx": 16,
        "i2c_scl": 9, "i2c_sda": 8,
        "keypad_rows": [4, 5, 6, 7], "keypad_cols": [10, 11, 12, 13],
        "buzzer": 14, "led": 21,
    },
    "esp32c3": {
        "scanner_uart": 1, "scanner_tx": None, "scanner_rx": 3,
        "printer_uart": 1, "printer_tx": 10, "printer_rx": None,
        "i2c_scl": 5, "i2c_sda": 4,
        "keypad_rows": [0, 1, 20, 21], "keypad_cols": [2, 7, 8, 9],
        "buzzer": 6, "led": None,
    },
}

DEFAULT_CHIP = "esp32"


def pin_map(chip):
    if chip not in MAPS:
        raise ValueError("chip must be one of " + ", ".join(CHIPS))
    found = {}
    for name in MAPS[chip]:
        value = MAPS[chip][name]
        found[name] = list(value) if isinstance(value, list) else value
    return found
