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
from vafa.hw.ssd1306 import SSD1306

_SCANNER_BAUD = const(9600)
_PRINTER_BAUD = const(9600)
_OLED_ADDR = const(0x3C)
_DEBOUNCE_SCANS = const(2)
_BEEP_FREQ = const(2700)
BEEP_DUTY_U16 = const(32768)  # half of 65535: the loudest a passive buzzer gets
# ESC/POS real-time status (DLE EOT n=4: the paper roll sensor). The printer answers one
# byte at once, even mid-job; the status is asked again at most this often.
PAPER_STATUS_REQUEST = b"\x10\x04\x04"
_PAPER_POLL_MS = const(2000)
MAX_JOBS = const(4)  # receipts queued for the printer at most
# Printer.last_error texts (the state topic's `perr`, shown on the panel).
ERR_NO_ANSWER = "no answer to status request"
ERR_QUEUE_FULL = "receipt dropped: queue full"
# The answer's fixed bits: 0 and 7 clear, 1 and 4 set; bits 5-6 set = paper end.
_STATUS_FIXED_MASK = const(0x93)
_STATUS_FIXED = const(0x12)
_STATUS_PAPER_END = const(0x60)

# 4x4 membrane keypad, row by row:  1 2 3 A / 4 5 6 B / 7 8 9 C / * 0 # D
# A = use credit, B = backspace, C = clear, D = balance lookup, * = refund last,
# # = enter. A config can remap them with pins.keymap (16 characters).
DEFAULT_KEYMAP = "123U456B789CR0EL"


def _uart(uart_id, tx, rx, baud, **options):
    # A pin left out keeps the UART's default pin, which on the ESP32 is a flash pin: only
    # pass the wired ones, and vafa.pins never lets a shared UART miss both.
    if tx is None:
        return UART(uart_id, baudrate=baud, rx=rx, **options)
    if rx is None:
        return UART(uart_id, baudrate=baud, tx=tx, **options)
    return UART(uart_id, baudrate=baud, tx=tx, rx=rx, **options)


class BarcodeScanner(_Scanner):
    def __init__(self, uart_id, tx, rx, baud=_SCANNER_BAUD, max_code=None, uart=None):
        # Setup mode reads QR codes of a few hundred bytes: a buffer to hold one whole.
        self._owns_uart = uart is None
        self._uart = uart or _uart(uart_id, tx, rx, baud, rxbuf=1024 if max_code else 256,
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
        if self._owns_uart:
            self._uart.deinit()


class MatrixKeypad(_Keypad):
    """Rows are open-drain outputs: pulled low one at a time, otherwise released (never
    driven high), so two keys pressed in one column connect a low row to a floating one
    instead of shorting two driven pins. Columns are read with pull-ups; a key counts once
    it reads the same for _DEBOUNCE_SCANS scans, and is reported once per press."""

    def __init__(self, row_pins, col_pins, keymap=DEFAULT_KEYMAP):
        self._rows = [Pin(p, Pin.OPEN_DRAIN, value=1) for p in row_pins]
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
            row.value(1)  # released: open drain, the pull-ups hold it high
        return found

    def get_key(self):
        k = self._scan()
        if k == self._candidate:
            if self._count < _DEBOUNCE_SCANS:
                self._count += 1
        else:
            self._candidate = k
            self._count = 1
        if self._count >= _DEBOUNCE_SCANS and k != self._down:
            self._down = k
            return k  # None on release
        return None

    def deinit(self):
        for p in self._rows:
            p.init(Pin.IN)


class Display(_Display):
    """The SSD1306 OLED; the text is drawn by vafa.text into the controller's buffer."""

    def __init__(self, scl, sda, addr=_OLED_ADDR, i2c_id=0):
        from vafa.text import Pages

        self._i2c = I2C(i2c_id, scl=Pin(scl), sda=Pin(sda), freq=400000)
        self._oled = SSD1306(self._i2c, addr)
        self._pages = Pages()

    def show(self, lines):
        self._pages.set(lines)
        self._pages.draw(self._oled.buffer)
        self._oled.show()

    def contrast(self, value):
        self._oled.contrast(value)  # remote config (issue 16)

    def tick(self, now_ms):
        if self._pages.tick(now_ms):
            self._pages.draw(self._oled.buffer)
            self._oled.show()

    def deinit(self):
        try:
            self._oled.poweroff()
        except OSError:
            pass


class ReceiptPrinter(_Printer):
    def __init__(self, uart_id, tx, rx, baud=_PRINTER_BAUD, width=escpos.WIDTH, uart=None,
                 logo="/" + escpos.LOGO_FILE):
        self.logo = logo  # read piece by piece while printing (vafa.escpos.logo_parts)
        self._owns_uart = uart is None
        # rx None (not wired): no paper sensing. A UART shared with the scanner carries the
        # scanner's bytes on RX, never status bytes.
        self._senses_paper = rx is not None and uart is None
        self._uart = uart or _uart(uart_id, tx, rx, baud, txbuf=4096, rxbuf=256, timeout=0)
        self._width = width
        self._jobs = []  # receipts being written (generators of byte pieces)
        self._chunk = None
        self._paper = None  # unknown until the printer answers
        self._asked_ms = None
        self._answered = True  # the last status request was answered
        # Why the printer is not printing as it should (health `perr`), None when fine:
        # silent to a status request (off, unplugged, wrong baud), a receipt dropped, a
        # UART write that failed.
        self.last_error = None

    def print_lines(self, lines, qr=None):
        # A Persian line is a 1.4 KB raster band, 1.5 s of UART at 9600 baud: the receipt
        # is queued and tick() writes one piece when the UART's buffer has drained, so
        # write() never waits and the receipt never sits whole in RAM.
        if len(self._jobs) < MAX_JOBS:
            self._jobs.append(escpos.receipt_parts(lines, qr, self._width, self.logo))
        else:
            self.last_error = ERR_QUEUE_FULL
        self.tick()

    def tick(self, now_ms=None):
        while self._jobs:
            if self._chunk is None:
                try:
                    self._chunk = next(self._jobs[0])
                except StopIteration:
                    self._jobs.pop(0)
                    continue
            if not self._uart.txdone():
                return
            try:
                self._uart.write(self._chunk)
            except OSError as e:
                # The rest of this receipt would print garbled: drop it, say why.
                self.last_error = "write failed: %s" % (e,)
                self._jobs.pop(0)
            self._chunk = None
            return

    def paper_ok(self, now_ms=None):
        """True/False from the printer's last paper-sensor answer, None when unknown (no
        RX wired, or no answer yet). Never blocks: reads what has arrived, and asks again
        when the last question is _PAPER_POLL_MS old."""
        if not self._senses_paper:
            return None
        now_ms = time.ticks_ms() if now_ms is None else now_ms
        waiting = self._uart.any()
        if waiting:
            for byte in self._uart.read(waiting) or b"":
                if byte & _STATUS_FIXED_MASK == _STATUS_FIXED:  # else not a status byte
                    self._paper = not byte & _STATUS_PAPER_END
                    self._answered = True
                    if self.last_error == ERR_NO_ANSWER:
                        self.last_error = None
        if self._jobs:
            return self._paper  # never ask in the middle of a receipt
        if self._asked_ms is None or time.ticks_diff(now_ms, self._asked_ms) >= _PAPER_POLL_MS:
            if not self._answered:
                # A printer answers DLE EOT at once: silent for a whole interval means it
                # is off or unplugged, and what it last said about paper is stale.
                self.last_error = ERR_NO_ANSWER
                self._paper = None
            self._uart.write(PAPER_STATUS_REQUEST)
            self._asked_ms = now_ms
            self._answered = False
        return self._paper

    def deinit(self):
        if self._owns_uart:
            self._uart.deinit()


class Indicator(_Indicator):
    """Buzzer (PWM) and an optional LED. Patterns run from tick(), so nothing sleeps."""

    def __init__(self, buzzer_pin, led_pin):
        # duty_u16: the one duty argument every supported release and chip has.
        self._pwm = PWM(Pin(buzzer_pin), freq=_BEEP_FREQ, duty_u16=0)
        self._led = None if led_pin is None else Pin(led_pin, Pin.OUT, value=0)
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
        self._pwm.duty_u16(BEEP_DUTY_U16 if on else 0)
        if self._led is not None:
            self._led.value(on)
        self._until = time.ticks_add(now_ms, ms)

    def deinit(self):
        self._pwm.deinit()
        if self._led is not None:
            self._led.value(0)


def build(pins, max_code=None):
    """Hardware from the config's pin map (vafa.pins); ``max_code`` for setup mode's QR
    codes. A scanner and printer on one UART (ESP32-C3) share one UART object."""
    shared = None
    if pins["scanner_uart"] == pins["printer_uart"]:
        shared = _uart(pins["scanner_uart"], pins["printer_tx"], pins["scanner_rx"],
                       _SCANNER_BAUD, txbuf=4096, rxbuf=1024 if max_code else 256, timeout=0)
    return Hardware(
        scanner=BarcodeScanner(pins["scanner_uart"], pins["scanner_tx"], pins["scanner_rx"],
                               max_code=max_code, uart=shared),
        keypad=MatrixKeypad(pins["keypad_rows"], pins["keypad_cols"],
                            pins.get("keymap", DEFAULT_KEYMAP)),
        display=Display(pins["i2c_scl"], pins["i2c_sda"]),
        printer=ReceiptPrinter(pins["printer_uart"], pins["printer_tx"], pins["printer_rx"],
                               uart=shared),
        indicator=Indicator(pins["buzzer"], pins.get("led")),
        shared_uart=shared,
    )
