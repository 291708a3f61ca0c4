"""Each supported chip's GPIO facts, and the validation of a pin map against them.

The maps themselves are firmware/vafa/pins.py (the one place the wiring is defined); the
facts are here, on the provisioning side, because only `check-config`, `register` and
`image` validate a map: the terminal does not spend RAM on them. From Espressif's
datasheets of the ESP32, ESP32-S3 and ESP32-C3 and their modules (docs/hardware.md).
"""

import importlib.util
from pathlib import Path

_PINS_FILE = Path(__file__).resolve().parents[1] / "firmware" / "vafa" / "pins.py"


def _load_pins_module():
    """firmware/vafa/pins.py, loaded by path: the firmware is not a CPython package."""
    spec = importlib.util.spec_from_file_location("vafa_pins", _PINS_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pins = _load_pins_module()
CHIPS = pins.CHIPS
MAPS = pins.MAPS
DEFAULT_CHIP = pins.DEFAULT_CHIP
pin_map = pins.pin_map

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


def problems(pin_map: dict, chip: str = DEFAULT_CHIP) -> list[str]:
    """Every problem with `pin_map` on `chip`, each naming its field: a GPIO that does not
    exist, belongs to the flash/PSRAM/USB/REPL, is input-only where an output is needed,
    or is used twice; a UART the chip does not free for the application."""
    if chip not in CHIP_FACTS:
        return [f"chip: must be one of {', '.join(CHIPS)}"]
    facts = CHIP_FACTS[chip]
    label = facts["name"].split(" (")[0]
    found: list[str] = []
    used: dict[int, str] = {}

    def check(field: str, pin, output: bool) -> None:
        if pin is None:
            if field not in OPTIONAL_FIELDS:
                found.append(f"pins.{field}: must be wired")
            return
        if type(pin) is not int or pin not in facts["gpios"]:
            found.append(f"pins.{field}: GPIO {pin} does not exist on the {label}")
            return
        if pin in facts["reserved"]:
            found.append(f"pins.{field}: GPIO {pin} is the {label}'s {facts['reserved'][pin]}")
        elif output and pin in facts["input_only"]:
            found.append(f"pins.{field}: GPIO {pin} is input-only on the {label}")
        if pin in used:
            found.append(f"pins.{field}: GPIO {pin} is already pins.{used[pin]}")
        else:
            used[pin] = field

    for field in UART_FIELDS:
        if pin_map.get(field) not in facts["uarts"]:
            uarts = " or ".join(str(uart) for uart in facts["uarts"])
            found.append(f"pins.{field}: must be UART {uarts} on the {label}")
    for field in GPIO_FIELDS:
        check(field, pin_map.get(field), field in OUTPUT_FIELDS)
    for field in ("keypad_rows", "keypad_cols"):
        value = pin_map.get(field)
        if not isinstance(value, list) or len(value) != 4:
            found.append(f"pins.{field}: must be 4 GPIOs")
            continue
        for index, pin in enumerate(value):
            # Rows are driven (open drain), columns read with the internal pull-ups: neither
            # works on an input-only pin.
            check(f"{field}[{index}]", pin, True)
    if pin_map.get("scanner_uart") == pin_map.get("printer_uart") and (
            pin_map.get("scanner_tx") is not None or pin_map.get("printer_rx") is not None):
        found.append("pins.printer_uart: shared with the scanner only when scanner_tx and "
                     "printer_rx are None (one TX, one RX)")
    return found
