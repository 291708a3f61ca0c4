"""Iranian identifiers and digit normalisation for every input boundary (O4)."""

import re

from card_spec import normalize_digits

_MOBILE = re.compile(r"09\d{9}")


def normalize_mobile(text: str) -> str:
    """`+98 912 123 4567`, `۰۹۱۲۱۲۳۴۵۶۷`, `00989121234567` → `09121234567`.

    Raises ValueError with a reason when the result is not an Iranian mobile number.
    """
    digits = re.sub(r"[\s\-()]", "", normalize_digits(text.strip()))
    if digits.startswith("+98"):
        digits = "0" + digits[3:]
    elif digits.startswith("0098"):
        digits = "0" + digits[4:]
    elif digits.startswith("98") and len(digits) == 12:
        digits = "0" + digits[2:]
    elif digits.startswith("9") and len(digits) == 10:
        digits = "0" + digits
    if not _MOBILE.fullmatch(digits):
        raise ValueError("a mobile number looks like 09xxxxxxxxx")
    return digits


def is_valid_national_code(code: str) -> bool:
    """The check digit rule of the Iranian national code (کد ملی).

    No well-kept library implements it (python-stdnum has no Iranian module), so it lives
    here, tested against PROTOCOL.md's vectors.
    """
    code = normalize_digits(code.strip())
    if len(code) != 10 or not code.isascii() or not code.isdigit():
        return False
    # Codes of one repeated digit pass the arithmetic but are never issued.
    if len(set(code)) == 1:
        return False
    check = int(code[9])
    remainder = sum(int(code[i]) * (10 - i) for i in range(9)) % 11
    return check == remainder if remainder < 2 else check == 11 - remainder


def parse_national_code(text: str) -> str:
    code = normalize_digits(text.strip())
    if not is_valid_national_code(code):
        raise ValueError("the national code is not valid")
    return code
