"""Cross-check the firmware's hand-written HMAC and framing against CPython's hmac/json."""

import hashlib
import hmac
import json

from hypothesis import given
from hypothesis import strategies as st
from vafa import protocol
from vafa.card import is_valid_card


@given(key=st.binary(min_size=0, max_size=200), msg=st.binary(max_size=600))
def test_hmac_matches_stdlib(key, msg):
    assert protocol.hmac_sha256(key, msg) == hmac.new(key, msg, hashlib.sha256).digest()


@given(
    seq=st.integers(min_value=1, max_value=10**9),
    ts=st.integers(min_value=0, max_value=2**40),
    amount=st.integers(min_value=1, max_value=10**12 - 1),
    use_credit=st.integers(min_value=-1, max_value=10**9),
    device=st.from_regex(r"[a-z0-9-]{1,32}", fullmatch=True),
)
def test_request_is_compact_json_in_protocol_order(seq, ts, amount, use_credit, device):
    body = protocol.make_request(device, seq, ts, "purchase", "9900010000000019", amount,
                                 use_credit)
    d = json.loads(body)
    assert list(d) == ["v", "id", "seq", "ts", "op", "card", "amount", "use_credit"]
    assert body == json.dumps(d, separators=(",", ":")).encode()
    assert d["id"] == f"{device[:20]}-{seq:06d}"
    assert len(d["id"]) <= 32


@given(key=st.binary(min_size=32, max_size=32), body=st.binary(max_size=300))
def test_frame_roundtrip_and_tamper(key, body):
    frame = protocol.encode_frame(body, key)
    assert protocol.decode_frame(frame, key) == body
    sig = hmac.new(key, body, hashlib.sha256).hexdigest().encode()
    assert frame == body + b"\n" + sig
    flipped = bytes([frame[0] ^ 1]) + frame[1:] if body else frame[:-1] + b"x"
    assert protocol.decode_frame(flipped, key) is None


def _luhn_ok(s):
    digits = [int(c) for c in s]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


@given(st.from_regex(r"[0-9]{16}", fullmatch=True))
def test_card_matches_reference_luhn(s):
    assert is_valid_card(s) == _luhn_ok(s)
