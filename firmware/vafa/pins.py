# The reference terminal's wiring: one pin map per supported chip, and the facts about each
# chip that decide which GPIOs a map may use. The one place pins are defined: the firmware
# (vafa.config, vafa.hw.esp32), the provisioning CLI (provisioning/terminal_config.py) and
# docs/hardware.md (whose tables a test compares with MAPS) all read this file.
#
# Runs on MicroPython and CPython alike: plain dicts and tuples, no const().
#
# Fields: scanner_uart/printer_uart are UART ids; every other value is a GPIO number, or
# None for "not wired" (scanner_tx: the scanner is set up with its own setup barcodes;
# printer_rx: no paper sensing; led: the buzzer alone). The scanner and the printer may
# share one UART when the scanner has no TX and the printer no RX (UART TX to the printer,
# RX from the scanner, both 9600 baud): the ESP32-C3 has too few pins for two.

CHIPS = ("esp32", "esp32s3", "esp32c3")

GPIO_FIELDS = ("scanner_tx", "scanner_rx", "printer_tx", "printer_rx", "i2c_scl", "i2c_sda",
               "buzzer", "led")
UART_FIELDS = ("scanner_uart", "printer_uart")
# Pins the firmware drives (must be able to output) and pins it only reads.
OUTPUT_FIELDS = ("scanner_tx", "printer_tx", "i2c_scl", "i2c_sda", "buzzer", "led")
# May be None (not wired).
OPTIONAL_FIELDS = ("scanner_tx", "printer_rx", "led")

# Per chip: GPIOs that exist on the module, those taken by flash/PSRAM/USB/REPL (never to be
# wired), those that can only be inputs (no output driver, no pull-up), and the UARTs free
# for the application (UART0 is the REPL that provisioning's mpremote talks to).
CHIP_FACTS = {
    "esp32": {
        "name": "ESP32 (ESP32-WROOM-32 / ESP32-WROVER)",
        "gpios": tuple(range(0, 20)) + (21, 22, 23, 25, 26, 27) + tuple(range(32, 40)),
        # 6-11: SPI flash; 16/17: PSRAM on WROVER modules; 1/3: UART0 (REPL, flashing).
        "reserved": {1: "UART0 TX (REPL)", 3: "UART0 RX (REPL)", 6: "SPI flash",
                     7: "SPI flash", 8: "SPI flash", 9: "SPI flash", 10: "SPI flash",
                     11: "SPI flash", 16: "PSRAM (WROVER)", 17: "PSRAM (WROVER)"},
        "input_only": (34, 35, 36, 37, 38, 39),
        "uarts": (1, 2),
    },
    "esp32s3": {
        "name": "ESP32-S3 (ESP32-S3-WROOM-1/-1U, also N8R8/N16R8 octal PSRAM)",
        "gpios": tuple(range(0, 22)) + tuple(range(26, 49)),
        "reserved": dict(
            [(pin, "SPI flash/PSRAM") for pin in range(26, 33)]
            + [(pin, "octal flash/PSRAM") for pin in range(33, 38)]
            + [(19, "USB D-"), (20, "USB D+"), (43, "UART0 TX (REPL)"),
               (44, "UART0 RX (REPL)")]),
        "input_only": (),
        "uarts": (1, 2),
    },
    "esp32c3": {
        "name": "ESP32-C3 (ESP32-C3-MINI-1, boards with USB on GPIO18/19)",
        "gpios": tuple(range(0, 22)),
        "reserved": dict([(pin, "SPI flash") for pin in range(11, 18)]
                         + [(18, "USB D- (REPL)"), (19, "USB D+ (REPL)")]),
        "input_only": (),
        "uarts": (1,),
    },
}

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


def chip_of(machine):
    """The chip name for ``os.uname().machine`` (e.g. "ESP32C3 module with ESP32C3")."""
    text = machine.upper().replace("-", "")
    for chip in ("esp32s3", "esp32c3"):
        if chip.upper() in text:
            return chip
    return DEFAULT_CHIP


def pin_map(chip):
    if chip not in MAPS:
        raise ValueError("chip must be one of " + ", ".join(CHIPS))
    found = {}
    for name in MAPS[chip]:
        value = MAPS[chip][name]
        found[name] = list(value) if isinstance(value, list) else value
    return found


def problems(pins, chip=DEFAULT_CHIP):
    """Every problem with ``pins`` on ``chip`` (list of str, each naming its field)."""
    if chip not in CHIP_FACTS:
        return ["chip: must be one of " + ", ".join(CHIPS)]
    facts = CHIP_FACTS[chip]
    label = facts["name"].split(" (")[0]
    found = []
    used = {}

    def check(field, pin, output):
        if pin is None:
            if field not in OPTIONAL_FIELDS:
                found.append("pins.%s: must be wired" % field)
            return
        if type(pin) is not int or pin not in facts["gpios"]:
            found.append("pins.%s: GPIO %s does not exist on the %s" % (field, pin, label))
            return
        if pin in facts["reserved"]:
            found.append("pins.%s: GPIO %d is the %s's %s" % (field, pin, label,
                                                             facts["reserved"][pin]))
        elif output and pin in facts["input_only"]:
            found.append("pins.%s: GPIO %d is input-only on the %s" % (field, pin, label))
        if pin in used:
            found.append("pins.%s: GPIO %d is already pins.%s" % (field, pin, used[pin]))
        else:
            used[pin] = field

    for field in UART_FIELDS:
        if pins.get(field) not in facts["uarts"]:
            found.append("pins.%s: must be UART %s on the %s" % (
                field, " or ".join([str(u) for u in facts["uarts"]]), label))
    for field in GPIO_FIELDS:
        check(field, pins.get(field), field in OUTPUT_FIELDS)
    for field in ("keypad_rows", "keypad_cols"):
        value = pins.get(field)
        if not isinstance(value, list) or len(value) != 4:
            found.append("pins.%s: must be 4 GPIOs" % field)
            continue
        for i, pin in enumerate(value):
            # Rows are driven (open drain), columns read with the internal pull-ups: neither
            # works on an input-only pin.
            check("%s[%d]" % (field, i), pin, True)
    if pins.get("scanner_uart") == pins.get("printer_uart") and (
            pins.get("scanner_tx") is not None or pins.get("printer_rx") is not None):
        found.append("pins.printer_uart: shared with the scanner only when scanner_tx and "
                     "printer_rx are None (one TX, one RX)")
    return found
