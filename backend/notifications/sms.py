"""How many SMS parts a text takes (what providers bill and the quota counts).

A text in the GSM 03.38 alphabet travels in 7-bit septets: 160 in one part, 153 per part
once split (the rest of each part carries the concatenation header); characters from
the alphabet's extension table take two septets. Anything else — Persian always — is
sent as UCS-2: 70 code units in one part, 67 per part once split.
"""

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

GSM_SINGLE, GSM_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67


def encoding(text: str) -> str:
    try:
        text.encode("gsm03.38")
    except UnicodeEncodeError:
        return "ucs2"
    return "gsm"


def parts(text: str) -> int:
    """Parts `text` is sent in; 0 for an empty text."""
    if not text:
        return 0
    try:
        units, single, multi = len(text.encode("gsm03.38")), GSM_SINGLE, GSM_MULTI
    except UnicodeEncodeError:
        # UTF-16 code units: characters outside the BMP (emoji) count twice.
        units, single, multi = len(text.encode("utf-16-le")) // 2, UCS2_SINGLE, UCS2_MULTI
    return 1 if units <= single else -(-units // multi)
