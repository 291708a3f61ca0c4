# Offline journal on flash (T5, PROTOCOL.md "Terminal behaviour").
#
# journal.log is append-only. Each record is
#     length (u16 BE, of seq + payload) | seq (u32 BE) | payload | CRC32 (u32 BE)
# where the CRC covers length, seq and payload. A record is written with one write()
# and flushed before append() returns (on LittleFS flush() is the sync), so a power cut
# can only tear the last record; on open a short or CRC-failing record ends the log and
# it and everything after it are dropped and reported (torn_records, torn_bytes), the
# records before it are untouched.
#
# journal.ack holds the seq of the last entry whose response arrived, replaced by
# write-temp-then-rename, so it is either the old or the new value after a power cut.
# Records at or below it are skipped on open. Because the cursor names a seq rather
# than a byte offset, rewriting the log (compaction) is safe in any order against a
# crash. seq comes from vafa.store and is strictly increasing, so the log is in seq
# order.
import binascii
import os

from micropython import const

from vafa.store import replace_file

MAX_BYTES = const(65536)  # flash budget for the log: about 250 signed purchase frames
MAX_ENTRIES = const(256)  # bounds the in-memory index too
MAX_PAYLOAD = const(4096)  # PROTOCOL.md maximum frame
_HEAD = const(6)  # length + seq
_TAIL = const(4)  # CRC32
LOG_NAME = "journal.log"
ACK_NAME = "journal.ack"


class JournalFull(Exception):
    pass


def _u16(b, i):
    return (b[i] << 8) | b[i + 1]


def _u32(b, i):
    return (b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]


def _be(n, width):
    return bytes([(n >> (8 * (width - 1 - i))) & 0xFF for i in range(width)])


def _crc(data):
    return binascii.crc32(data) & 0xFFFFFFFF


def encode_record(seq, payload):
    body = _be(len(payload) + 4, 2) + _be(seq, 4) + payload
    return body + _be(_crc(body), 4)


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


class Journal:
    """Entries are (seq, payload bytes). ``peek()`` gives the oldest not yet acked,
    ``ack(seq)`` removes it for good. Only offsets are kept in RAM; payloads are read
    back from flash when needed."""

    def __init__(self, root=".", max_bytes=MAX_BYTES, max_entries=MAX_ENTRIES):
        root = root.rstrip("/") or "/"
        self.root = root
        try:
            os.mkdir(root)
        except OSError:
            pass  # exists
        self.log_path = self._path(LOG_NAME)
        self._ack_path = self._path(ACK_NAME)
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.torn_records = 0
        self.torn_bytes = 0
        self._index = []  # [(seq, offset of payload, payload length)] not yet acked
        self._size = 0
        self._acked = self._read_ack()
        self._load()

    def _path(self, name):
        return self.root + "/" + name if self.root != "/" else "/" + name

    def _read_ack(self):
        best = 0
        for p in (self._ack_path, self._ack_path + ".tmp"):
            # A crash between writing the temp file and the rename leaves the newer
            # cursor in the temp file; the entry it names did get its response.
            try:
                with open(p) as f:
                    v = int(f.read().strip())
            except (OSError, ValueError):
                continue
            if v > best:
                best = v
        return best

    def _load(self):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            data = b""
        i = 0
        n = len(data)
        skipped = 0
        while i < n:
            if n - i < _HEAD + _TAIL:
                break
            length = _u16(data, i)
            end = i + 2 + length + _TAIL
            if length < 4 or end > n:
                break
            body = data[i:i + 2 + length]
            if _u32(data, end - _TAIL) != _crc(body):
                break
            seq = _u32(data, i + 2)
            if seq > self._acked:
                self._index.append((seq, i + _HEAD, length - 4))
            else:
                skipped += 1
            i = end
        if i < n:
            # Torn last record: never acked (it was never complete), so dropping it
            # loses nothing that was confirmed; the cashier's copy says so.
            self.torn_records = 1
            self.torn_bytes = n - i
        self._size = i
        if skipped or i < n:
            self._compact(data)
        del data

    def _compact(self, data=None):
        """Rewrite the log with only the unacked entries (temp file, then rename)."""
        if data is None:
            with open(self.log_path, "rb") as f:
                data = f.read()
        if not self._index:
            _remove(self.log_path)
            self._size = 0
            return
        tmp = self.log_path + ".tmp"
        index = []
        pos = 0
        with open(tmp, "wb") as f:
            for seq, off, length in self._index:
                rec = encode_record(seq, data[off:off + length])
                f.write(rec)
                index.append((seq, pos + _HEAD, length))
                pos += len(rec)
            f.flush()
        replace_file(tmp, self.log_path)
        self._index = index
        self._size = pos

    def __len__(self):
        return len(self._index)

    def size_bytes(self):
        return self._size

    def room_for(self, payload_len):
        return (len(self._index) < self.max_entries
                and self._size + _HEAD + payload_len + _TAIL <= self.max_bytes)

    def append(self, seq, payload):
        """Store one entry durably. Raises JournalFull, or ValueError on bad input."""
        if not isinstance(payload, (bytes, bytearray)) or not 0 < len(payload) <= MAX_PAYLOAD:
            raise ValueError("journal payload must be 1..%d bytes" % MAX_PAYLOAD)
        if (self._index and seq <= self._index[-1][0]) or seq <= self._acked:
            raise ValueError("journal seq %d is not above the last one" % seq)
        if not self.room_for(len(payload)) and self._index and self._index[0][1] > _HEAD:
            # Acked records still occupy the head of the log: reclaim them first.
            self._compact()
        if not self.room_for(len(payload)):
            raise JournalFull("journal full (%d entries, %d bytes)"
                              % (len(self._index), self._size))
        rec = encode_record(seq, bytes(payload))
        with open(self.log_path, "ab") as f:
            f.write(rec)
            f.flush()
        self._index.append((seq, self._size + _HEAD, len(payload)))
        self._size += len(rec)

    def peek(self):
        """(seq, payload) of the oldest unacked entry, or None."""
        if not self._index:
            return None
        seq, off, length = self._index[0]
        with open(self.log_path, "rb") as f:
            f.seek(off)
            payload = f.read(length)
        return seq, payload

    def seqs(self):
        return [e[0] for e in self._index]

    def ack(self, seq):
        """The response for entry ``seq`` arrived: it leaves the journal for good."""
        if not self._index or self._index[0][0] != seq:
            raise ValueError("ack of %d, but the oldest entry is %r"
                             % (seq, self._index[0][0] if self._index else None))
        tmp = self._ack_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(seq))
            f.flush()
        replace_file(tmp, self._ack_path)
        self._acked = seq
        self._index.pop(0)
        if not self._index:
            # Everything answered: start an empty log (the cursor keeps the old ones
            # out if the remove is lost to a power cut).
            _remove(self.log_path)
            self._size = 0
