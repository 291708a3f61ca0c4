# Card numbers: 16 ASCII digits, the last one a Luhn check digit.
from micropython import const

_CARD_LEN = const(16)


def is_valid_card(s):
    """True if ``s`` is exactly 16 ASCII digits and passes the Luhn check."""
    if not isinstance(s, str) or len(s) != _CARD_LEN:
        return False
    total = 0
    double = False
    for i in range(_CARD_LEN - 1, -1, -1):
        o = ord(s[i])
        if o < 48 or o > 57:
            return False
        d = o - 48
        if double:
            d *= 2
            if d > 9:
                d -= 9
        total += d
        double = not double
    return total % 10 == 0


def mask_card(s):
    """Show only the last four digits, e.g. ``****0019``."""
    if not isinstance(s, str):
        return "****"
    return "****" + s[-4:]
