"""Logs never show a card number, a key or a whole mobile number: every log record is
redacted when it is made.

Card numbers (16 digits in any script, with or without spaces or dashes between them)
become `…1234`, their last four digits; 64-hex-digit strings (device keys, signatures)
become `[secret]`; Iranian mobile numbers (09…, +98 9…, 0098 9…, any script) keep their
prefix and last four digits, `0912***4567` (`mask_mobiles`). The record's message is
formatted and redacted at creation, and so is its traceback, so every handler (files,
gunicorn's access log, test capture) gets the redacted text. A log record factory rather
than a handler filter: filters on loggers do not see records of child loggers, and
handlers added later would not have one.
"""

import logging
import re
import traceback

# Python's \d matches every Unicode decimal digit: ASCII, Persian and Arabic-Indic.
CARD_NUMBER = re.compile(r"(?<!\d)(?:\d[ -]?){12}(\d[ -]?\d[ -]?\d[ -]?\d)(?!\d)")
HEX_SECRET = re.compile(r"(?<![0-9a-fA-F])[0-9a-fA-F]{64}(?![0-9a-fA-F])")
MOBILE_NUMBER = re.compile(r"(?<![\d+])(\+98|0098|[0۰٠])([9۹٩]\d\d)\d{3}(\d{4})(?!\d)")
_installed = False


def mask_mobiles(text: str) -> str:
    """`09121234567` → `0912***4567`: enough to tell numbers apart, not to dial one."""
    return MOBILE_NUMBER.sub(lambda match: f"{match[1]}{match[2]}***{match[3]}", text)


def redact(text: str) -> str:
    text = CARD_NUMBER.sub(lambda match: "…" + re.sub(r"[ -]", "", match.group(1)), text)
    return mask_mobiles(HEX_SECRET.sub("[secret]", text))


def redact_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:
        return  # a malformed call: the handler reports it as usual
    record.msg, record.args = redact(message), None
    if record.exc_info and not record.exc_text:
        # What logging.Formatter.formatException would produce, cached on the record.
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info))
                                 .rstrip("\n"))
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def install() -> None:
    """Redact every record made from now on in this process (idempotent)."""
    global _installed
    if _installed:
        return
    make_record = logging.getLogRecordFactory()

    def redacting_factory(*args, **kwargs):
        record = make_record(*args, **kwargs)
        redact_record(record)
        return record

    logging.setLogRecordFactory(redacting_factory)
    _installed = True
