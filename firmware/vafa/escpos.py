# ESC/POS receipt encoding, shared by the ESP32 printer driver and the simulator.
from micropython import const

ESC = const(0x1B)
GS = const(0x1D)
LF = const(0x0A)
WIDTH = const(32)  # characters per line on a 58 mm printer, font A
FEED_LINES = const(3)

INIT = b"\x1b@"  # ESC @
CUT = b"\x1dVB\x00"  # GS V 66 0: feed to the cutter and cut


def _ascii(s):
    # The printer's default code page is ASCII-compatible; anything else becomes '?'.
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
    """ESC @, the text lines (wrapped to ``width``), ESC d n feed, GS V cut."""
    buf = bytearray(INIT)
    for line in lines:
        for part in wrap(line, width):
            buf.extend(_ascii(part))
            buf.append(LF)
    buf.extend(bytes([ESC, 0x64, FEED_LINES]))  # ESC d n: print and feed n lines
    buf.extend(CUT)
    return bytes(buf)
