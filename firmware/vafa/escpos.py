# ESC/POS receipt encoding, shared by the ESP32 printer driver and the simulator.
#
# The byte sequence is the one python-escpos (the reference, tests/firmware) produces for
# hw("INIT"), text(line + "\n") per line and cut(): ESC @, ESC t 0 (code page PC437,
# which python-escpos selects before the first text), the lines, ESC d 6 (print and feed
# six lines so the last line clears the cutter), GS V 0 (full cut).
from micropython import const

ESC = const(0x1B)
GS = const(0x1D)
LF = const(0x0A)
WIDTH = const(32)  # characters per line on a 58 mm printer, font A
FEED_LINES = const(6)

INIT = b"\x1b@"  # ESC @
CODEPAGE_PC437 = b"\x1bt\x00"  # ESC t 0
CUT = b"\x1dV\x00"  # GS V 0: full cut


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


def encode_receipt(lines, width=WIDTH):
    """ESC @, ESC t 0, the text lines (wrapped to ``width``), ESC d 6, GS V 0."""
    buf = bytearray(INIT)
    if lines:
        buf.extend(CODEPAGE_PC437)  # python-escpos selects it with the first text only
    for line in lines:
        for part in wrap(line, width):
            buf.extend(_ascii(part))
            buf.append(LF)
    buf.extend(bytes([ESC, 0x64, FEED_LINES]))  # ESC d n: print and feed n lines
    buf.extend(CUT)
    return bytes(buf)
