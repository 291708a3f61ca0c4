# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
# The journal on a flash as strict as the board's (fakeboard.FakeFlash: fills up and
# raises OSError 28 like LittleFS): bounded reads, one flipped bit loses one record, a
# full flash says "NOT saved" and leaves the files consistent, a never-answered entry is
# moved aside.
import json

from fakeboard import FakeFlash, mount, umount
from mpytest import KEY, FakeNet, check, done, eq, make_app, raises
from vafa import app as A
from vafa import protocol
from vafa.journal import LOG_NAME, MAX_PAYLOAD, Journal, encode_record

CARD = "9900010000000019"
RES = "vafa/v1/dev/t01/res"


def payload(i):
    return (b'1 7 0 %d 0\n{"v":1,"id":"t01-%06d","seq":%d,"op":"purchase"}' % (i, i, i)) \
        + b"x" * 200


def read(path):
    with open(path, "rb") as f:
        return f.read()


def write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def sell(app, amount):
    app.on_key("C")
    app.on_scan(CARD)
    for k in str(amount) + "E":
        app.on_key(k)


def signed(d):
    return protocol.encode_frame(json.dumps(d).encode(), KEY)


# -- a full journal is opened with bounded reads ---------------------------------------
flash = FakeFlash(blocks=40)
root = mount(flash, "/f1")
j = Journal(root)
n = 0
while j.room_for(len(payload(n + 1))):
    n += 1
    j.append(n, payload(n))
eq(len(j), n, "journal filled")
check(j.size_bytes() > 60000 or n == 256, "a full journal (%d B)" % j.size_bytes())
flash.max_read = 0
j = Journal(root)
eq(len(j), n, "reopened: every entry")
check(flash.max_read <= MAX_PAYLOAD + 4, "open reads record by record (largest read %d)"
      % flash.max_read)
eq(j.peek(), (1, payload(1)), "head")
j.ack(1)
j.ack(2)
flash.max_read = 0
j = Journal(root)  # compaction of the acked head, streamed
eq((len(j), j.seqs()[0]), (n - 2, 3), "compacted on open")
check(flash.max_read <= MAX_PAYLOAD + 4, "compaction streams (largest read %d)"
      % flash.max_read)
umount(root)

# -- one flipped bit loses one record, not the ones after it ------------------------------
flash = FakeFlash()
root = mount(flash, "/f2")
j = Journal(root)
for i in range(1, 6):
    j.append(i, payload(i))
log = root + "/" + LOG_NAME
good = read(log)
rec = len(encode_record(1, payload(1)))
for where in (0, 1, 3, 6, 20, rec - 1):  # magic, length, seq, payload, CRC
    bad = bytearray(good)
    bad[rec + where] ^= 0x10  # in the second record
    write(log, bytes(bad))
    t = Journal(root)
    eq(t.seqs(), [1, 3, 4, 5], "bit flipped at byte %d of record 2: only it is lost" % where)
    eq((t.lost_records, t.lost_bytes, t.torn_records), (1, rec, 0),
       "byte %d: the loss is reported" % where)
    eq(Journal(root).lost_records, 0, "byte %d: cut out of the log, reported once" % where)
    write(log, good)
# two damaged records far apart: two losses, the rest kept
bad = bytearray(good)
bad[10] ^= 1
bad[3 * rec + 30] ^= 1
write(log, bytes(bad))
t = Journal(root)
eq((t.seqs(), t.lost_records), ([2, 3, 5], 2), "two flipped bits: two records lost")
umount(root)

# -- flash full: append refuses, nothing half-written counts, the files stay consistent ----
flash = FakeFlash(blocks=8)
root = mount(flash, "/f3")
j = Journal(root)
j.append(1, payload(1))
flash.fill(leave_bytes=100)  # part of a record fits
raises(OSError, j.append, 2, payload(2))
eq((len(j), j.seqs()), (1, [1]), "failed append: the journal is unchanged")
t = Journal(root)
eq(t.seqs(), [1], "after a reboot too")
eq(t.lost_records, 0, "the part written is not taken for a lost sale")
flash.unfill()
j.append(3, payload(3))  # the cut-off part is removed first
t = Journal(root)
eq((t.seqs(), t.lost_records, t.torn_records), ([1, 3], 0, 0),
   "next append after room came back: clean log")
# the ack cursor cannot be written: the old one stays on flash, RAM moves on
flash.fill(leave_bytes=0)
eq(j.ack(1), False, "ack with a full flash reports it")
eq(j.seqs(), [3], "acked in RAM")
eq(Journal(root).seqs(), [1, 3], "on flash the old cursor: replayed again after a reboot")
flash.unfill()
j.ack(3)
eq((Journal(root).seqs(), j.ack_unsaved), ([], False), "cursor written at the next ack")
umount(root)

# -- the app on a full flash: "NOT saved", never a silent loss ------------------------------
flash = FakeFlash(blocks=10)
root = mount(flash, "/f4")
net = FakeNet(connected=False)
logs = []
app, hw, net, clock = make_app(net=net, store_root=root, log=logs.append)
sell(app, 1000)
eq(app.outcome, A.OUT_OFFLINE, "first sale saved")
flash.fill(leave_bytes=60)  # room for the seq file, not for the record
sell(app, 2000)
eq(app.outcome, A.OUT_FLASH_FULL, "journal write failed")
check("Sale NOT saved" in hw.display.lines, "cashier told NOT saved (%r)" % hw.display.lines)
eq(len(hw.printer.receipts), 1, "no 'points later' receipt for the unsaved sale")
flash.fill(leave_bytes=0)
sell(app, 3000)
eq(app.outcome, A.OUT_FLASH_FULL, "seq cannot be saved")
check("Sale NOT saved" in hw.display.lines, "NOT saved when even the seq fails")
flash.unfill()
app, hw, net, clock = make_app(net=net, store_root=root)
eq(app.journal.seqs(), [1], "after a reboot: the saved sale only")
eq(app.journal.lost_records, 0, "nothing reported lost (the cut-off write is a torn tail)")
umount(root)

# -- the flash fills up while the journal drains: the acks go on in RAM --------------------
flash = FakeFlash()
root = mount(flash, "/f9")
net = FakeNet(connected=False)
logs = []
app, hw, net, clock = make_app(net=net, store_root=root, log=logs.append)
sell(app, 1000)
sell(app, 2000)
net.connected = True
app.on_key("C")
flash.fill(leave_bytes=0)
clock.t += 20
app.tick(clock.t)
app.on_message(RES, signed({"v": 1, "id": "t01-000001", "ok": True, "code": "OK"}))
check([x for x in logs if "kept in RAM" in x], "a cursor that cannot be written is logged")
eq(Journal(root).seqs(), [1, 2], "on flash the old cursor (the entry would replay again)")
clock.t += 20
app.tick(clock.t)
eq(json.loads(protocol.decode_frame(net.published[-1], KEY))["id"], "t01-000002",
   "the next entry replays")
app.on_message(RES, signed({"v": 1, "id": "t01-000002", "ok": True, "code": "OK"}))
eq((read(root + "/journal.ack"), app.journal.ack_unsaved), (b"2", False),
   "the emptied log made room: the cursor is on flash")
umount(root)

# -- an entry the backend never answers is moved aside; the next one replays ----------------
flash = FakeFlash()
root = mount(flash, "/f5")
net = FakeNet(connected=False)
logs = []
app, hw, net, clock = make_app(net=net, store_root=root, log=logs.append)
sell(app, 1000)
sell(app, 2000)
net.connected = True
app.on_key("C")
sends = 0
for rnd in range(A.MAX_REPLAY_ROUNDS):
    clock.t += A.REPLAY_PAUSE_MS
    app.tick(clock.t)
    if rnd == 1:
        # a link drop in the middle of a round does not count against the entry
        net.connected = False
        clock.t += 20
        app.tick(clock.t)
        net.connected = True
        clock.t += A.REPLAY_PAUSE_MS
        app.tick(clock.t)
    if rnd == 2:
        # an answer whose signature fails (another key) ends the round
        app.on_message(RES, protocol.encode_frame(b'{"id":"t01-000001","ok":true}',
                                                  bytes(32)))
        continue
    for _ in range(A.MAX_RESENDS + 1):
        clock.t += A.RESPONSE_TIMEOUT_MS
        app.tick(clock.t)
ids = [json.loads(protocol.decode_frame(f, KEY))["id"] for f in net.published]
eq(set(ids), {"t01-000001"}, "only the head entry was tried")
eq(app.journal.seqs(), [2], "after %d rounds it is set aside" % A.MAX_REPLAY_ROUNDS)
eq(app.journal.dead, 1, "counted")
eq(net.dead, 1, "in the state")
check([x for x in logs if "set aside" in x and "t01-000001" in x], "and in the log")
clock.t += 20
app.tick(clock.t)
eq(json.loads(protocol.decode_frame(net.published[-1], KEY))["id"], "t01-000002",
   "the next entry replays")
eq(Journal(root).dead, 1, "kept in journal.dead across a reboot")
# the backend may only have been down: once the journal is empty, the set-aside entry is
# tried again now and then, with its own id (the backend never credits an id twice)
app.on_message(RES, signed({"v": 1, "id": "t01-000002", "ok": True, "code": "OK"}))
eq(len(app.journal), 0, "journal empty")
n = len(net.published)
clock.t += A.DEAD_RETRY_MS - 40
app.tick(clock.t)
eq(len(net.published), n, "not before DEAD_RETRY_MS")
clock.t += A.DEAD_RETRY_MS
app.tick(clock.t)
eq(len(net.published), n + 1, "tried once")
eq(json.loads(protocol.decode_frame(net.published[-1], KEY))["id"], "t01-000001",
   "the set-aside entry, same id")
clock.t += A.RESPONSE_TIMEOUT_MS
app.tick(clock.t)
eq((len(net.published), app.journal.dead), (n + 1, 1), "no answer: one send, still aside")
clock.t += A.DEAD_RETRY_MS
app.tick(clock.t)
app.on_message(RES, signed({"v": 1, "id": "t01-000001", "ok": True, "code": "OK"}))
eq((app.journal.dead, net.dead), (0, 0), "answered at last: gone from journal.dead")
check([x for x in logs if "offline sale t01-000001 confirmed" in x], "and confirmed")
eq(Journal(root).dead, 0, "for good")
umount(root)

# -- journal.dead is bounded, and its entries take turns when retried ------------------------
flash = FakeFlash()
root = mount(flash, "/f8")
rec = len(encode_record(1, payload(1)))
j = Journal(root, dead_max_bytes=2 * rec)
for i in range(1, 6):
    j.append(i, payload(i))
for i in range(1, 5):
    check(j.move_dead(i), "set aside %d" % i)
eq((j.seqs(), j.dead), ([5], 4), "four set aside")
j = Journal(root, dead_max_bytes=2 * rec)  # reboot
eq(j.dead, 4, "counted after a reboot (.old included)")
eq(j.dead_peek()[0], 1, "the oldest first")
j.dead_drop(1, to_end=True)
eq(j.dead_peek()[0], 2, "an unanswered one goes behind the others")
j.dead_drop(2)
eq((j.dead_peek()[0], j.dead), (1, 3), "an answered one leaves")
j.move_dead(5)  # a fifth: journal.dead is full, the older file is replaced
check(j.dead <= 4 and Journal(root).dead == j.dead, "bounded: at most two files' worth")
check(len(read(root + "/journal.dead")) <= 2 * rec, "journal.dead within its bound")
umount(root)

# -- a flipped bit in the first record's marker is not taken for the old format -------------
flash = FakeFlash()
root = mount(flash, "/f6")
j = Journal(root)
for i in range(1, 4):
    j.append(i, payload(i))
log = root + "/" + LOG_NAME
bad = bytearray(read(log))
bad[0] ^= 0x04
write(log, bytes(bad))
eq(Journal(root).seqs(), [2, 3], "first record lost, the rest kept")
umount(root)

# -- a journal written by firmware 0.1 (no marker, signed frames) is kept across the update --
import binascii  # noqa: E402


def legacy_record(seq, frame):
    head = bytes([(len(frame) + 4) >> 8, (len(frame) + 4) & 255]) \
        + bytes([(seq >> s) & 255 for s in (24, 16, 8, 0)])
    crc = binascii.crc32(frame, binascii.crc32(head)) & 0xFFFFFFFF
    return head + frame + bytes([(crc >> s) & 255 for s in (24, 16, 8, 0)])


frames = [protocol.encode_frame(protocol.make_request("t01", i, 1763800000, "purchase", CARD,
                                                      1000 * i, 0, None, True), KEY)
          for i in (1, 2)]
flash = FakeFlash()
root = mount(flash, "/f7")
write(root + "/" + LOG_NAME, legacy_record(1, frames[0]) + legacy_record(2, frames[1]))
net = FakeNet(connected=True)
app, hw, net, clock = make_app(net=net, store_root=root)
eq(app.journal.seqs(), [1, 2], "old entries kept")
eq(app.journal.torn_records + app.journal.lost_records, 0, "nothing dropped")
check(read(root + "/" + LOG_NAME)[:2] == b"\xa5\x5a", "converted to the new format")
clock.t += 20
app.tick(clock.t)
eq(net.published, [frames[0]], "an old entry is sent as it was signed")
app.on_message(RES, signed({"v": 1, "id": "t01-000001", "ok": True, "code": "OK"}))
clock.t += 20
app.tick(clock.t)
eq(net.published[-1], frames[1], "then the next")
umount(root)
done("test_journal_flash")
