"""Generation and validation of 16-digit club card numbers."""

CARD_LENGTH = 16
PREFIX_LENGTH = 6
SERIAL_LENGTH = CARD_LENGTH - PREFIX_LENGTH - 1
MAX_SERIAL = 10**SERIAL_LENGTH - 1

# Persian (U+06F0–U+06F9) and Arabic-Indic (U+0660–U+0669) digits map to ASCII: every
# input in the product accepts all three, so normalisation lives at the lowest layer.
_DIGIT_TABLE = {0x06F0 + i: ord("0") + i for i in range(10)} | {
    0x0660 + i: ord("0") + i for i in range(10)
}


class CardNumberError(ValueError):
    """A card number that is not 16 digits or whose check digit is wrong."""


def normalize_digits(text: str) -> str:
    """Return `text` with Persian and Arabic-Indic digits replaced by ASCII digits."""
    return text.translate(_DIGIT_TABLE)


def luhn_check_digit(payload: str) -> int:
    """The Luhn digit that makes `payload + digit` valid."""
    total = 0
    # Walk right to left; the digit next to the (future) check digit is doubled.
    for position, char in enumerate(reversed(payload)):
        digit = ord(char) - 48
        if position % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def make_card_number(prefix: str, serial: int) -> str:
    """Build the card number for `serial` under issuer `prefix`.

    >>> make_card_number("990001", 1)
    '9900010000000019'
    """
    if len(prefix) != PREFIX_LENGTH or not prefix.isascii() or not prefix.isdigit():
        raise CardNumberError(f"issuer prefix must be {PREFIX_LENGTH} digits, got {prefix!r}")
    if not 0 <= serial <= MAX_SERIAL:
        raise CardNumberError(f"serial must be between 0 and {MAX_SERIAL}, got {serial}")
    payload = f"{prefix}{serial:0{SERIAL_LENGTH}d}"
    return payload + str(luhn_check_digit(payload))


def is_valid_card_number(number: str) -> bool:
    """True when `number` is exactly 16 ASCII digits with a correct Luhn digit."""
    if len(number) != CARD_LENGTH or not number.isascii() or not number.isdigit():
        return False
    return luhn_check_digit(number[:-1]) == ord(number[-1]) - 48


def parse_card_number(text: str) -> str:
    """Normalise a typed or scanned card number and validate it.

    Accepts Persian/Arabic-Indic digits and spaces or dashes between groups, as a person
    would type them; raises CardNumberError with a reason otherwise.
    """
    candidate = normalize_digits(text.strip()).replace(" ", "").replace("-", "")
    if len(candidate) != CARD_LENGTH or not candidate.isascii() or not candidate.isdigit():
        raise CardNumberError(f"a card number has {CARD_LENGTH} digits")
    if not is_valid_card_number(candidate):
        raise CardNumberError("the card number's check digit is wrong")
    return candidate
