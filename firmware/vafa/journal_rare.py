# The journal's rare paths (vafa.journal): an entry set aside to journal.dead and dropped
# from it again, and the conversion of a firmware 0.1 log. vafa.journal.Journal imports
# this module for such a call and drops it after (no bytecode in RAM while selling).
# It reads and writes records with vafa.journal_record, and the journal's state through
# the Journal passed in, never importing vafa.journal back.
from vafa.journal_record import (
    MAX_PAYLOAD,
    encode_record,
    file_size,
    legacy_record,
    next_record,
    remove_file,
)
from vafa.store import replace_file


def migrate_legacy(j, end):
    """Firmware 0.1 wrote ``length u16 | seq u32 | signed frame | CRC32`` without a
    marker; its records are rewritten in this format (the payload stays the signed
    frame, sent as it is), so an update never drops queued sales. Its first bad
    record ends the old log, as that firmware's reader did."""
    tmp = j.log_path + ".tmp"
    pos = 0
    try:
        with open(j.log_path, "rb") as f, open(tmp, "wb") as g:
            while True:
                r = legacy_record(f, pos, end)
                if r is None:
                    break
                seq, payload, total = r
                if len(payload) <= MAX_PAYLOAD:
                    g.write(encode_record(seq, payload))
                pos += total
            g.flush()
        replace_file(tmp, j.log_path)
    except OSError:
        remove_file(tmp)
        raise


def dead_drop(j, seq, to_end=False):
    """Remove the set-aside entry ``seq`` (the one dead_peek() gave); ``to_end``
    puts it behind the others of its file instead, so they get their turn first.
    Raises OSError."""
    for path in (j.dead_path + ".old", j.dead_path):
        end = file_size(path)
        if not end:
            continue
        tmp = path + ".tmp"
        first = None
        try:
            with open(path, "rb") as f, open(tmp, "wb") as g:
                pos = 0
                while pos < end:
                    at, r, _ = next_record(f, pos, end)
                    if r is None:
                        break
                    f.seek(at)
                    rec = f.read(r[2])
                    if first is None:
                        if r[0] != seq:
                            break
                        first = rec
                    else:
                        g.write(rec)
                    pos = at + r[2]
                if first is not None and to_end:
                    g.write(first)  # behind the others of its file: same size
                g.flush()
            if first is None:
                remove_file(tmp)
                continue
            replace_file(tmp, path)
        except OSError:
            remove_file(tmp)
            raise
        if not to_end:
            j.dead -= 1
        return True
    return False


def move_dead(j, seq):
    """Move the oldest entry (``seq``) aside to journal.dead and out of the journal.
    Returns True when its record is kept there, False when the flash had no room
    for it (it leaves the journal all the same, so that the rest can replay)."""
    if j._head is None or j._head[1] != seq:
        raise ValueError("move_dead of %d, but the oldest entry is %r"
                         % (seq, j._head[1] if j._head else None))
    at, _, _, total = j._head
    kept = True
    try:
        with open(j.log_path, "rb") as f:
            f.seek(at)
            rec = f.read(total)
        if file_size(j.dead_path) + total > j.dead_max_bytes:
            replace_file(j.dead_path, j.dead_path + ".old")
            j.dead = j._count_records(j.dead_path + ".old")
        with open(j.dead_path, "ab") as f:
            f.write(rec)
            f.flush()
        j.dead += 1
    except OSError:
        kept = False
    j.ack(seq)
    return kept
