# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
import os

from mpytest import check, done, eq, raises, tmpdir
from vafa.journal import ACK_NAME, LOG_NAME, Journal, JournalFull, encode_record


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


P1 = b'{"id":"t01-000001"}\n' + b"a" * 64
P2 = b'{"id":"t01-000002"}\n' + b"b" * 64
P3 = b'{"id":"t01-000003"}\n' + b"c" * 64

# -- append, peek in order, survive a reboot ------------------------------------------
root = tmpdir()
j = Journal(root)
eq(len(j), 0, "empty")
eq(j.peek(), None, "peek empty")
j.append(1, P1)
j.append(2, P2)
j.append(3, P3)
eq(j.peek(), (1, P1), "oldest first")
log = root + "/" + LOG_NAME
eq(len(read(log)), 3 * (8 + len(P1) + 4), "three framed records on flash")
j2 = Journal(root)  # reboot
eq(j2.seqs(), [1, 2, 3], "all three after reboot")
eq((j2.torn_records, j2.torn_bytes), (0, 0), "nothing torn")
raises(ValueError, j2.append, 3, P3)  # seq must grow
raises(ValueError, j2.append, 4, b"")
raises(ValueError, j2.ack, 2)  # only the oldest can be acked

# -- ack: the cursor is persisted; acked entries never come back -------------------------
j2.ack(1)
eq(j2.peek(), (2, P2), "next after ack")
eq(read(root + "/" + ACK_NAME), b"1", "ack cursor on flash")
j3 = Journal(root)
eq(j3.seqs(), [2, 3], "acked entry gone after reboot")
eq(len(read(log)), 2 * (8 + len(P1) + 4), "compacted on open")
# crash after writing the cursor's temp file, before the rename
write(root + "/" + ACK_NAME + ".tmp", b"2")
eq(Journal(root).seqs(), [3], "temp cursor honoured")
j4 = Journal(root)
j4.ack(3)
eq(len(j4), 0, "all acked")
check(not exists(log), "empty journal removes the log")
eq(Journal(root).seqs(), [], "stays empty after reboot")
j4.append(4, P1)
eq(Journal(root).seqs(), [4], "new entries after a drained journal")

# -- power cut at every byte of the last record -------------------------------------------
root = tmpdir()
j = Journal(root)
j.append(1, P1)
j.append(2, P2)
log = root + "/" + LOG_NAME
full = read(log)
rec = len(encode_record(2, P2))
for cut in range(1, rec):
    write(log, full[:len(full) - cut])
    t = Journal(root)
    eq(t.seqs(), [1], "cut %d bytes: the intact entry stays" % cut)
    eq((t.torn_records, t.torn_bytes), (1, rec - cut), "cut %d: torn record reported" % cut)
    eq(t.peek(), (1, P1), "cut %d: intact payload" % cut)
    eq(read(log), full[:len(full) - rec], "cut %d: torn tail removed from flash" % cut)
    eq(Journal(root).torn_records, 0, "cut %d: reported once" % cut)
# a flipped bit in the last record fails the CRC
bad = bytearray(full)
bad[-10] ^= 0x01
write(log, bytes(bad))
t = Journal(root)
eq((t.seqs(), t.torn_records), ([1], 1), "corrupt last record dropped by CRC")
# a bad length field
write(log, full[:rec] + b"\xff\xff" + full[rec + 2:])
eq(Journal(root).seqs(), [1], "bad length dropped")

# -- bounded: when full, append refuses; nothing is dropped --------------------------------
root = tmpdir()
one = len(encode_record(1, P1))
j = Journal(root, max_bytes=2 * one + 5)
j.append(1, P1)
j.append(2, P2)
check(not j.room_for(len(P3)), "no room for a third")
raises(JournalFull, j.append, 3, P3)
eq(j.seqs(), [1, 2], "entries kept when full")
j.ack(1)
j.append(3, P3)
eq(j.seqs(), [2, 3], "room again after an ack")
j = Journal(tmpdir(), max_entries=1)
j.append(1, P1)
raises(JournalFull, j.append, 2, P2)
done("test_journal")
