# ESC/POS receipt encoding, shared by the ESP32 printer driver and the simulator.
#
# A line of printable ASCII is sent as text, in the byte sequence python-escpos (the
# reference, tests/firmware) produces for hw("INIT"), text(line + "\n") per line and
# cut(): ESC @, ESC t 0 (code page PC437, which python-escpos selects before the first
# text), the lines, ESC d 6 (print and feed six lines so the last line clears the
# cutter), GS V 0 (full cut). Any other line (Persian, Persian digits) is drawn by
# vafa.text with the receipt font into 384-dot raster bands, GS v 0 (what python-escpos's
# image() sends), right-aligned when it is right-to-left; no printer code page needed.
# The portal link prints as a QR code, GS ( k model 2 (python-escpos's qr(native=True)).
from micropython import const

ESC = const(0x1B)
GS = const(0x1D)
LF = const(0x0A)
WIDTH = const(32)  # characters per line on a 58 mm printer, font A
FEED_LINES = const(6)

INIT = b"\x1b@"  # ESC @
CODEPAGE_PC437 = b"\x1bt\x00"  # ESC t 0
CUT = b"\x1dV\x00"  # GS V 0: full cut
PAPER_DOTS = const(384)  # 58 mm paper, 8 dots/mm
BAND_ROWS = const(30)  # a raster line as tall as a text line (ESC 2 spacing)
QR_MODULE = const(6)  # dots per QR module
QR_MAX = const(200)  # bytes of URL at most


def _ascii(s):
    # PC437 is ASCII in 32..126; anything else becomes '?' (the firmware has no
    # code page tables; Persian receipts need a raster font, not text mode).
    return bytes([ord(c) if 32 <= ord(c) < 127 else 63 for c in str(s)])


def wrap(line, width=WIDTH):
    line = str(line)
    if not line:
        return [""]
    out = []
    while len(line) > width:
        out.append(line[:width])
        line = line[width:]
    out.append(line)
    return out


def _is_text(line):
    from vafa import text

    if text.persian_digits:
        for c in line:
            if "0" <= c <= "9":
                return False
    for c in line:
        if not " " <= c <= "~":
            return False
    return True


def _gs(fn, args):
    n = len(args) + 2
    return bytes([GS, 0x28, 0x6B, n & 0xFF, n >> 8, 0x31, fn]) + args


def qr_code(data):
    """GS ( k: model 2, module QR_MODULE dots, error level L, store, print."""
    data = str(data).encode()[:QR_MAX]
    return (_gs(0x41, b"\x32\x00") + _gs(0x43, bytes([QR_MODULE])) + _gs(0x45, b"\x30")
            + _gs(0x50, b"\x30" + data) + _gs(0x51, b"\x30"))


def raster_band(line):
    """One line drawn with the receipt font: GS v 0 of PAPER_DOTS x BAND_ROWS."""
    from vafa import text

    f = text.font("r32.vft")
    stride = PAPER_DOTS // 8
    band = bytearray(stride * BAND_ROWS)
    keys = text.shape(line)
    top = (BAND_ROWS - f.height) // 2
    view = memoryview(band)[top * stride:]
    if text.is_rtl(line):
        text.draw_rows(view, stride, f, keys, PAPER_DOTS, True)
    else:
        text.draw_rows(view, stride, f, keys, 0)
    head = bytes([GS, 0x76, 0x30, 0, stride, 0, BAND_ROWS, 0])
    return head + band


def receipt_parts(lines, qr=None, width=WIDTH):
    """The receipt's bytes in pieces (one line or band each): never all in RAM at once."""
    from vafa import text

    yield INIT
    started = False
    for line in lines:
        line = str(line)
        if _is_text(line):
            if not started:
                yield CODEPAGE_PC437  # python-escpos selects it with the first text only
                started = True
            for part in wrap(line, width):
                yield _ascii(part) + b"\n"
        else:
            for part in text.wrap(line, text.font("r32.vft"), PAPER_DOTS):
                yield raster_band(part)
    if qr:
        yield qr_code(qr)
    yield bytes([ESC, 0x64, FEED_LINES]) + CUT  # ESC d n: print and feed n lines


def encode_receipt(lines, width=WIDTH, qr=None):
    """ESC @, ESC t 0, the lines (text wrapped to ``width`` or raster bands), the QR code
    of ``qr``, ESC d 6, GS V 0."""
    return b"".join(receipt_parts(lines, qr, width))
