"""A reference ESC/POS printer: a byte stream in, the printed paper out. The simulator
window's receipt strip shows its paper (simulator/window.py); the tests read it back
(tests/firmware/test_persian_ocr.py).

`render(data)` interprets the ESC/POS subset that the firmware and python-escpos emit
and returns the paper of a 58 mm thermal printer (384 dots a line, 8 dots/mm) as a PIL
image, ink 0 and paper 255, plus where it cut. It is as strict as a printer's manual:
an unknown command, a truncated one, a raster wider than the paper or a raster sent with
text waiting in the line buffer raise `EscposError` with the byte offset, instead of
being skipped (a lenient renderer would hide exactly the bugs it is here to catch).

Commands (Epson ESC/POS, standard mode):

| bytes | meaning |
|---|---|
| `ESC @` | initialise: modes, alignment, line spacing and code page reset |
| `ESC t n` | code page (CODE_PAGES: 0 PC437, 16 WPC1252, …) |
| `ESC a n` | alignment 0/48 left, 1/49 centre, 2/50 right (taken at the line's start) |
| `ESC ! E G - M n`, `GS ! n`, `GS B n` | font A/B, bold, underline, size, reverse |
| `ESC 2`, `ESC 3 n` | default (30 dots) or n-dot line spacing |
| text, `LF`, `CR` (ignored), `HT` | characters in 12x24 (font A) or 9x17 (font B) cells |
| `ESC d n`, `ESC J n` | print and feed n lines / n dots |
| `GS V m [n]` | cut (m 0/48 full, 1/49 partial; 65/66 feed n dots first) |
| `GS v 0 m xL xH yL yH d…` | raster bit image, MSB first, 1 = ink; m scales x2 |
| `GS ( k` (cn 49) | QR: model (fn 65), module (67), error level (69), store (80), print (81) |

Not supported (an error, not a skip): `GS ( L` and `ESC *` images (python-escpos's
"graphics" and "bitImageColumn"; its default is `GS v 0`), page mode, upside-down,
Kanji and multi-byte code pages.

Text uses DejaVu Sans Mono (Debian fonts-dejavu-core) drawn in the printer's cells: the
stand-in for the printer's ROM font, good enough to be read by OCR; glyph shapes are not
what is under test, their places are.
"""

from dataclasses import dataclass, field
from pathlib import Path

import qrcode
import qrcode.constants
from PIL import Image, ImageDraw, ImageFont

PAPER_DOTS = 384  # 58 mm paper, 48 mm printable at 8 dots/mm
DEFAULT_LINE_SPACING = 30  # dots (ESC 2); printers differ, ~1/6 inch
MAX_HEIGHT_DOTS = 40_000  # 5 m of paper: a stream that prints more is broken
INK, PAPER = 0, 255
FONT_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf"
BOLD_FONT_PATH = "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf"
# Cell (width, height) in dots and the font size filling it.
FONTS = {"a": ((12, 24), 20), "b": ((9, 17), 15)}
# ESC t numbers common to python-escpos's printer profiles, single-byte pages only.
CODE_PAGES = {0: "cp437", 2: "cp850", 3: "cp860", 4: "cp863", 5: "cp865", 16: "cp1252",
              17: "cp866", 18: "cp852", 19: "cp858"}
ESC, GS, LF, CR, HT = 0x1B, 0x1D, 0x0A, 0x0D, 0x09
QR_ERROR = {48: qrcode.constants.ERROR_CORRECT_L, 49: qrcode.constants.ERROR_CORRECT_M,
            50: qrcode.constants.ERROR_CORRECT_Q, 51: qrcode.constants.ERROR_CORRECT_H}


class EscposError(ValueError):
    """The stream is not valid ESC/POS for this printer (offset in the message)."""


@dataclass
class Receipt:
    image: Image.Image  # mode "L", PAPER_DOTS wide: 0 where the printer put a dot
    cuts: list[int] = field(default_factory=list)  # paper y (dots) of each cut
    text_lines: list[str] = field(default_factory=list)  # each printed text line, decoded


@dataclass
class _Mode:
    font: str = "a"
    bold: bool = False
    underline: int = 0
    reverse: bool = False  # GS B: white on black
    width_times: int = 1
    height_times: int = 1
    align: int = 0  # 0 left, 1 centre, 2 right
    line_spacing: int = DEFAULT_LINE_SPACING
    code_page: str = "cp437"


@dataclass
class _Glyphs:
    """A run of characters in one mode, waiting in the line buffer."""

    text: str
    mode: _Mode

    def cell(self) -> tuple[int, int]:
        (width, height), _ = FONTS[self.mode.font]
        return width * self.mode.width_times, height * self.mode.height_times


_glyph_cache: dict[tuple, Image.Image] = {}


def _glyph(char: str, mode: _Mode) -> Image.Image:
    """One character in its cell, ink 0 / paper 255 (thermal dots: no grey)."""
    key = (char, mode.font, mode.bold, mode.underline, mode.reverse, mode.width_times,
           mode.height_times)
    if key not in _glyph_cache:
        (width, height), size = FONTS[mode.font]
        path = BOLD_FONT_PATH if mode.bold else FONT_PATH
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path} is missing: install Debian's fonts-dejavu-core "
                                    "(`make test` does)")
        font = ImageFont.truetype(path, size)
        cell = Image.new("L", (width, height), PAPER)
        draw = ImageDraw.Draw(cell)
        draw.text((width / 2, font.getmetrics()[0]), char, font=font, fill=INK, anchor="ms")
        if mode.underline:
            draw.rectangle((0, height - mode.underline, width - 1, height - 1), fill=INK)
        cell = cell.point(lambda value: INK if value < 128 else PAPER)
        if mode.reverse:
            cell = cell.point(lambda value: PAPER - value)
        if mode.width_times > 1 or mode.height_times > 1:
            cell = cell.resize((width * mode.width_times, height * mode.height_times),
                               Image.Resampling.NEAREST)
        _glyph_cache[key] = cell
    return _glyph_cache[key]


class _Printer:
    def __init__(self, width_dots: int):
        self.width = width_dots
        self.bands: list[Image.Image] = []
        self.height = 0
        self.cuts: list[int] = []
        self.text_lines: list[str] = []
        self.mode = _Mode()
        self.line: list[_Glyphs] = []
        self.line_align = 0
        self.line_width = 0
        self.qr = {"module": 3, "error": QR_ERROR[48], "data": b""}

    # -- paper -----------------------------------------------------------------------
    def _append(self, band: Image.Image, offset: int) -> None:
        if self.height + band.height > MAX_HEIGHT_DOTS:
            raise EscposError(f"byte {offset}: more than {MAX_HEIGHT_DOTS} dots of paper")
        self.bands.append(band)
        self.height += band.height

    def feed(self, dots: int, offset: int) -> None:
        if dots:
            self._append(Image.new("L", (self.width, dots), PAPER), offset)

    def _x(self, content_width: int, align: int) -> int:
        return {0: 0, 1: (self.width - content_width) // 2, 2: self.width - content_width}[align]

    # -- text ------------------------------------------------------------------------
    def text(self, char: str, offset: int) -> None:
        if not self.line:
            self.line_align = self.mode.align
        width = FONTS[self.mode.font][0][0] * self.mode.width_times
        if self.line_width + width > self.width:  # the printer wraps a full line
            self.print_line(offset, advance=True)
            self.line_align = self.mode.align
        if self.line and self.line[-1].mode == self.mode:
            self.line[-1].text += char
        else:
            self.line.append(_Glyphs(char, _Mode(**vars(self.mode))))
        self.line_width += width

    def tab(self, offset: int) -> None:
        cell = FONTS[self.mode.font][0][0] * self.mode.width_times
        stop = (self.line_width // (8 * cell) + 1) * 8 * cell
        while self.line_width < min(stop, self.width):
            self.text(" ", offset)

    def print_line(self, offset: int, *, advance: bool) -> None:
        """Print the line buffer; with `advance`, feed at least one line spacing."""
        height = max((glyphs.cell()[1] for glyphs in self.line), default=0)
        band_height = max(height, self.mode.line_spacing) if advance else height
        if band_height:
            band = Image.new("L", (self.width, band_height), PAPER)
            x = self._x(self.line_width, self.line_align)
            for glyphs in self.line:
                cell_width, cell_height = glyphs.cell()
                for char in glyphs.text:
                    # Characters of different sizes share the baseline (the band's foot).
                    band.paste(_glyph(char, glyphs.mode), (x, height - cell_height))
                    x += cell_width
            self._append(band, offset)
        if self.line or advance:
            self.text_lines.append("".join(glyphs.text for glyphs in self.line))
        self.line, self.line_width = [], 0

    # -- images ----------------------------------------------------------------------
    def raster(self, image: Image.Image, offset: int) -> None:
        if self.line:
            raise EscposError(f"byte {offset}: raster image with text in the line buffer "
                              "(a printer in standard mode ignores it)")
        if image.width > self.width:
            raise EscposError(f"byte {offset}: image {image.width} dots wide on "
                              f"{self.width}-dot paper")
        band = Image.new("L", (self.width, image.height), PAPER)
        band.paste(image, (self._x(image.width, self.mode.align), 0))
        self._append(band, offset)

    def receipt(self) -> Receipt:
        if self.line:  # a printer prints what is left when its buffer is flushed
            self.print_line(0, advance=False)
        image = Image.new("L", (self.width, max(self.height, 1)), PAPER)
        y = 0
        for band in self.bands:
            image.paste(band, (0, y))
            y += band.height
        return Receipt(image, self.cuts, self.text_lines)


def _raster_image(width_bytes: int, height: int, data: bytes, scale: int) -> Image.Image:
    # ESC/POS raster: 1 = dot (ink), MSB is the leftmost dot; PIL "1" takes 1 = white.
    image = Image.frombytes("1", (width_bytes * 8, height), bytes(255 - b for b in data))
    image = image.convert("L")
    if scale & 1:  # double width
        image = image.resize((image.width * 2, image.height), Image.Resampling.NEAREST)
    if scale & 2:  # double height
        image = image.resize((image.width, image.height * 2), Image.Resampling.NEAREST)
    return image


def render(data: bytes, *, width_dots: int = PAPER_DOTS) -> Receipt:
    """The paper a 58 mm ESC/POS printer would print from `data`."""
    printer = _Printer(width_dots)
    position = 0
    length = len(data)

    def take(count: int, start: int) -> bytes:
        if position + count > length:
            raise EscposError(f"byte {start}: command truncated "
                              f"({data[start:start + 4]!r}… needs {count} more bytes)")
        return data[position:position + count]

    while position < length:
        start = position
        byte = data[position]
        position += 1
        if byte == LF:
            printer.print_line(start, advance=True)
        elif byte == CR:
            pass  # ignored: the printers are set to print on LF only
        elif byte == HT:
            printer.tab(start)
        elif byte == ESC:
            command = take(1, start)[0]
            position += 1
            if command == 0x40:  # ESC @
                printer.print_line(start, advance=False)
                printer.mode = _Mode()
            elif command in (0x32,):  # ESC 2: default line spacing
                printer.mode.line_spacing = DEFAULT_LINE_SPACING
            elif command in (0x74, 0x61, 0x21, 0x45, 0x47, 0x2D, 0x4D, 0x33, 0x64, 0x4A):
                (value,) = take(1, start)
                position += 1
                if command == 0x74:  # ESC t n
                    if value not in CODE_PAGES:
                        raise EscposError(f"byte {start}: code page {value} not known here")
                    printer.mode.code_page = CODE_PAGES[value]
                elif command == 0x61:  # ESC a n
                    if value not in (0, 1, 2, 48, 49, 50):
                        raise EscposError(f"byte {start}: ESC a {value}")
                    printer.mode.align = value % 48
                    if not printer.line:
                        printer.line_align = printer.mode.align
                elif command == 0x21:  # ESC ! n: print mode
                    printer.mode.font = "b" if value & 1 else "a"
                    printer.mode.bold = bool(value & 8)
                    printer.mode.height_times = 2 if value & 16 else 1
                    printer.mode.width_times = 2 if value & 32 else 1
                    printer.mode.underline = 1 if value & 128 else 0
                elif command in (0x45, 0x47):  # ESC E n, ESC G n: bold, double-strike
                    printer.mode.bold = bool(value & 1)
                elif command == 0x2D:  # ESC - n
                    printer.mode.underline = value % 48 if value % 48 in (0, 1, 2) else 0
                elif command == 0x4D:  # ESC M n
                    printer.mode.font = "b" if value % 48 == 1 else "a"
                elif command == 0x33:  # ESC 3 n
                    printer.mode.line_spacing = value
                elif command == 0x64:  # ESC d n: print and feed n lines
                    printer.print_line(start, advance=False)
                    printer.feed(value * printer.mode.line_spacing, start)
                else:  # ESC J n: print and feed n dots
                    printer.print_line(start, advance=False)
                    printer.feed(value, start)
            else:
                raise EscposError(f"byte {start}: unknown command ESC {command:#04x}")
        elif byte == GS:
            command = take(1, start)[0]
            position += 1
            if command == 0x56:  # GS V m [n]: cut
                (cut,) = take(1, start)
                position += 1
                printer.print_line(start, advance=False)
                if cut in (65, 66):
                    (dots,) = take(1, start)
                    position += 1
                    printer.feed(dots, start)
                elif cut not in (0, 1, 48, 49):
                    raise EscposError(f"byte {start}: GS V {cut}")
                printer.cuts.append(printer.height)
            elif command == 0x42:  # GS B n: reverse (white on black)
                (value,) = take(1, start)
                position += 1
                printer.mode.reverse = bool(value & 1)
            elif command == 0x21:  # GS ! n: character size
                (value,) = take(1, start)
                position += 1
                width_times, height_times = (value >> 4) + 1, (value & 7) + 1
                if width_times > 8 or height_times > 8:
                    raise EscposError(f"byte {start}: GS ! {value:#04x}")
                printer.mode.width_times, printer.mode.height_times = width_times, height_times
            elif command == 0x76:  # GS v 0 m xL xH yL yH data
                header = take(6, start)
                position += 6
                if header[0] != 0x30 or header[1] not in (0, 1, 2, 3, 48, 49, 50, 51):
                    raise EscposError(f"byte {start}: GS v {header[:2]!r}")
                width_bytes = header[2] | header[3] << 8
                height = header[4] | header[5] << 8
                pixels = take(width_bytes * height, start)
                position += width_bytes * height
                printer.raster(_raster_image(width_bytes, height, pixels, header[1] % 48),
                               start)
            elif command == 0x28:  # GS ( k pL pH cn fn …
                header = take(3, start)
                position += 3
                if header[0] != 0x6B:
                    raise EscposError(f"byte {start}: GS ( {header[:1]!r} not supported")
                size = header[1] | header[2] << 8
                body = take(size, start)
                position += size
                _qr_function(printer, body, start)
            else:
                raise EscposError(f"byte {start}: unknown command GS {command:#04x}")
        elif byte < 0x20 or byte == 0x7F:
            raise EscposError(f"byte {start}: control byte {byte:#04x}")
        else:
            printer.text(bytes([byte]).decode(printer.mode.code_page), start)
    return printer.receipt()


def _qr_function(printer: _Printer, body: bytes, offset: int) -> None:
    """GS ( k with cn 49: the QR code functions (Epson fn 165-169 and 180-181)."""
    if len(body) < 2 or body[0] != 0x31:
        raise EscposError(f"byte {offset}: GS ( k for symbol {body[:1]!r} not supported")
    function, args = body[1], body[2:]
    if function == 0x41:  # model: n1 (49 model 1, 50 model 2), n2
        if not args or args[0] not in (49, 50, 51):
            raise EscposError(f"byte {offset}: QR model {args!r}")
    elif function == 0x43:  # module size n dots, 1..16
        if len(args) != 1 or not 1 <= args[0] <= 16:
            raise EscposError(f"byte {offset}: QR module size {args!r}")
        printer.qr["module"] = args[0]
    elif function == 0x45:  # error correction 48..51 = L M Q H
        if len(args) != 1 or args[0] not in QR_ERROR:
            raise EscposError(f"byte {offset}: QR error level {args!r}")
        printer.qr["error"] = QR_ERROR[args[0]]
    elif function == 0x50:  # store: m=48, data
        if not args or args[0] != 0x30:
            raise EscposError(f"byte {offset}: QR store {args[:1]!r}")
        printer.qr["data"] = bytes(args[1:])
    elif function == 0x51:  # print the stored symbol
        if not printer.qr["data"]:
            raise EscposError(f"byte {offset}: QR print with no data stored")
        code = qrcode.QRCode(error_correction=printer.qr["error"], box_size=printer.qr["module"],
                             border=0)
        code.add_data(printer.qr["data"])
        code.make(fit=True)
        symbol = code.make_image(fill_color="black", back_color="white").get_image()
        printer.print_line(offset, advance=False)
        printer.raster(symbol.convert("L"), offset)
    elif function == 0x52:  # transmit size information: nothing to print
        pass
    else:
        raise EscposError(f"byte {offset}: QR function {function:#04x} not supported")
