import pytest
from hypothesis import given
from hypothesis import strategies as st

from card_spec import (
    CardNumberError,
    is_valid_card_number,
    luhn_check_digit,
    make_card_number,
    parse_card_number,
)

# PROTOCOL.md "Test vectors".
VALID = ["9900010000000019", "9900010000000027", "9900010000001009", "9900011234567898"]
INVALID = ["9900010000000018"]


@pytest.mark.parametrize("number", VALID)
def test_protocol_vectors_are_valid(number):
    assert is_valid_card_number(number)


@pytest.mark.parametrize(
    "number", INVALID + ["990001000000001", "99000100000000190", "99000l0000000019", ""]
)
def test_protocol_vectors_and_malformed_numbers_are_invalid(number):
    assert not is_valid_card_number(number)


def test_make_card_number_reproduces_the_vectors():
    assert make_card_number("990001", 1) == "9900010000000019"
    assert make_card_number("990001", 2) == "9900010000000027"
    assert make_card_number("990001", 100) == "9900010000001009"
    assert make_card_number("990001", 123456789) == "9900011234567898"


@pytest.mark.parametrize(
    ("prefix", "serial"), [("99000", 1), ("9900011", 1), ("99000a", 1), ("990001", -1),
                           ("990001", 10**9)],
)
def test_make_card_number_refuses_bad_parts(prefix, serial):
    with pytest.raises(CardNumberError):
        make_card_number(prefix, serial)


def test_parse_accepts_persian_and_arabic_indic_digits_and_separators():
    assert parse_card_number("۹۹۰۰ ۰۱۰۰ ۰۰۰۰ ۰۰۱۹") == "9900010000000019"
    assert parse_card_number("٩٩٠٠-٠١٠٠-٠٠٠٠-٠٠١٩") == "9900010000000019"


@pytest.mark.parametrize(("text", "reason"), [("9900010000000018", "check digit"),
                                              ("99000100000000", "16 digits")])
def test_parse_names_the_problem(text, reason):
    with pytest.raises(CardNumberError, match=reason):
        parse_card_number(text)


@given(st.integers(min_value=0, max_value=10**9 - 1))
def test_every_generated_number_is_valid(serial):
    number = make_card_number("990001", serial)
    assert len(number) == 16 and is_valid_card_number(number)


@given(st.integers(min_value=0, max_value=10**9 - 1), st.integers(0, 15), st.integers(1, 9))
def test_any_single_digit_error_is_detected(serial, position, delta):
    number = make_card_number("990001", serial)
    wrong = str((int(number[position]) + delta) % 10)
    typo = number[:position] + wrong + number[position + 1:]
    assert not is_valid_card_number(typo)


def test_luhn_digit_of_empty_payload_is_zero():
    assert luhn_check_digit("") == 0
