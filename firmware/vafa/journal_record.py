# The journal's record format (vafa.journal): how one record is written, found and read
# back, for vafa.journal and for its rare paths in vafa.journal_rare. Each record is
#     MAGIC (A5 5A) | length (u16 BE, of payload) | seq (u32 BE) | payload | CRC32 (u32 BE)
# where the CRC covers length, seq and payload; a firmware 0.1 record is
#     length (u16 BE, of seq + payload) | seq (u32 BE) | payload | CRC32 (u32 BE).
import binascii
import os

from micropython import const

MAX_PAYLOAD = const(1024)  # one sale record is about 250 bytes
OVERHEAD = const(12)  # bytes of a record besides its payload: _HEAD + _TAIL
_HEAD = const(8)  # magic + length + seq
_TAIL = const(4)  # CRC32
_CHUNK = const(64)  # bytes read at a time while looking for the next record
_MAGIC0 = const(0xA5)
_MAGIC1 = const(0x5A)
MAGIC = b"\xa5\x5a"


def _u16(b, i):
    return (b[i] << 8) | b[i + 1]


def _u32(b, i):
    return (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]


def _be(n, width):
    return bytes([(n >> (8 * (width - 1 - i))) & 0xFF for i in range(width)])


def encode_record(seq, payload):
    body = _be(len(payload), 2) + _be(seq, 4) + payload
    return MAGIC + body + _be(binascii.crc32(body) & 0xFFFFFFFF, 4)


def remove_file(path):
    try:
        os.remove(path)
    except OSError:
        pass


def file_size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return 0


def _record_at(f, pos, end):
    """(seq, payload length, record length) of a valid record at ``pos``, or None."""
    if end - pos < _HEAD + _TAIL:
        return None
    f.seek(pos)
    head = f.read(_HEAD)
    if len(head) < _HEAD or head[0] != _MAGIC0 or head[1] != _MAGIC1:
        return None
    n = _u16(head, 2)
    total = _HEAD + n + _TAIL
    if n == 0 or n > MAX_PAYLOAD or pos + total > end:
        return None
    rest = f.read(n + _TAIL)
    if len(rest) != n + _TAIL:
        return None
    crc = binascii.crc32(rest[:n], binascii.crc32(head[2:])) & 0xFFFFFFFF
    if _u32(rest, n) != crc:
        return None
    return _u32(head, 4), n, total


def _find_magic(f, pos, end):
    """Offset of the next MAGIC at or after ``pos`` (``end`` when there is none)."""
    while pos < end:
        f.seek(pos)
        chunk = f.read(min(_CHUNK, end - pos))
        if len(chunk) < 2:
            return end
        i = chunk.find(MAGIC)
        if i >= 0:
            return pos + i
        pos += len(chunk) - 1  # a MAGIC may straddle two chunks
    return end


def next_record(f, pos, end):
    """The first valid record at or after ``pos``: (offset, (seq, n, total) or None,
    bytes skipped before it)."""
    start = pos
    while pos < end:
        r = _record_at(f, pos, end)
        if r is not None:
            return pos, r, pos - start
        pos = _find_magic(f, pos + 1, end)
    return end, None, end - start


def legacy_record(f, pos, end):
    """(seq, payload, record length) of a valid firmware 0.1 record at ``pos``, or
    None."""
    if end - pos < 6 + _TAIL:
        return None
    f.seek(pos)
    head = f.read(6)
    n = _u16(head, 0) - 4
    if head[0] == _MAGIC0 or n <= 0 or n > 4096 or pos + 6 + n + _TAIL > end:
        return None
    rest = f.read(n + _TAIL)
    if _u32(rest, n) != binascii.crc32(rest[:n], binascii.crc32(head)) & 0xFFFFFFFF:
        return None
    return _u32(head, 2), rest[:n], 6 + n + _TAIL


def payload_at(f, pos, n):
    f.seek(pos + _HEAD)
    return f.read(n)
