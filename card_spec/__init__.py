"""Card numbers: issuer prefix + serial + Luhn check digit (feature C1).

A card number is 16 ASCII digits: a 6-digit issuer prefix, a 9-digit serial and one Luhn
check digit. The backend, the provisioning tools and the batch printer all use this module;
the firmware has its own tiny copy (`firmware/vafa/card.py`) tested against the same vectors.
"""

from card_spec.numbers import (
    CARD_LENGTH,
    PREFIX_LENGTH,
    SERIAL_LENGTH,
    CardNumberError,
    is_valid_card_number,
    luhn_check_digit,
    make_card_number,
    normalize_digits,
    parse_card_number,
)

__all__ = [
    "CARD_LENGTH",
    "PREFIX_LENGTH",
    "SERIAL_LENGTH",
    "CardNumberError",
    "is_valid_card_number",
    "luhn_check_digit",
    "make_card_number",
    "normalize_digits",
    "parse_card_number",
]
