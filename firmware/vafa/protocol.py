# Wire protocol v1 (see PROTOCOL.md): signed frames and request bodies.
#
# MicroPython has no ``hmac`` module, so HMAC-SHA256 (RFC 2104) is written out here on
# top of ``hashlib.sha256`` and checked against the PROTOCOL.md test vectors under both
# MicroPython and CPython.
import binascii
import hashlib
import json

from micropython import const

PROTOCOL_VERSION = const(1)
MAX_FRAME = const(4096)
_SIG_HEX_LEN = const(64)
_BLOCK = const(64)

_IPAD = bytes([0x36] * 64)
_OPAD = bytes([0x5C] * 64)


def _xor(a, b):
    return bytes([x ^ y for x, y in zip(a, b)])


def hmac_sha256(key, msg):
    """HMAC-SHA256 digest (32 bytes) of ``msg`` with ``key``."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key + bytes(_BLOCK - len(key))
    inner = hashlib.sha256(_xor(key, _IPAD))
    inner.update(msg)
    outer = hashlib.sha256(_xor(key, _OPAD))
    outer.update(inner.digest())
    return outer.digest()


def sign_hex(body, key):
    """Lowercase hex HMAC-SHA256 of ``body`` as bytes (64 characters)."""
    return binascii.hexlify(hmac_sha256(key, body))


def encode_frame(body, key):
    """``body + b"\\n" + hex signature``."""
    if isinstance(body, str):
        body = body.encode()
    return body + b"\n" + sign_hex(body, key)


def _equal(a, b):
    # Compare without stopping at the first difference.
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


def decode_frame(payload, key):
    """Verify a signed frame; return the body bytes, or None if it must be dropped."""
    if isinstance(payload, str):
        payload = payload.encode()
    n = len(payload)
    if n > MAX_FRAME or n < _SIG_HEX_LEN + 1:
        return None
    cut = n - _SIG_HEX_LEN - 1
    if payload[cut] != 10:  # b"\n"
        return None
    body = payload[:cut]
    sig = payload[cut + 1:]
    for c in sig:
        # lowercase hex only
        if not (48 <= c <= 57 or 97 <= c <= 102):
            return None
    try:
        got = binascii.unhexlify(sig)
    except ValueError:
        return None
    if not _equal(got, hmac_sha256(key, body)):
        return None
    return body


def request_id(device_id, seq):
    return "%s-%06d" % (device_id[:20], seq)


def _jstr(s):
    # Request strings are ASCII (ids, ops, card digits); json.dumps of an ASCII str is
    # identical on MicroPython and CPython.
    return json.dumps(str(s))


def make_request(device_id, seq, ts, op, card, amount=None, use_credit=0, ref=None,
                 offline=False, clk=True, age_s=None, pin=None, items=None, use_points=0):
    """Request body bytes in the exact compact key order of PROTOCOL.md.

    ``amount`` None (``lookup``, full ``refund``) leaves out both ``amount`` and
    ``use_credit``; ``ref`` names the refunded purchase; ``offline`` marks a journaled
    request. ``clk`` False adds ``"clk":0`` (the terminal's clock was not synced);
    ``age_s`` (replays) is the sale's age by the terminal's ticks; ``pin`` the refund
    PIN. ``use_points`` (-1: as many as the rules allow) pays with points; ``items`` are
    (sku, qty, price) triples or {"sku","qty","price"} objects (a journaled body's),
    whose sum is ``amount``. Both only when given, so other bodies keep their bytes.
    """
    parts = [
        '{"v":%d' % PROTOCOL_VERSION,
        '"id":' + _jstr(request_id(device_id, seq)),
        '"seq":%d' % int(seq),
        '"ts":%d' % int(ts),
        '"op":' + _jstr(op),
        '"card":' + _jstr(card),
    ]
    if amount is not None:
        parts.append('"amount":%d' % int(amount))
        parts.append('"use_credit":%d' % int(use_credit))
    if use_points:
        parts.append('"use_points":%d' % int(use_points))
    if items:
        out = []
        for i in items:
            if isinstance(i, dict):
                sku, qty, price = i["sku"], i["qty"], i["price"]
            else:
                sku, qty, price = i[0], i[1], i[2]
            out.append('{"sku":%s,"qty":%d,"price":%d}' % (_jstr(sku), int(qty), int(price)))
        parts.append('"items":[' + ",".join(out) + "]")
    if ref is not None:
        parts.append('"ref":' + _jstr(ref))
    if offline:
        parts.append('"offline":true')
    if not clk:
        parts.append('"clk":0')
    if age_s is not None:
        parts.append('"age_s":%d' % int(age_s))
    if pin is not None:
        parts.append('"pin":' + _jstr(pin))
    return (",".join(parts) + "}").encode()


def parse_body(body):
    """JSON object from verified body bytes, or None."""
    try:
        obj = json.loads(body)
    except ValueError:
        return None
    if not isinstance(obj, dict):
        return None
    return obj


def fmt_amount(n):
    """Integer rials with thousands separators: 250000 -> '250,000'."""
    try:
        n = int(n)
    except (TypeError, ValueError):
        return "?"
    neg = n < 0
    s = str(-n if neg else n)
    out = ""
    while len(s) > 3:
        out = "," + s[-3:] + out
        s = s[:-3]
    out = s + out
    return "-" + out if neg else out
