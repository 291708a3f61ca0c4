# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
from mpytest import check, done, eq, tmpdir
from vafa import escpos
from vafa.hw.scan import ScanDecoder
from vafa.store import Store

# -- store: seq strictly increasing, persists ------------------------------------------
root = tmpdir()
s = Store(root)
eq(s.last_seq(), 0, "fresh store")
eq(s.next_seq(), 1, "seq 1")
eq(s.next_seq(), 2, "seq 2")
s2 = Store(root)  # "reboot"
eq(s2.next_seq(), 3, "seq survives reboot")
with open(root + "/seq.tmp", "w") as f:
    f.write("10")  # crash after writing the temp file, before the rename
eq(Store(root).next_seq(), 11, "temp file value honoured")
with open(root + "/seq.tmp", "w") as f:
    f.write("garb")
eq(Store(root).next_seq(), 12, "garbage temp file ignored")

# -- scanner byte stream -----------------------------------------------------------------
d = ScanDecoder()
eq(d.feed(b"9900010000000019\r", 0), ["9900010000000019"], "CR line")
eq(d.feed(b"9900010000000019\r\n", 100), [], "repeat within 1.5 s debounced")
eq(d.feed(b"9900010000000019\r\n", 1500), [], "still held: debounced")
eq(d.feed(b"9900010000000019\r\n", 3300), ["9900010000000019"], "after a pause read again")
eq(d.feed(b"]E09900010000000027\r\n", 3400), ["9900010000000027"], "AIM prefix stripped")
eq(d.feed(b"99000100", 5000), [], "partial kept")
eq(d.feed(b"00000035\n", 5100), ["9900010000000035"], "split read joined")
eq(d.feed(b"12345", 6000), [], "partial")
eq(d.feed(b"678\r", 7000), ["678"], "stale partial dropped")
eq(d.feed(b"\x00\xff\x019900\r\n", 8000), [], "noise dropped")
eq(d.feed(b"x" * 100 + b"\r", 9000), [], "over-long line dropped")
eq(d.feed(b"\r\n\r\n", 9100), [], "empty lines")
eq(d.feed(b"A1\rB2\r", 9200), ["A1", "B2"], "two codes in one read")

# -- escpos ----------------------------------------------------------------------------
data = escpos.encode_receipt(["Vafa", "x" * 40, "\u0633\u0627\u0631\u0627"])
check(data.startswith(b"\x1b@\x1bt\x00"), "ESC @, ESC t 0 first")
check(data.endswith(b"\x1bd\x06\x1dV\x00"), "feed then cut")
check(b"Vafa\n" + b"x" * 32 + b"\n" + b"x" * 8 + b"\n" in data, "wrapped text")
# Persian: one 384x30 raster band (GS v 0), never question marks.
band = data.index(b"\x1dv0\x00")
eq(data[band + 4:band + 8], b"\x30\x00\x1e\x00", "48 bytes x 30 rows")
check(any(data[band + 8:band + 8 + 1440]), "Persian drawn as ink")

# The network session (vafa.net on vafa.mqtt) is tested in test_mqtt.py.
done("test_store_net_scan")
