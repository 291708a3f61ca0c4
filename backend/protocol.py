"""The terminal protocol, version 1 (docs/protocol.md): framing, signatures, request
validation and response bodies. Pure functions shared by the MQTT worker and the terminal
service; no I/O."""

import hashlib
import hmac
import json
import re
from dataclasses import dataclass

from backend.validators import MAX_AMOUNT_RIALS, items_add_up
from card_spec import is_valid_card_number

PROTOCOL_VERSION = 1
MAX_PAYLOAD_BYTES = 4096
SIGNATURE_HEX_LENGTH = 64
MAX_ITEMS = 50
# Frame bounds (docs/protocol.md "Frame bounds"), checked before and while parsing, so no
# signed body can make the parser recurse, a number overflow a database column or a
# conversion, or a field outgrow its column: the worst body is answered BAD_REQUEST.
MAX_JSON_DEPTH = 3  # the request object > its `items` list > an item object
MAX_INT_DIGITS = 19  # 10**13 rials has 14; no field needs more
MAX_SEQ = 2**31 - 1  # `seq` columns are 32-bit integers
MAX_TS = 2**32 - 1  # unix seconds up to 2106
MAX_AGE_S = 2**31 - 1
MAX_ITEM_QTY = 1_000_000
PIN_PATTERN = re.compile(r"[0-9]{4,8}")
DEVICE_ID_PATTERN = re.compile(r"[a-z0-9-]{3,32}")
REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,32}")
OPS = ("lookup", "purchase", "refund", "topup", "ota")
# op "ota" (docs/protocol.md): a terminal in a trial boot of a new firmware confirms it
# reached the broker; no card, no amount, no ledger row.
OTA_STATES = ("trial",)
VERSION_PATTERN = re.compile(r"[0-9A-Za-z.+-]{1,24}")

REQUEST_TOPIC_PREFIX = "vafa/v1/dev/"


class FrameError(ValueError):
    """A frame to drop without reply (bad size, shape or signature)."""


class ProtocolError(ValueError):
    """A signed request whose body is wrong; answered with `code`.

    With a readable `request_id` the refusal is stored like any answer (the same bytes
    for the same id forever), so it also carries what the store keeps: `seq` (0 when the
    body's is not a valid one), `op` ("" when unknown), `offline`, and the `digest` of the
    body's semantic fields."""

    def __init__(self, code: str, message: str, request_id: str | None = None, *,
                 seq: int = 0, op: str = "", offline: bool = False, digest: str = ""):
        super().__init__(message)
        self.code = code
        self.message = message
        self.request_id = request_id
        self.seq = seq
        self.op = op
        self.offline = offline
        self.digest = digest


def sign(body: bytes, key: bytes) -> str:
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def encode_frame(body: bytes, key: bytes) -> bytes:
    return body + b"\n" + sign(body, key).encode("ascii")


def decode_frame(payload: bytes, key: bytes) -> bytes:
    """Return the body of a correctly signed frame; raise FrameError otherwise."""
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise FrameError(f"frame of {len(payload)} bytes exceeds {MAX_PAYLOAD_BYTES}")
    body, separator, signature = payload.rpartition(b"\n")
    if not separator or len(signature) != SIGNATURE_HEX_LENGTH:
        raise FrameError("frame has no signature line")
    expected = sign(body, key).encode("ascii")
    if not hmac.compare_digest(expected, signature):
        raise FrameError("signature mismatch")
    return body


def device_id_from_topic(topic: str, leaf: str) -> str:
    """`vafa/v1/dev/<id>/<leaf>` → `<id>`; FrameError for any other topic."""
    parts = topic.split("/")
    if (
        len(parts) != 5
        or "/".join(parts[:3]) + "/" != REQUEST_TOPIC_PREFIX
        or parts[4] != leaf
        or not DEVICE_ID_PATTERN.fullmatch(parts[3])
    ):
        raise FrameError(f"unexpected topic {topic!r}")
    return parts[3]


def topic(device_id: str, leaf: str) -> str:
    return f"{REQUEST_TOPIC_PREFIX}{device_id}/{leaf}"


@dataclass(frozen=True)
class Item:
    sku: str
    qty: int
    price: int


@dataclass(frozen=True)
class Request:
    id: str
    seq: int
    ts: int
    op: str
    card: str
    amount: int | None
    use_credit: int
    items: tuple[Item, ...] | None
    ref: str | None
    offline: bool
    # Issue 15's additions (docs/protocol.md), optional on the wire.
    clk: bool = True  # False: the terminal's clock was not synced when it built this
    age_s: int | None = None  # offline replays: seconds since the sale, by monotonic ticks
    pin: str | None = None  # refunds: the PIN the cashier typed
    # op "ota": the boot's state ("trial") and the firmware version it runs.
    st: str | None = None
    ver: str | None = None
    # Paying with points (issue 18 item 1): 0 none, N points, -1 as many as the rules allow.
    use_points: int = 0


SEMANTIC_FIELDS = ("op", "card", "amount", "use_credit", "items", "ref", "use_points")


def semantic_digest(op, card, amount, use_credit, items, ref, use_points=0) -> str:
    """SHA-256 hex of a request's semantic fields: what a repeated id must repeat.

    `items` as a list of [sku, qty, price]. Computed the same way from a valid Request and
    from the raw fields of a refused body, so a retried frame matches its stored answer
    whatever its age_s or signature. `use_points` joins the list only when not 0, so the
    digests stored before it existed still match their retries."""
    fields = [op, card, amount, use_credit, items, ref]
    if use_points != 0:
        fields.append(use_points)
    canonical = json.dumps(fields, ensure_ascii=True,
                           separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def request_digest(request: Request) -> str:
    if request.op == "ota":
        return semantic_digest("ota", None, None, 0, None, f"{request.st}/{request.ver}")
    items = None if request.items is None else [
        [item.sku, item.qty, item.price] for item in request.items]
    return semantic_digest(request.op, request.card, request.amount, request.use_credit,
                           items, request.ref, request.use_points)


def _raw_digest(data: dict) -> str:
    if data.get("op") == "ota":
        return semantic_digest("ota", None, None, 0, None, f"{data.get('st')}/{data.get('ver')}")
    items = data.get("items")
    if isinstance(items, list):
        items = [[item.get("sku"), item.get("qty"), item.get("price")]
                 if isinstance(item, dict) else item for item in items]
    return semantic_digest(data.get("op"), data.get("card"), data.get("amount"),
                           data.get("use_credit", 0), items, data.get("ref"),
                           data.get("use_points", 0))


def _is_int(value) -> bool:
    # bool is an int subclass in Python; JSON true must not pass as 1.
    return type(value) is int


# Strings (with their escapes) and brackets: the depth pre-scan skips brackets in strings.
_DEPTH_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _check_depth(body: bytes) -> None:
    """Refuse a body nested deeper than MAX_JSON_DEPTH before json.loads sees it: the C
    parser recurses per level and raises RecursionError (not ValueError) near 1,000."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return  # the usual body: too few brackets to be deep
    depth = 0
    for token in _DEPTH_TOKENS.finditer(body):
        opener = token.group()
        if opener in (b"[", b"{"):
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise ProtocolError("BAD_REQUEST", f"body nested deeper than {MAX_JSON_DEPTH}")
        elif opener in (b"]", b"}"):
            depth -= 1


def _bounded_int(text: str) -> int | float:
    # An integer longer than any field allows becomes a value every check refuses, so the
    # refusal still names the field and the request id (int() of thousands of digits is
    # slow, and past 4,300 digits a ValueError).
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        return float("inf")
    return int(text)


_PLAIN_DECODER = json.JSONDecoder()
_BOUNDED_DECODER = json.JSONDecoder(parse_int=_bounded_int)
_LONG_DIGITS = re.compile(rb"[0-9]{%d}" % (MAX_INT_DIGITS + 1))


def _loads(body: bytes):
    _check_depth(body)
    text = body.decode("utf-8")
    # The bounding hook costs a Python call per number: only bodies with a digit run
    # longer than any field allows need it (a card number in its string has 16).
    decoder = _BOUNDED_DECODER if _LONG_DIGITS.search(body) else _PLAIN_DECODER
    return decoder.decode(text)


def parse_request(body: bytes) -> Request:
    """Validate a request body; ProtocolError carries the code and names the field."""
    try:
        data = _loads(body)
    except (UnicodeDecodeError, ValueError) as error:
        if isinstance(error, ProtocolError):
            raise
        raise ProtocolError("BAD_REQUEST", f"body is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise ProtocolError("BAD_REQUEST", "body must be a JSON object")
    request_id = data.get("id")
    if not isinstance(request_id, str) or not REQUEST_ID_PATTERN.fullmatch(request_id):
        raise ProtocolError("BAD_REQUEST", "id: must match [A-Za-z0-9_-]{1,32}")
    raw_seq = data.get("seq")
    valid_seq = raw_seq if _is_int(raw_seq) and 0 < raw_seq <= MAX_SEQ else 0
    raw_op = data.get("op")

    def fail(field: str, message: str, code: str = "BAD_REQUEST"):
        raise ProtocolError(code, f"{field}: {message}", request_id, seq=valid_seq,
                            op=raw_op if raw_op in OPS else "",
                            offline=data.get("offline") is True, digest=_raw_digest(data))

    if data.get("v") != PROTOCOL_VERSION or not _is_int(data.get("v")):
        fail("v", f"protocol version must be {PROTOCOL_VERSION}")
    seq = raw_seq
    if not valid_seq:
        fail("seq", f"must be an integer from 1 to {MAX_SEQ}")
    ts = data.get("ts")
    if not _is_int(ts) or not 0 <= ts <= MAX_TS:
        fail("ts", "must be unix seconds")
    op = data.get("op")
    if op not in OPS:
        fail("op", f"unknown op {op!r}")
    if op == "ota":
        return _ota_request(data, request_id, seq, ts, fail)
    card = data.get("card")
    if not isinstance(card, str) or not card.isascii() or not card.isdigit() or len(card) != 16:
        fail("card", "must be 16 digits", "CARD_INVALID")
    if not is_valid_card_number(card):
        fail("card", "check digit is wrong", "CARD_INVALID")

    amount = data.get("amount")
    # A refund's amount is optional: without it the whole purchase is refunded.
    if op in ("purchase", "topup") or (op == "refund" and amount is not None):
        if not _is_int(amount) or not 0 < amount <= MAX_AMOUNT_RIALS:
            fail("amount", "must be a positive integer number of rials")
    elif amount is not None:
        fail("amount", f"not allowed with op {op}")
    use_credit = data.get("use_credit", 0)
    if not _is_int(use_credit) or use_credit < -1 or use_credit > MAX_AMOUNT_RIALS:
        fail("use_credit", "must be 0, a positive amount of rials or -1")
    if op != "purchase" and use_credit != 0:
        fail("use_credit", f"not allowed with op {op}")
    use_points = data.get("use_points", 0)
    if not _is_int(use_points) or use_points < -1 or use_points > MAX_AMOUNT_RIALS:
        fail("use_points", "must be 0, a positive number of points or -1")
    if op != "purchase" and use_points != 0:
        fail("use_points", f"not allowed with op {op}")

    items = None
    if "items" in data:
        raw_items = data["items"]
        if op != "purchase" or not isinstance(raw_items, list) or not raw_items:
            fail("items", "must be a non-empty list on a purchase")
        if len(raw_items) > MAX_ITEMS:
            fail("items", f"at most {MAX_ITEMS} items")
        parsed = []
        for index, raw in enumerate(raw_items):
            if not isinstance(raw, dict):
                fail(f"items[{index}]", "must be an object")
            sku, qty, price = raw.get("sku"), raw.get("qty"), raw.get("price")
            if not isinstance(sku, str) or not 1 <= len(sku) <= 32:
                fail(f"items[{index}].sku", "must be 1–32 characters")
            if not _is_int(qty) or not 0 < qty <= MAX_ITEM_QTY:
                fail(f"items[{index}].qty", f"must be an integer from 1 to {MAX_ITEM_QTY}")
            if not _is_int(price) or not 0 <= price <= MAX_AMOUNT_RIALS:
                fail(f"items[{index}].price", "must be a non-negative integer of rials")
            parsed.append(Item(sku, qty, price))
        if not items_add_up(amount, ((item.qty, item.price) for item in parsed)):
            fail("items", "item totals do not add up to amount")
        items = tuple(parsed)

    ref = data.get("ref")
    if op == "refund" and ref is None:
        fail("ref", "a refund names the purchase's request id")
    if ref is not None and (
        op != "refund" or not isinstance(ref, str) or not REQUEST_ID_PATTERN.fullmatch(ref)
    ):
        fail("ref", "must be a request id, on a refund")
    offline = data.get("offline", False)
    if not isinstance(offline, bool):
        fail("offline", "must be true or false")
    # Only earn-only purchases may wait in a terminal's journal (PROTOCOL.md).
    if offline and (op != "purchase" or use_credit != 0 or use_points != 0):
        fail("offline", "only purchases spending no credit or points can be replayed offline")
    clk = data.get("clk", 1)
    if not _is_int(clk) or clk not in (0, 1):
        fail("clk", "must be 0 (clock not synced) or 1")
    age_s = data.get("age_s")
    if age_s is not None and (not _is_int(age_s) or not 0 <= age_s <= MAX_AGE_S):
        fail("age_s", "must be a non-negative integer of seconds")
    if age_s is not None and not offline:
        fail("age_s", "only on an offline replay")
    pin = data.get("pin")
    if pin is not None and (op != "refund" or not isinstance(pin, str)
                            or not PIN_PATTERN.fullmatch(pin)):
        fail("pin", "must be 4-8 digits, on a refund")
    return Request(request_id, seq, ts, op, card, amount, use_credit, items, ref, offline,
                   clk=clk == 1, age_s=age_s, pin=pin, use_points=use_points)


def _ota_request(data: dict, request_id: str, seq: int, ts: int, fail) -> Request:
    for name in ("card", "amount", "items", "ref", "pin", "age_s"):
        if name in data:
            fail(name, "not allowed with op ota")
    if data.get("use_credit", 0) != 0 or not _is_int(data.get("use_credit", 0)):
        fail("use_credit", "not allowed with op ota")
    if data.get("use_points", 0) != 0 or not _is_int(data.get("use_points", 0)):
        fail("use_points", "not allowed with op ota")
    if data.get("offline", False) is not False:
        fail("offline", "op ota is never replayed offline")
    if data.get("st") not in OTA_STATES:
        fail("st", "must be trial")
    version = data.get("ver")
    if not isinstance(version, str) or not VERSION_PATTERN.fullmatch(version):
        fail("ver", "must be 1-24 of 0-9 A-Z a-z . + -")
    clk = data.get("clk", 1)
    if not _is_int(clk) or clk not in (0, 1):
        fail("clk", "must be 0 (clock not synced) or 1")
    return Request(request_id, seq, ts, "ota", "", None, 0, None, None, False,
                   clk=clk == 1, st=data["st"], ver=version)


@dataclass(frozen=True)
class Command:
    """A signed frame for a terminal's `cmd` topic (backend.services.terminal_commands and
    firmware_builds build them; the caller publishes `frame` on `topic`)."""
    device_id: str
    topic: str
    body: dict
    frame: bytes


def encode_body(body: dict) -> bytes:
    """Compact, stable JSON: what is stored is exactly what is signed and sent."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def error_body(request_id: str | None, code: str, message: str, now_ts: int) -> dict:
    return {
        "v": PROTOCOL_VERSION,
        "id": request_id,
        "ok": False,
        "code": code,
        "msg": message[:120],
        "ts": now_ts,
    }
