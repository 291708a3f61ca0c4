# ESP32 drivers. One class per part; each owns its peripheral and frees it in deinit().
# Pin numbers come from config.json ("pins"), never from this file.
import time

from machine import I2C, PWM, UART, Pin
from micropython import const

from vafa import escpos
from vafa.hw import Display as _Display
from vafa.hw import Hardware
from vafa.hw import Indicator as _Indicator
from vafa.hw import Keypad as _Keypad
from vafa.hw import Printer as _Printer
from vafa.hw import Scanner as _Scanner
from vafa.hw.scan import ScanDecoder

SCANNER_BAUD = const(9600)
PRINTER_BAUD = const(9600)
OLED_W = const(128)
OLED_H = const(64)
OLED_ADDR = const(0x3C)
OLED_COLS = const(16)
OLED_ROWS = const(8)
DEBOUNCE_SCANS = const(2)
BEEP_FREQ = const(2700)
BEEP_DUTY = const(512)

# 4x4 membrane keypad, row by row:  1 2 3 A / 4 5 6 B / 7 8 9 C / * 0 # D
# A = use credit, B = backspace, C = clear, D = balance lookup, * = refund last,
# # = enter. A config can remap them with pins.keymap (16 characters).
DEFAULT_KEYMAP = "123U456B789CR0EL"


class BarcodeScanner(_Scanner):
    def __init__(self, uart_id, tx, rx, baud=SCANNER_BAUD, max_code=None):
        # Setup mode reads QR codes of a few hundred bytes: a buffer to hold one whole.
        self._uart = UART(uart_id, baudrate=baud, tx=tx, rx=rx, rxbuf=1024 if max_code else 256,
                          timeout=0)
        self._dec = ScanDecoder(max_code=max_code, utf8=True) if max_code else ScanDecoder()
        self._codes = []

    def read(self):
        n = self._uart.any()
        if n:
            data = self._uart.read(n)
            if data:
                self._codes.extend(self._dec.feed(data, time.ticks_ms()))
        else:
            self._codes.extend(self._dec.feed(b"", time.ticks_ms()))
        if self._codes:
            return self._codes.pop(0)
        return None

    def deinit(self):
        self._uart.deinit()


class MatrixKeypad(_Keypad):
    """Rows driven low one at a time, columns read with pull-ups; a key counts once it
    reads the same for DEBOUNCE_SCANS scans, and is reported once per press."""

    def __init__(self, row_pins, col_pins, keymap=DEFAULT_KEYMAP):
        self._rows = [Pin(p, Pin.OUT, value=1) for p in row_pins]
        self._cols = [Pin(p, Pin.IN, Pin.PULL_UP) for p in col_pins]
        self._map = keymap
        self._candidate = None
        self._count = 0
        self._down = None

    def _scan(self):
        found = None
        for r, row in enumerate(self._rows):
            row.value(0)
            for c, col in enumerate(self._cols):
                if col.value() == 0 and found is None:
                    found = self._map[r * len(self._cols) + c]
            row.value(1)
        return found

    def get_key(self):
        k = self._scan()
        if k == self._candidate:
            if self._count < DEBOUNCE_SCANS:
                self._count += 1
        else:
            self._candidate = k
            self._count = 1
        if self._count >= DEBOUNCE_SCANS and k != self._down:
            self._down = k
            return k  # None on release
        return None

    def deinit(self):
        for p in self._rows:
            p.init(Pin.IN)


class Display(_Display):
    def __init__(self, scl, sda, addr=OLED_ADDR, i2c_id=0):
        import ssd1306

        self._i2c = I2C(i2c_id, scl=Pin(scl), sda=Pin(sda), freq=400000)
        self._oled = ssd1306.SSD1306_I2C(OLED_W, OLED_H, self._i2c, addr=addr)

    def show(self, lines):
        o = self._oled
        o.fill(0)
        for i, line in enumerate(lines[:OLED_ROWS]):
            o.text(str(line)[:OLED_COLS], 0, i * 8, 1)
        o.show()

    def deinit(self):
        try:
            self._oled.poweroff()
        except OSError:
            pass


class ReceiptPrinter(_Printer):
    def __init__(self, uart_id, tx, rx, baud=PRINTER_BAUD, width=escpos.WIDTH):
        self._uart = UART(uart_id, baudrate=baud, tx=tx, rx=rx, txbuf=4096)
        self._width = width

    def print_lines(self, lines):
        # The UART driver buffers the bytes; write() returns without waiting for them.
        self._uart.write(escpos.encode_receipt(lines, self._width))

    def deinit(self):
        self._uart.deinit()


class Indicator(_Indicator):
    """Buzzer (PWM) and LED. Patterns run from tick(), so nothing sleeps."""

    def __init__(self, buzzer_pin, led_pin):
        self._pwm = PWM(Pin(buzzer_pin), freq=BEEP_FREQ, duty=0)
        self._led = Pin(led_pin, Pin.OUT, value=0)
        self._steps = []  # [(on, duration_ms)]
        self._until = None

    def _start(self, steps):
        self._steps = list(steps)
        self._until = None
        self.tick(time.ticks_ms())

    def ok(self):
        self._start([(1, 80), (0, 0)])

    def error(self):
        self._start([(1, 150), (0, 100), (1, 150), (0, 100), (1, 300), (0, 0)])

    def tick(self, now_ms):
        if self._until is not None and time.ticks_diff(now_ms, self._until) < 0:
            return
        if not self._steps:
            self._until = None
            return
        on, ms = self._steps.pop(0)
        self._pwm.duty(BEEP_DUTY if on else 0)
        self._led.value(on)
        self._until = time.ticks_add(now_ms, ms)

    def deinit(self):
        self._pwm.deinit()
        self._led.value(0)


def build(pins, max_code=None):
    """Hardware from the config's pin map; ``max_code`` for setup mode's QR codes."""
    return Hardware(
        scanner=BarcodeScanner(pins["scanner_uart"], pins["scanner_tx"], pins["scanner_rx"],
                               max_code=max_code),
        keypad=MatrixKeypad(pins["keypad_rows"], pins["keypad_cols"],
                            pins.get("keymap", DEFAULT_KEYMAP)),
        display=Display(pins["i2c_scl"], pins["i2c_sda"]),
        printer=ReceiptPrinter(pins["printer_uart"], pins["printer_tx"], pins["printer_rx"]),
        indicator=Indicator(pins["buzzer"], pins["led"]),
    )
