# ruff: noqa: UP031  (MicroPython test script: %-formatting kept on purpose)
from mpytest import KEY, check, done, eq
from vafa import protocol

REQ = (b'{"v":1,"id":"t1-000001","seq":1,"ts":1763800000,"op":"purchase",'
       b'"card":"9900010000000019","amount":250000,"use_credit":0}')
REQ_SIG = b"97957032e71d1d287522c399e4d86cdd496d6710d174fc68fe21b6b0431bff85"
RES = b'{"v":1,"id":"t1-000001","ok":true,"code":"OK"}'
RES_SIG = b"af8f221812de55dedf3f55d167228e5b5b313ed825d7764a24e3aa2a67f12831"

eq(protocol.sign_hex(REQ, KEY), REQ_SIG, "request vector hmac")
eq(protocol.sign_hex(RES, KEY), RES_SIG, "response vector hmac")
# RFC 4231 test case 2 (short key) and 6 (key longer than the block).
eq(protocol.sign_hex(b"what do ya want for nothing?", b"Jefe"),
   b"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", "rfc4231 #2")
eq(protocol.sign_hex(b"Test Using Larger Than Block-Size Key - Hash Key First", b"\xaa" * 131),
   b"60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", "rfc4231 #6")

body = protocol.make_request("t1", 1, 1763800000, "purchase", "9900010000000019", 250000, 0)
eq(body, REQ, "request body byte-exact")
eq(protocol.request_id("t1", 1), "t1-000001", "request id")
eq(protocol.request_id("a" * 40, 1234567), "a" * 20 + "-1234567", "long id truncated")
check(len(protocol.request_id("a" * 40, 999999)) <= 32, "id <= 32 chars")
lk = protocol.make_request("t1", 7, 1763800000, "lookup", "9900010000000019")
eq(lk, b'{"v":1,"id":"t1-000007","seq":7,"ts":1763800000,"op":"lookup",'
       b'"card":"9900010000000019"}', "lookup body")
uc = protocol.make_request("t1", 2, 1763800000, "purchase", "9900010000000019", 5, -1)
check(uc.endswith(b'"amount":5,"use_credit":-1}'), "use_credit -1")

frame = protocol.encode_frame(REQ, KEY)
eq(frame, REQ + b"\n" + REQ_SIG, "frame layout")
eq(protocol.decode_frame(frame, KEY), REQ, "decode good frame")
eq(protocol.decode_frame(RES + b"\n" + RES_SIG, KEY), RES, "decode response vector")
bad = bytearray(frame)
bad[-1] = ord("0") if bad[-1] != ord("0") else ord("1")
eq(protocol.decode_frame(bytes(bad), KEY), None, "bad signature rejected")
eq(protocol.decode_frame(REQ + b"\n" + REQ_SIG.upper(), KEY), None, "uppercase hex rejected")
eq(protocol.decode_frame(REQ + b"\n" + b"zz" + REQ_SIG[2:], KEY), None, "bad hex rejected")
eq(protocol.decode_frame(REQ + b" " + REQ_SIG, KEY), None, "missing newline rejected")
eq(protocol.decode_frame(REQ + b"\n" + REQ_SIG[:-2], KEY), None, "short signature rejected")
eq(protocol.decode_frame(b"", KEY), None, "empty rejected")
eq(protocol.decode_frame(frame, bytes(32)), None, "wrong key rejected")
big = b'{"pad":"' + b"x" * 4100 + b'"}'
eq(protocol.decode_frame(protocol.encode_frame(big, KEY), KEY), None, "oversize rejected")
edge = b'{"pad":"' + b"x" * (4096 - 65 - 10) + b'"}'
check(len(protocol.encode_frame(edge, KEY)) == 4096, "edge is 4096 bytes")
eq(protocol.decode_frame(protocol.encode_frame(edge, KEY), KEY), edge, "4096 bytes accepted")

eq(protocol.fmt_amount(250000), "250,000", "fmt 250000")
eq(protocol.fmt_amount(0), "0", "fmt 0")
eq(protocol.fmt_amount(999), "999", "fmt 999")
eq(protocol.fmt_amount(1000), "1,000", "fmt 1000")
eq(protocol.fmt_amount(-1234567), "-1,234,567", "fmt negative")
eq(protocol.parse_body(b'{"a":1}'), {"a": 1}, "parse object")
eq(protocol.parse_body(b"[1]"), None, "parse non-object")
eq(protocol.parse_body(b"{nope"), None, "parse garbage")
# docs/protocol.md "Test vectors": an item sale paid with points, byte for byte.
SALE_BODY = (b'{"v":1,"id":"t1-000002","seq":2,"ts":1763800000,"op":"purchase",'
             b'"card":"9900010000000019","amount":250000,"use_credit":0,"use_points":-1,'
             b'"items":[{"sku":"A12","qty":2,"price":50000},'
             b'{"sku":"6260100000019","qty":1,"price":150000}]}')
sale_body = protocol.make_request("t1", 2, 1763800000, "purchase", "9900010000000019",
                                  250000, 0, items=[("A12", 2, 50000),
                                                    ("6260100000019", 1, 150000)],
                                  use_points=-1)
eq(sale_body, SALE_BODY, "item sale with points: body bytes")
eq(protocol.make_request("t1", 2, 1763800000, "purchase", "9900010000000019", 250000, 0,
                         items=[{"sku": "A12", "qty": 2, "price": 50000},
                                {"sku": "6260100000019", "qty": 1, "price": 150000}],
                         use_points=-1), SALE_BODY, "items from a journaled body: same bytes")
eq(protocol.sign_hex(SALE_BODY, bytes(range(32))),
   b"8967cf35cf98248001566b8b3106b0c4b8c650e86406aa8e68f9be5a96d7c538", "item sale HMAC")
done("test_protocol")
