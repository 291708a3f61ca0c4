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
# The club's logo, when the flash holds logo.bin (provisioning image --logo), prints first:
# the file is the GS v 0 command itself (python-escpos's image() of the logo's pixels,
# made by provisioning/logo.py), read from flash in LOGO_PIECE-byte pieces.
import os

from micropython import const

ESC = const(0x1B)
GS = const(0x1D)
LF = const(0x0A)
WIDTH = const(32)  # characters per line on a 58 mm printer, font A
_FEED_LINES = const(6)

INIT = b"\x1b@"  # ESC @
CODEPAGE_PC437 = b"\x1bt\x00"  # ESC t 0
CUT = b"\x1dV\x00"  # GS V 0: full cut
PAPER_DOTS = const(384)  # 58 mm paper, 8 dots/mm
_BAND_ROWS = const(30)  # a raster line as tall as a text line (ESC 2 spacing)
QR_MODULE = const(6)  # dots per QR module
_QR_MAX = const(200)  # bytes of URL at most
LOGO_FILE = "logo.bin"  # in the filesystem's root
LOGO_MAX_ROWS = const(120)  # dots of paper at most (15 mm)
_LOGO_HEAD = const(8)  # GS v 0 m xL xH yL yH
LOGO_PIECE = const(768)  # bytes read from flash and written at a time (16 rows)


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
    data = str(data).encode()[:_QR_MAX]
    return (_gs(0x41, b"\x32\x00") + _gs(0x43, bytes([QR_MODULE])) + _gs(0x45, b"\x30")
            + _gs(0x50, b"\x30" + data) + _gs(0x51, b"\x30"))


def raster_band(line):
    """One line drawn with the receipt font: GS v 0 of PAPER_DOTS x _BAND_ROWS."""
    from vafa import text

    f = text.font("r32.vft")
    stride = PAPER_DOTS // 8
    band = bytearray(stride * _BAND_ROWS)
    keys = text.shape(line)
    top = (_BAND_ROWS - f.height) // 2
    view = memoryview(band)[top * stride:]
    if text.is_rtl(line):
        text.draw_rows(view, stride, f, keys, PAPER_DOTS, True)
    else:
        text.draw_rows(view, stride, f, keys, 0)
    head = bytes([GS, 0x76, 0x30, 0, stride, 0, _BAND_ROWS, 0])
    return head + band


def logo_size(path):
    """The logo file's (bytes a row, rows) when ``path`` is a GS v 0 raster the paper
    takes (at most PAPER_DOTS wide, LOGO_MAX_ROWS tall, nothing missing or extra), else
    None: no file, or a file that is not one (never half a logo on the paper)."""
    try:
        with open(path, "rb") as f:
            head = f.read(_LOGO_HEAD)
        size = os.stat(path)[6]
    except OSError:
        return None
    if len(head) != _LOGO_HEAD or head[:4] != b"\x1dv0\x00":
        return None
    stride, rows = head[4] | head[5] << 8, head[6] | head[7] << 8
    if not (0 < stride <= PAPER_DOTS // 8 and 0 < rows <= LOGO_MAX_ROWS):
        return None
    if size != _LOGO_HEAD + stride * rows:
        return None
    return stride, rows


def logo_parts(path):
    """The logo's GS v 0 in pieces of LOGO_PIECE bytes, each read when it is wanted (the
    file is opened per piece: a receipt dropped half-way leaves no file open)."""
    found = logo_size(path)
    if found is None:
        return
    end = _LOGO_HEAD + found[0] * found[1]
    at = 0
    while at < end:
        n = min(LOGO_PIECE, end - at)
        with open(path, "rb") as f:
            f.seek(at)
            piece = f.read(n)
        if len(piece) != n:  # the file changed under us: stop, the receipt goes on
            return
        yield piece
        at += n


def receipt_parts(lines, qr=None, width=WIDTH, logo=None):
    """The receipt's bytes in pieces (one line or band each): never all in RAM at once.
    ``logo``: the path of a logo file (logo_size); printed first when it is one."""
    from vafa import text

    yield INIT
    if logo:
        yield from logo_parts(logo)
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
    yield bytes([ESC, 0x64, _FEED_LINES]) + CUT  # ESC d n: print and feed n lines


def encode_receipt(lines, width=WIDTH, qr=None, logo=None):
    """ESC @, the logo (a valid ``logo`` file), ESC t 0, the lines (text wrapped to
    ``width`` or raster bands), the QR code of ``qr``, ESC d 6, GS V 0."""
    return b"".join(receipt_parts(lines, qr, width, logo))
