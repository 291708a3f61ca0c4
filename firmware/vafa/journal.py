# Offline journal on flash (T5, PROTOCOL.md "Terminal behaviour").
#
# journal.log is append-only. Each record (written and read by vafa.journal_record) is
#     MAGIC (A5 5A) | length (u16 BE, of payload) | seq (u32 BE) | payload | CRC32 (u32 BE)
# where the CRC covers length, seq and payload. A record is written with one write()
# and flushed before append() returns (on LittleFS flush() is the sync).
#
# The log is read record by record with bounded buffers (one record, at most
# MAX_PAYLOAD bytes, plus a small scan chunk): nothing holds the whole file, whose
# size is only bounded by MAX_BYTES. A record that is short, has a bad length or fails
# its CRC is skipped by scanning forward to the next MAGIC that starts a valid record,
# so one flipped bit loses one record, not the records after it. A bad region followed
# by a valid record is reported as lost (lost_records, lost_bytes); one at the end of
# the log is the torn last record of a power cut (torn_records, torn_bytes). Either is
# cut away by the compaction on open.
#
# journal.ack holds the seq of the last entry whose response arrived, replaced by
# write-temp-then-rename, so it is either the old or the new value after a power cut.
# Records at or below it are skipped on open. Because the cursor names a seq rather
# than a byte offset, rewriting the log (compaction, streamed record by record into a
# temp file and renamed) is safe in any order against a crash. seq comes from
# vafa.store and is strictly increasing, so the log is in seq order.
#
# A full flash (OSError 28 from LittleFS) never leaves the files inconsistent: a failed
# append may leave part of a record after the last good one, so the next append first
# rewrites the log without it (and fails, to "NOT saved", while there is no room); a
# failed cursor write keeps the old cursor on flash and the new one in RAM (the entry
# is then replayed once more after a reboot: the backend answers a known id with its
# stored answer) and is written again at the next ack.
#
# A log of firmware 0.1 (records without MAGIC, payloads signed frames) is converted on
# open, its frames kept as they are.
#
# An entry the backend never answers is moved aside by move_dead(): its record is
# appended to journal.dead (bounded: _DEAD_MAX_BYTES, the older half kept as
# journal.dead.old) and it leaves the journal, so the entries behind it replay. The app
# tries set-aside entries again now and then (dead_peek / dead_drop).
import os

from micropython import const

from vafa import unload
from vafa.journal_record import (
    MAX_PAYLOAD,
    OVERHEAD,
    encode_record,
    file_size,
    legacy_record,
    next_record,
    payload_at,
    remove_file,
)
from vafa.store import replace_file

MAX_BYTES = const(65536)  # flash budget for the log: about 250 purchase records
MAX_ENTRIES = const(256)
_DEAD_MAX_BYTES = const(8192)  # journal.dead; the previous one is kept as .old
LOG_NAME = "journal.log"
ACK_NAME = "journal.ack"
DEAD_NAME = "journal.dead"


class JournalFull(Exception):
    pass


class Journal:
    """Entries are (seq, payload bytes). ``peek()`` gives the oldest not yet acked,
    ``ack(seq)`` removes it for good. RAM holds only the head's offset, the count and
    the last seq; payloads are read back from flash when needed."""

    def __init__(self, root=".", max_bytes=MAX_BYTES, max_entries=MAX_ENTRIES,
                 dead_max_bytes=_DEAD_MAX_BYTES):
        root = root.rstrip("/") or "/"
        self.root = root
        try:
            os.mkdir(root)
        except OSError:
            pass  # exists
        self.log_path = self._path(LOG_NAME)
        self._ack_path = self._path(ACK_NAME)
        self.dead_path = self._path(DEAD_NAME)
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.dead_max_bytes = dead_max_bytes
        self.torn_records = 0
        self.torn_bytes = 0
        self.lost_records = 0
        self.lost_bytes = 0
        self._count = 0
        self._head = None  # (offset, seq, payload length, record length) of the oldest
        self._last_seq = 0
        self._size = 0  # end of the last valid record
        self._damaged = False  # bytes of a failed append may follow _size
        self.ack_unsaved = False  # the cursor on flash is behind self._acked
        self._acked = self._read_ack()
        self._load()
        self.dead = self._count_records(self.dead_path) \
            + self._count_records(self.dead_path + ".old")

    def _path(self, name):
        return self.root + "/" + name if self.root != "/" else "/" + name

    def _read_ack(self):
        best = 0
        for p in (self._ack_path, self._ack_path + ".tmp"):
            # A crash between writing the temp file and the rename leaves the newer
            # cursor in the temp file; the entry it names did get its response.
            try:
                with open(p) as f:
                    v = int(f.read(16).strip())
            except (OSError, ValueError):
                continue
            if v > best:
                best = v
        return best

    def _count_records(self, path):
        end = file_size(path)
        if not end:
            return 0
        n = 0
        pos = 0
        with open(path, "rb") as f:
            while pos < end:
                pos, r, _ = next_record(f, pos, end)
                if r is None:
                    break
                n += 1
                pos += r[2]
        return n

    def _load(self):
        end = file_size(self.log_path)
        if not end:
            return
        with open(self.log_path, "rb") as f:
            legacy = legacy_record(f, 0, end) is not None
        if legacy:
            try:
                self._migrate_legacy(end)
            except OSError:
                return  # no room to convert: kept as it is, tried again at the next boot
            end = file_size(self.log_path)
        pos = 0
        stale = 0
        with open(self.log_path, "rb") as f:
            while pos < end:
                at, r, bad = next_record(f, pos, end)
                if r is None:
                    if bad:
                        # Torn last record: never acked (it was never complete), so
                        # dropping it loses nothing confirmed; the cashier's copy says so.
                        self.torn_records = 1
                        self.torn_bytes = bad
                    break
                if bad:
                    self.lost_records += 1
                    self.lost_bytes += bad
                seq, n, total = r
                if seq > self._acked and seq > self._last_seq:
                    if self._head is None:
                        self._head = (at, seq, n, total)
                    self._count += 1
                    self._last_seq = seq
                else:
                    stale += 1  # answered already (or a leftover of a compaction)
                pos = at + total
        self._size = pos
        if stale or self.torn_bytes or self.lost_bytes:
            try:
                self._compact()
            except OSError:
                # No room for the rewrite: the log stays as it is (readable: the bad
                # bytes are skipped again) and the next append retries first.
                self._damaged = True

    def _migrate_legacy(self, end):
        from vafa import journal_rare

        try:
            return journal_rare.migrate_legacy(self, end)
        finally:
            unload("vafa.journal_rare")

    def _compact(self):
        """Rewrite the log with only the unacked entries, record by record (temp
        file, then rename)."""
        if not self._count:
            remove_file(self.log_path)
            self._head = None
            self._size = 0
            self._damaged = False
            return
        tmp = self.log_path + ".tmp"
        end = self._size
        out = 0
        head = None
        try:
            with open(self.log_path, "rb") as f, open(tmp, "wb") as g:
                pos = self._head[0]
                while pos < end:
                    at, r, _ = next_record(f, pos, end)
                    if r is None:
                        break
                    seq, n, total = r
                    if seq > self._acked:
                        f.seek(at)
                        g.write(f.read(total))
                        if head is None:
                            head = (out, seq, n, total)
                        out += total
                    pos = at + total
                g.flush()
            replace_file(tmp, self.log_path)
        except OSError:
            remove_file(tmp)
            raise
        self._head = head
        self._size = out
        self._damaged = False

    def __len__(self):
        return self._count

    def size_bytes(self):
        return self._size

    def last_seq(self):
        return self._last_seq if self._last_seq > self._acked else self._acked

    def room_for(self, payload_len):
        return (self._count < self.max_entries
                and self._size + OVERHEAD + payload_len <= self.max_bytes)

    def append(self, seq, payload):
        """Store one entry durably. Raises JournalFull, OSError (flash full: nothing
        was added), or ValueError on bad input."""
        if not isinstance(payload, (bytes, bytearray)) or not 0 < len(payload) <= MAX_PAYLOAD:
            raise ValueError("journal payload must be 1..%d bytes" % MAX_PAYLOAD)
        if seq <= self._last_seq or seq <= self._acked:
            raise ValueError("journal seq %d is not above the last one" % seq)
        if self._damaged or (not self.room_for(len(payload)) and self._head is not None
                             and self._head[0] > 0):
            # Cut off what a failed append left, and reclaim acked records at the head.
            self._compact()
        if not self.room_for(len(payload)):
            raise JournalFull("journal full (%d entries, %d bytes)" % (self._count, self._size))
        rec = encode_record(seq, bytes(payload))
        try:
            with open(self.log_path, "ab") as f:
                f.write(rec)
                f.flush()
        except OSError:
            self._damaged = True  # part of the record may be on flash after _size
            raise
        if self._head is None:
            self._head = (self._size, seq, len(payload), len(rec))
        self._count += 1
        self._size += len(rec)
        self._last_seq = seq
        self._save_ack_if_behind()

    def peek(self):
        """(seq, payload) of the oldest unacked entry, or None."""
        if self._head is None:
            return None
        at, seq, n, _ = self._head
        with open(self.log_path, "rb") as f:
            return seq, payload_at(f, at, n)

    def entries(self):
        """Yields (seq, payload) of every unacked entry, oldest first, one record read
        at a time (the log stays open meanwhile: do not append or ack while iterating)."""
        if self._head is None:
            return
        pos, end = self._head[0], self._size
        with open(self.log_path, "rb") as f:
            while pos < end:
                at, r, _ = next_record(f, pos, end)
                if r is None:
                    break
                if r[0] > self._acked:
                    yield r[0], payload_at(f, at, r[1])
                pos = at + r[2]

    def seqs(self):
        return [e[0] for e in self.entries()]

    def _write_ack(self, seq):
        tmp = self._ack_path + ".tmp"
        try:
            with open(tmp, "w") as f:
                f.write(str(seq))
                f.flush()
            replace_file(tmp, self._ack_path)
        except OSError:
            remove_file(tmp)
            raise

    def _save_ack_if_behind(self):
        if self.ack_unsaved:
            try:
                self._write_ack(self._acked)
                self.ack_unsaved = False
            except OSError:
                pass

    def ack(self, seq):
        """The response for entry ``seq`` arrived: it leaves the journal for good.
        Returns False when the cursor could not be written (flash full; kept in RAM
        and written at the next ack or append)."""
        if self._head is None or self._head[1] != seq:
            raise ValueError("ack of %d, but the oldest entry is %r"
                             % (seq, self._head[1] if self._head else None))
        saved = True
        try:
            self._write_ack(seq)
            self.ack_unsaved = False
        except OSError:
            saved = False
            self.ack_unsaved = True
        self._acked = seq
        self._count -= 1
        if not self._count:
            # Everything answered: start an empty log (the cursor keeps the old ones
            # out if the remove is lost to a power cut).
            remove_file(self.log_path)
            self._head = None
            self._size = 0
            self._damaged = False
            if not saved:
                self._save_ack_if_behind()  # the remove made room
                saved = not self.ack_unsaved
            return saved
        at, _, _, total = self._head
        self._head = None
        with open(self.log_path, "rb") as f:
            pos = at + total
            while pos < self._size:
                at, r, _ = next_record(f, pos, self._size)
                if r is None:
                    break
                if r[0] > self._acked:
                    self._head = (at, r[0], r[1], r[2])
                    break
                pos = at + r[2]
        if self._head is None:
            self._count = 0  # the rest of the log is unreadable now: nothing left
        return saved

    def dead_peek(self):
        """(seq, payload) of the entry set aside longest ago, or None."""
        for path in (self.dead_path + ".old", self.dead_path):
            end = file_size(path)
            if end:
                with open(path, "rb") as f:
                    at, r, _ = next_record(f, 0, end)
                    if r is not None:
                        return r[0], payload_at(f, at, r[1])
        return None

    def dead_drop(self, seq, to_end=False):
        """Remove the set-aside entry ``seq`` (``to_end``: put it behind the others of
        its file instead); raises OSError (vafa.journal_rare)."""
        from vafa import journal_rare

        try:
            return journal_rare.dead_drop(self, seq, to_end)
        finally:
            unload("vafa.journal_rare")

    def move_dead(self, seq):
        """Move the oldest entry (``seq``) aside to journal.dead; False when the flash had
        no room to keep it (vafa.journal_rare)."""
        from vafa import journal_rare

        try:
            return journal_rare.move_dead(self, seq)
        finally:
            unload("vafa.journal_rare")


# ---- sale records ------------------------------------------------------------------
# A journaled sale is its request body (unsigned: the frame is built and signed again at
# replay, with the age of the sale then) after one line of what the replay needs:
#     b"<clk> <boot> <uptime_ms> <origin seq> <reissues>\n" + body
# clk 1 when the clock was synced at the sale, boot/uptime_ms the boot and the uptime at
# the sale (vafa.clock.Clock), origin the seq the sale was first saved under (a
# re-issue under a new seq keeps it), reissues how often it was re-issued.
def encode_sale(clk, boot, up_ms, origin, reissues, body):
    return ("%d %d %d %d %d\n" % (1 if clk else 0, boot, up_ms, origin, reissues)).encode() \
        + body


def decode_sale(payload):
    """((clk, boot, uptime_ms, origin, reissues), body bytes), or None."""
    i = payload.find(b"\n")
    if i < 0:
        return None
    try:
        meta = [int(x) for x in payload[:i].decode().split()]
    except (ValueError, UnicodeError):
        return None
    if len(meta) != 5:
        return None
    return meta, payload[i + 1:]
