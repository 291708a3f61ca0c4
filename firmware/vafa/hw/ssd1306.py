# SSD1306 128x64 OLED over I2C: our own small driver, because no stock ESP32 build of
# MicroPython has one (micropython-lib's ssd1306 would have to be installed separately, and
# a board without it reboots at import). The screen memory is a framebuf.FrameBuffer in
# MONO_VLSB layout, which is the controller's own page layout: byte n of page p holds the
# 8 pixels of column n, rows 8p..8p+7, least significant bit on top. Commands and init
# values from the SSD1306 datasheet (section 9, and the charge-pump application note).
import framebuf
from micropython import const

WIDTH = const(128)
_HEIGHT = const(64)
_PAGES = const(8)
_DEFAULT_ADDR = const(0x3C)

_CONTROL_COMMAND = const(0x80)  # Co=1, D/C#=0: one command byte follows
_CONTROL_DATA = const(0x40)  # Co=0, D/C#=1: the rest is display RAM
_DISPLAY_OFF = const(0xAE)
_DISPLAY_ON = const(0xAF)
_SET_COLUMN_RANGE = const(0x21)
_SET_PAGE_RANGE = const(0x22)

# Power-on sequence for a 128x64 panel with the internal charge pump (3.3 V modules).
_INIT = (
    _DISPLAY_OFF,
    0x20, 0x00,  # horizontal addressing: column after column, then the next page
    0x40,  # display start line 0
    0xA1,  # segment remap: column 127 is SEG0 (the module is mounted mirrored)
    0xA8, _HEIGHT - 1,  # multiplex ratio
    0xC8,  # COM scan from COM[N-1] to COM0 (rows top to bottom)
    0xD3, 0x00,  # no vertical offset
    0xDA, 0x12,  # alternative COM pin configuration (64-row panels)
    0xD5, 0x80,  # clock divide ratio / oscillator frequency (reset value)
    0xD9, 0xF1,  # pre-charge: phase 2 = 15, phase 1 = 1 (internal charge pump)
    0xDB, 0x30,  # VCOMH deselect level ~0.83 Vcc
    0x81, 0xCF,  # contrast
    0xA4,  # show RAM content
    0xA6,  # not inverted
    0x8D, 0x14,  # charge pump on
    _DISPLAY_ON,
)


class SSD1306(framebuf.FrameBuffer):
    """Draw with the FrameBuffer methods (fill, text, pixel...), then show()."""

    def __init__(self, i2c, addr=_DEFAULT_ADDR):
        self._i2c = i2c
        self._addr = addr
        self.buffer = bytearray(WIDTH * _PAGES)
        super().__init__(self.buffer, WIDTH, _HEIGHT, framebuf.MONO_VLSB)
        self._command = bytearray(2)
        self._command[0] = _CONTROL_COMMAND
        self._data_prefix = bytearray(1)
        self._data_prefix[0] = _CONTROL_DATA
        for command in _INIT:
            self.command(command)
        self.fill(0)
        self.show()

    def command(self, command):
        self._command[1] = command
        self._i2c.writeto(self._addr, self._command)

    def show(self):
        """Send the whole buffer (1 KB: about 25 ms at 400 kHz)."""
        for command in (_SET_COLUMN_RANGE, 0, WIDTH - 1, _SET_PAGE_RANGE, 0, _PAGES - 1):
            self.command(command)
        # One transfer, control byte then RAM, without copying the buffer.
        self._i2c.writevto(self._addr, (self._data_prefix, self.buffer))

    def contrast(self, value):
        """0..255 (remote config, issue 16): the set-contrast command and its byte."""
        self.command(0x81)
        self.command(value & 0xFF)

    def poweroff(self):
        self.command(_DISPLAY_OFF)

    def poweron(self):
        self.command(_DISPLAY_ON)
