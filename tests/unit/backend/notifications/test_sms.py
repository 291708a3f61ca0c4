"""SMS parts: what the quota counts and the campaign preview prices."""

import pytest

from backend.notifications import sms


@pytest.mark.parametrize(("text", "expected"), [
    ("", 0),
    ("a" * 160, 1),
    ("a" * 161, 2),
    ("a" * 306, 2),
    ("a" * 307, 3),
    # Extension-table characters take two septets: 80 euro signs fill one part.
    ("€" * 80, 1),
    ("€" * 81, 2),
    # Persian is UCS-2: 70 characters in one part, 67 per part after that.
    ("س" * 70, 1),
    ("س" * 71, 2),
    ("س" * 134, 2),
    ("س" * 135, 3),
    # One Persian letter makes the whole text UCS-2.
    ("a" * 69 + "س", 1),
    ("a" * 70 + "س", 2),
])
def test_parts(text, expected):
    assert sms.parts(text) == expected


def test_encoding():
    assert sms.encoding("Hello {name}") == "gsm"
    assert sms.encoding("سلام") == "ucs2"
