"""Signed-body poison of each kind issue 17 found (tests/integration/test_poison_frames.py
and the chaos suite's poison burst)."""

import time

from backend import protocol

KINDS = 8  # bodies per round, each under its own id


def poison_bodies(device_id: str, first_seq: int, rounds: int = 5) -> list[bytes]:
    """`rounds` × KINDS bodies: JSON nested 2,000 deep (less for a long device id), seq
    2^63 and 2^64+7, ts 10^18, a 3,000-digit card, quantities of 10^15, a 3,900-digit
    seq, an age of 2^40 s. Those with a valid seq use first_seq + their number."""
    def body(number: int, **fields) -> bytes:
        return protocol.encode_body({
            "v": 1, "id": f"{device_id}-p{number:04d}", "seq": first_seq + number,
            "ts": int(time.time()), "op": "purchase", "card": "9900010000000019",
            "amount": 250_000, "use_credit": 0, **fields})

    def raw(number: int, rest: bytes) -> bytes:
        return b'{"v":1,"id":"' + f"{device_id}-p{number:04d}".encode() + b'",' + rest + b"}"

    # 2,000 deep, or as deep as the frame size allows with a longer device id.
    nesting = min(2000, (protocol.MAX_PAYLOAD_BYTES - 1 - protocol.SIGNATURE_HEX_LENGTH
                         - len(raw(0, b'"x":'))) // 2)
    bodies = []
    for number in range(0, rounds * KINDS, KINDS):
        bodies += [
            raw(number, b'"x":' + b"[" * nesting + b"]" * nesting),
            body(number + 1, seq=2**63),
            body(number + 2, seq=2**64 + 7),
            body(number + 3, ts=10**18),
            body(number + 4, card="9" * 3000),
            body(number + 5, items=[{"sku": "A", "qty": 10**15, "price": 1}] * 3,
                 amount=3 * 10**15),
            raw(number + 6, b'"seq":' + b"9" * 3900),
            body(number + 7, offline=True, age_s=2**40),
        ]
    assert all(len(b) + 1 + protocol.SIGNATURE_HEX_LENGTH <= protocol.MAX_PAYLOAD_BYTES
               for b in bodies)
    return bodies
