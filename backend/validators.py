"""Iranian identifiers and digit normalisation for every input boundary (O4)."""

import re
from datetime import date

import jdatetime

from card_spec import normalize_digits

# The largest amount any input, request or terminal frame may carry: ten trillion rials,
# far above any real purchase and far below 64 bits. (The firmware keeps its own copy.)
MAX_AMOUNT_RIALS = 10**13

_MOBILE = re.compile(r"09\d{9}")


def items_add_up(amount_rials: int, lines) -> bool:
    """Whether item lines of (quantity, unit price in rials) add up to the sale's amount:
    the one check the protocol (a terminal's frame) and the engine (the counter, the API)
    both make."""
    return sum(quantity * unit_price_rials for quantity, unit_price_rials in lines) == amount_rials


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


# The member's gender as stored: none, female, male. The member import also reads it spelled
# out in either language (its template's help says "زن یا مرد (f یا m)").
GENDERS = ("", "f", "m")
_GENDER_WORDS = {"f": "f", "female": "f", "زن": "f", "خانم": "f", "مونث": "f", "m": "m",
                 "male": "m", "مرد": "m", "آقا": "m", "مذکر": "m"}
GENDER_MESSAGE = "Choose a gender."


def parse_gender(text: str, *, spelled: bool = False) -> str:
    """`f`, `m` or `""` as stored. With `spelled`, also `زن`, `Male`, `آقا`, …; an empty
    text is then refused too (the import leaves an empty cell out before asking).

    Raises ValueError("Choose a gender.") for anything else."""
    if spelled:
        gender = _GENDER_WORDS.get(" ".join(str(text).lower().split()))
    else:
        gender = text if text in GENDERS else None
    if gender is None:
        raise ValueError(GENDER_MESSAGE)
    return gender


WEIGHT_MIN_KG, WEIGHT_MAX_KG = 1, 500
WEIGHT_MESSAGE = "Enter a weight between 1 and 500."


def parse_weight(value: int | str) -> int:
    """A weight in whole kilograms, 1 to 500: an int, or text in any digits (`۶۲`).

    Raises ValueError("Enter a weight between 1 and 500.") for anything else (booleans,
    fractions, signs, out of range)."""
    if type(value) is int:
        weight = value
    elif isinstance(value, str) and normalize_digits(value.strip()).isascii() \
            and normalize_digits(value.strip()).isdigit():
        weight = int(normalize_digits(value.strip()))
    else:
        raise ValueError(WEIGHT_MESSAGE)
    if not WEIGHT_MIN_KG <= weight <= WEIGHT_MAX_KG:
        raise ValueError(WEIGHT_MESSAGE)
    return weight


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


_DATE = re.compile(r"(\d{4})\s*[/\-.]\s*(\d{1,2})\s*[/\-.]\s*(\d{1,2})")
# Years below this are Solar Hijri (1405 ≈ 2026); the calendars' years never overlap.
_FIRST_GREGORIAN_YEAR = 1700


def parse_jalali_or_gregorian_date(text: str) -> date:
    """`۱۴۰۵/۰۸/۳۰`, `1405-8-30`, `٢٠٢٦-١١-٢١` or `2026/11/21` → a Gregorian `date`.

    The year tells the calendar apart. Raises ValueError with a reason for anything that
    is not a real date in its calendar (e.g. 1405/12/30 in a common year)."""
    match = _DATE.fullmatch(normalize_digits(str(text).strip()))
    if match is None:
        raise ValueError("a date looks like 1405/08/30 (Jalali) or 2026-11-21")
    year, month, day = (int(part) for part in match.groups())
    try:
        if year < _FIRST_GREGORIAN_YEAR:
            return jdatetime.date(year, month, day).togregorian()
        return date(year, month, day)
    except ValueError:
        raise ValueError("that day does not exist in the calendar") from None
