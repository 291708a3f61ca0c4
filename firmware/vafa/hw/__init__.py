# Hardware interfaces used by vafa.app.App. Every part is one class that owns its
# resources and releases them in deinit(). vafa.hw.esp32 has the real drivers; the
# simulator and the tests provide fakes with the same methods.


class Scanner:
    def read(self) -> "str | None":
        """A complete scanned code (str) if one is ready, else None. Never blocks."""
        return None

    def deinit(self):
        pass


class Keypad:
    def get_key(self) -> "str | None":
        """One key press as a one-character str, else None. Never blocks.
        '0'-'9' digits, 'C' clear/cancel, 'B' backspace, 'E' enter, 'U' use credit,
        'L' balance lookup, 'R' refund last."""
        return None

    def deinit(self):
        pass


class Display:
    def show(self, lines):
        """Replace the screen with ``lines`` (list of str, top to bottom): each wrapped
        to the width, four rows a page (vafa.text.Pages)."""

    def tick(self, now_ms):
        """Turn to the next page of a screen longer than four rows; called by the loop."""

    def deinit(self):
        pass


class Printer:
    # Why the printer is not printing as it should (str), None when fine (health `perr`).
    last_error = None
    # The club's logo file (vafa.escpos.LOGO_FILE in the filesystem's root), printed at
    # the top of every receipt when it is there; None: never.
    logo = None

    def print_lines(self, lines, qr=None):
        """Print a receipt: initialise, the logo (``logo``'s file, when there), the text
        lines, the QR code of ``qr`` (a URL) if given, feed, cut
        (vafa.escpos.encode_receipt)."""

    def tick(self, now_ms):
        """Send the next piece of a receipt being printed; called by the loop."""

    def paper_ok(self, now_ms=None) -> "bool | None":
        """Whether the printer has paper: True/False as it last reported, None when it
        cannot tell (no status line wired, no answer yet). Never blocks."""
        return None

    def deinit(self):
        pass


class Indicator:
    def ok(self):
        """Short confirmation beep/flash."""

    def error(self):
        """Error beep/flash."""

    def tick(self, now_ms):
        """Advance a running beep pattern; called by the app loop."""

    def deinit(self):
        pass


class Hardware:
    """The set of parts the app drives."""

    def __init__(self, scanner, keypad, display, printer, indicator, shared_uart=None):
        self.scanner = scanner
        self.keypad = keypad
        self.display = display
        self.printer = printer
        self.indicator = indicator
        # A UART the scanner and the printer share (ESP32-C3): freed after both.
        self._shared_uart = shared_uart

    def deinit(self):
        for part in (self.scanner, self.keypad, self.display, self.printer, self.indicator):
            try:
                part.deinit()
            except Exception:  # best effort on shutdown
                pass
        if self._shared_uart is not None:
            self._shared_uart.deinit()
