import json

import pytest

from backend import protocol

KEY = bytes.fromhex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
REQUEST_BODY = (b'{"v":1,"id":"t1-000001","seq":1,"ts":1763800000,"op":"purchase",'
                b'"card":"9900010000000019","amount":250000,"use_credit":0}')
RESPONSE_BODY = b'{"v":1,"id":"t1-000001","ok":true,"code":"OK"}'


def test_protocol_hmac_vectors():
    assert protocol.sign(REQUEST_BODY, KEY) == (
        "97957032e71d1d287522c399e4d86cdd496d6710d174fc68fe21b6b0431bff85")
    assert protocol.sign(RESPONSE_BODY, KEY) == (
        "af8f221812de55dedf3f55d167228e5b5b313ed825d7764a24e3aa2a67f12831")


def test_frame_round_trip():
    frame = protocol.encode_frame(REQUEST_BODY, KEY)
    signature = b"97957032e71d1d287522c399e4d86cdd496d6710d174fc68fe21b6b0431bff85"
    assert frame == REQUEST_BODY + b"\n" + signature
    assert protocol.decode_frame(frame, KEY) == REQUEST_BODY


@pytest.mark.parametrize("frame", [
    REQUEST_BODY,  # no signature line
    REQUEST_BODY + b"\n" + b"0" * 64,  # wrong signature
    REQUEST_BODY + b"\n" + b"97957032",  # truncated signature
    REQUEST_BODY.replace(b"250000", b"250001")
    + b"\n97957032e71d1d287522c399e4d86cdd496d6710d174fc68fe21b6b0431bff85",  # tampered
    b"x" * 5000,  # oversize
])
def test_bad_frames_are_refused(frame):
    with pytest.raises(protocol.FrameError):
        protocol.decode_frame(frame, KEY)


def test_parse_protocol_example():
    request = protocol.parse_request(REQUEST_BODY)
    assert (request.id, request.seq, request.op, request.card, request.amount,
            request.use_credit, request.offline) == (
        "t1-000001", 1, "purchase", "9900010000000019", 250000, 0, False)


def body(**changes):
    data = json.loads(REQUEST_BODY)
    for key, value in changes.items():
        if value is ...:
            data.pop(key)
        else:
            data[key] = value
    return json.dumps(data).encode()


@pytest.mark.parametrize(("raw", "code", "field"), [
    (b"{not json", "BAD_REQUEST", "body"),
    (b"[1,2]", "BAD_REQUEST", "body"),
    (b"\xff\xfe", "BAD_REQUEST", "body"),
    (body(id="has space"), "BAD_REQUEST", "id"),
    (body(id=...), "BAD_REQUEST", "id"),
    (body(v=2), "BAD_REQUEST", "v"),
    (body(op="steal"), "BAD_REQUEST", "op"),
    (body(op="refund", amount=...), "BAD_REQUEST", "ref"),
    (body(op="lookup", amount=..., ref="t1-000001"), "BAD_REQUEST", "ref"),
    (body(op="topup", use_credit=...), None, None),
    (body(op="refund", ref="t1-000001", use_credit=...), None, None),
    (body(offline=True, use_credit=-1), "BAD_REQUEST", "offline"),
    (body(op="topup", use_credit=..., offline=True), "BAD_REQUEST", "offline"),
    (body(amount=-1), "BAD_REQUEST", "amount"),
    (body(amount=0), "BAD_REQUEST", "amount"),
    (body(amount=10.5), "BAD_REQUEST", "amount"),
    (body(amount="250000"), "BAD_REQUEST", "amount"),
    (body(amount=True), "BAD_REQUEST", "amount"),
    (body(amount=...), "BAD_REQUEST", "amount"),
    (body(use_credit=-2), "BAD_REQUEST", "use_credit"),
    (body(seq=0), "BAD_REQUEST", "seq"),
    (body(card="99000100000000190"), "CARD_INVALID", "card"),
    (body(card="9900010000000018"), "CARD_INVALID", "card"),
    (body(card=9900010000000019), "CARD_INVALID", "card"),
    (body(card="۹۹۰۰۰۱۰۰۰۰۰۰۰۰۱۹"), "CARD_INVALID", "card"),
    (body(items=[{"sku": "A1", "qty": 1, "price": 1}]), "BAD_REQUEST", "items"),
    (body(items=[{"sku": "A1", "qty": 0, "price": 250000}]), "BAD_REQUEST", "items[0].qty"),
    (body(offline="yes"), "BAD_REQUEST", "offline"),
    (body(op="lookup", amount=...), None, None),
    (body(use_points=-2), "BAD_REQUEST", "use_points"),
    (body(use_points=1.5), "BAD_REQUEST", "use_points"),
    (body(use_points=True), "BAD_REQUEST", "use_points"),
    (body(op="lookup", amount=..., use_points=-1), "BAD_REQUEST", "use_points"),
    (body(offline=True, use_points=-1), "BAD_REQUEST", "offline"),
    (body(use_points=-1), None, None),
])
def test_bad_requests_get_their_code_and_name_the_field(raw, code, field):
    if code is None:
        assert protocol.parse_request(raw).op == json.loads(raw)["op"]
        return
    with pytest.raises(protocol.ProtocolError) as raised:
        protocol.parse_request(raw)
    assert raised.value.code == code
    assert raised.value.message.startswith(field)


def test_use_points_is_parsed_and_joins_the_digest_only_when_asked_for():
    assert protocol.parse_request(body(use_points=-1)).use_points == -1
    assert protocol.parse_request(body(use_points=40)).use_points == 40
    plain = protocol.parse_request(REQUEST_BODY)
    assert plain.use_points == 0
    # The digest of a request without use_points is the one stored before it existed.
    before = protocol.semantic_digest("purchase", "9900010000000019", 250000, 0, None, None)
    assert protocol.request_digest(plain) == before
    assert protocol.request_digest(protocol.parse_request(body(use_points=0))) == before
    assert protocol.request_digest(protocol.parse_request(body(use_points=-1))) != before


# docs/protocol.md "Test vectors": the terminal's item sale paid with points.
SALE_BODY = (b'{"v":1,"id":"t1-000002","seq":2,"ts":1763800000,"op":"purchase",'
             b'"card":"9900010000000019","amount":250000,"use_credit":0,"use_points":-1,'
             b'"items":[{"sku":"A12","qty":2,"price":50000},'
             b'{"sku":"6260100000019","qty":1,"price":150000}]}')


def test_item_sale_with_points_vector():
    assert protocol.sign(SALE_BODY, KEY) == (
        "8967cf35cf98248001566b8b3106b0c4b8c650e86406aa8e68f9be5a96d7c538")
    request = protocol.parse_request(SALE_BODY)
    assert (request.amount, request.use_credit, request.use_points) == (250_000, 0, -1)
    assert [(item.sku, item.qty, item.price) for item in request.items] == [
        ("A12", 2, 50_000), ("6260100000019", 1, 150_000)]


def test_items_that_add_up_are_accepted():
    items = [{"sku": "A12", "qty": 2, "price": 50_000}, {"sku": "B7", "qty": 1, "price": 150_000}]
    request = protocol.parse_request(body(items=items))
    assert [item.sku for item in request.items] == ["A12", "B7"]


@pytest.mark.parametrize(("topic", "device"), [("vafa/v1/dev/t01/req", "t01"),
                                               ("vafa/v1/dev/shop-2-till/req", "shop-2-till")])
def test_device_id_from_topic(topic, device):
    assert protocol.device_id_from_topic(topic, "req") == device


@pytest.mark.parametrize("topic", ["vafa/v1/dev/t01/res", "vafa/v1/dev/T01/req",
                                   "vafa/v2/dev/t01/req", "vafa/v1/dev/t01/req/x"])
def test_foreign_topics_are_refused(topic):
    with pytest.raises(protocol.FrameError):
        protocol.device_id_from_topic(topic, "req")
