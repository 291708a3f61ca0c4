"""Logs redact card numbers to their last four digits and never show a key."""

import logging

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend import log_redaction
from card_spec import make_card_number

CARD = "9900010000000019"
PERSIAN = CARD.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))


@pytest.mark.parametrize(("text", "expected"), [
    (f"card {CARD} refused", "card …0019 refused"),
    ("card 9900 0100 0000 0019 typed", "card …0019 typed"),
    ("card 9900-0100-0000-0019", "card …0019"),
    (f"کارت {PERSIAN}", "کارت …۰۰۱۹"),
    (f"[parameters: ('{CARD}', 5)]", "[parameters: ('…0019', 5)]"),
    ("amount 250000 at 1763800000", "amount 250000 at 1763800000"),  # not cards
    ("key " + "ab" * 32, "key [secret]"),
])
def test_redact(text, expected):
    assert log_redaction.redact(text) == expected


@given(serial=st.integers(0, 10**9 - 1), before=st.text(max_size=20),
       after=st.text(max_size=20))
def test_no_card_number_survives_redaction(serial, before, after):
    number = make_card_number("990001", serial)
    redacted = log_redaction.redact(f"{before} {number} {after}")
    assert number not in redacted and number[:12] not in redacted


def test_records_and_tracebacks_are_redacted_for_every_handler(caplog):
    log_redaction.install()
    logger = logging.getLogger("vafa.test.redaction")
    with caplog.at_level(logging.INFO):
        logger.info("sale on card %s", CARD)
        try:
            raise ValueError(f"no member has card {CARD}")
        except ValueError:
            logger.exception("failed")
    text = caplog.text
    assert CARD not in text and "…0019" in text
    assert "ValueError: no member has card …0019" in text
