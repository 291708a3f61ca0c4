"""Language, numbers and dates for people (O4): Persian first, English second.

UI strings go through Flask-Babel's `gettext` with English message ids; the Persian
catalogue is `backend/translations/fa/LC_MESSAGES/messages.po`. The `.po` file is the only
thing kept in git: `compile_catalogues` writes the binary `.mo` next to the instance data
at start-up (a few milliseconds), so a stale compiled catalogue can never be served.

Amounts are integer rials; the club shows rial or toman (rial / 10). Dates are stored in
UTC and shown in Tehran time: Jalali with Persian digits in Persian, Gregorian in English.
"""

import os
import re
import tempfile
from datetime import date, datetime
from pathlib import Path

import jdatetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from backend.engine.calendar import CLUB_TIMEZONE
from card_spec import normalize_digits

TRANSLATIONS_DIR = Path(__file__).resolve().parent / "translations"
LANGUAGES = ("fa", "en")
DEFAULT_LANGUAGE = "fa"
_PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def compile_catalogues(target_dir: Path, source_dir: Path = TRANSLATIONS_DIR) -> Path:
    """Compile every `<lang>/LC_MESSAGES/*.po` under `source_dir` into `target_dir`."""
    for po_path in source_dir.glob("*/LC_MESSAGES/*.po"):
        relative = po_path.relative_to(source_dir).with_suffix(".mo")
        mo_path = target_dir / relative
        mo_path.parent.mkdir(parents=True, exist_ok=True)
        with po_path.open("rb") as source:
            catalogue = read_po(source, locale=po_path.parts[-3])
        # A temporary file of this writer's own: `make run` starts several processes at
        # once (web workers, MQTT worker, jobs), each compiling; a shared name let one
        # rename another's file from under it and the web worker fail to boot.
        handle, name = tempfile.mkstemp(dir=mo_path.parent, prefix=f"{mo_path.name}.",
                                        suffix=".tmp")
        temporary = Path(name)
        try:
            with os.fdopen(handle, "wb") as target:
                write_mo(target, catalogue)
            temporary.replace(mo_path)  # atomic: another worker never reads half a file
        finally:
            temporary.unlink(missing_ok=True)
    return target_dir


def persian_digits(text: str) -> str:
    """Persian digits, with the Arabic thousands separator (٬) and decimal point (٫)."""
    return str(text).translate(_PERSIAN_DIGITS)


def _persian_number(text: str) -> str:
    return persian_digits(text.replace(",", "٬").replace(".", "٫"))


def localise_digits(text: str, language: str) -> str:
    return persian_digits(text) if language == "fa" else str(text)


def format_number(value: int, language: str) -> str:
    """`1234567` → `۱٬۲۳۴٬۵۶۷` in Persian, `1,234,567` in English."""
    text = f"{value:,}"
    return _persian_number(text) if language == "fa" else text


def amount_in_unit(amount_rials: int, unit: str) -> int | float:
    """Rials in the display unit; toman keeps a half when the rials are not a multiple
    of ten (shown with one decimal) rather than rounding money away."""
    if unit == "toman":
        return amount_rials // 10 if amount_rials % 10 == 0 else amount_rials / 10
    return amount_rials


def format_amount(amount_rials: int, language: str, unit: str = "rial",
                  with_unit: bool = True) -> str:
    value = amount_in_unit(amount_rials, unit)
    text = f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"
    text = _persian_number(text) if language == "fa" else text
    if not with_unit:
        return text
    names = {"fa": {"rial": "ریال", "toman": "تومان"}, "en": {"rial": "rials", "toman": "toman"}}
    return f"{text} {names[language][unit]}"


def parse_amount(text: str, unit: str = "rial") -> int:
    """Parse a typed amount in the display unit into integer rials.

    Accepts Persian, Arabic-Indic and Latin digits and the separators people type
    (`,` `٬` `،` spaces). Raises ValueError with a message for anything else."""
    cleaned = normalize_digits(str(text).strip())
    for separator in (",", "٬", "،", " ", "\u200c", "_"):
        cleaned = cleaned.replace(separator, "")
    if not cleaned.isascii() or not cleaned.isdigit():
        raise ValueError("Enter a whole number.")
    value = int(cleaned)
    if len(cleaned) > 15:
        raise ValueError("That amount is too large.")
    return value * 10 if unit == "toman" else value


def format_datetime(moment: datetime | None, language: str, with_time: bool = True) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(CLUB_TIMEZONE)
    if language == "fa":
        jalali = jdatetime.datetime.fromgregorian(datetime=local)
        text = jalali.strftime("%Y/%m/%d %H:%M" if with_time else "%Y/%m/%d")
        return persian_digits(text)
    return local.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def format_date(day: date | None, language: str) -> str:
    if day is None:
        return ""
    if language == "fa":
        return persian_digits(jdatetime.date.fromgregorian(date=day).strftime("%Y/%m/%d"))
    return day.isoformat()


def date_input_value(day: date | None, language: str) -> str:
    """A date as the user should see it in a form field (Latin digits keep it editable
    on every keyboard; the field accepts Persian digits back)."""
    if day is None:
        return ""
    if language == "fa":
        return jdatetime.date.fromgregorian(date=day).strftime("%Y/%m/%d")
    return day.isoformat()


# Ledger reasons are stored in one language (English, as the services write them) so they
# stay searchable and stable; people read them in theirs. Free-text reasons typed by staff
# (credit grants) match nothing here and are shown as typed.
_REASONS_FA = [
    (r"purchase of ([\d,]+) rials", "خرید {0} ریالی"),
    (r"top-up of ([\d,]+) rials", "شارژ {0} ریالی کیف پول"),
    (r"welcome bonus", "هدیهٔ خوش‌آمد عضویت"),
    (r"refund of ([\d,]+) rials of purchase (\d+)", "مرجوعی {0} ریال از خرید شمارهٔ {1}"),
    (r"refund of purchase (\d+)", "مرجوعی خرید شمارهٔ {0}"),
    (r"commission on purchase (\d+) by member (\d+)",
     "پورسانت خرید شمارهٔ {0} عضو شمارهٔ {1}"),
    (r"credit from (\d{4}-\d\d-\d\d) expired", "انقضای اعتبار {0}"),
    (r"gift card …(\d{4})", "کارت هدیهٔ …{0}"),
    (r"member (\d+) joined", "عضویت عضو شمارهٔ {0} با معرفی شما"),
    (r"member (\d+)'s first purchase", "نخستین خرید عضو شمارهٔ {0}"),
    (r"transfer from member (\d+)", "انتقال از عضو شمارهٔ {0}"),
    (r"transfer to member (\d+)", "انتقال به عضو شمارهٔ {0}"),
    (r"(\d+) points at (\d+) rials each", "تبدیل {0} امتیاز، هر امتیاز {1} ریال"),
    (r"points from (\d{4}-\d\d-\d\d) expired", "انقضای امتیاز {0}"),
    (r"reward (\d+) for (\d+) points", "جایزهٔ شمارهٔ {0} با {1} امتیاز"),
    (r"reward for completing the profile", "هدیهٔ تکمیل نمایه"),
]
_REASON_PATTERNS = [(re.compile(pattern), template) for pattern, template in _REASONS_FA]


def explain_reason(reason: str, language: str) -> str:
    if language != "fa":
        return reason
    for pattern, template in _REASON_PATTERNS:
        match = pattern.fullmatch(reason)
        if match:
            parts = []
            for part in match.groups():
                if re.fullmatch(r"\d{4}-\d\d-\d\d", part):
                    part = format_date(date.fromisoformat(part), "fa")
                parts.append(_persian_number(part))
            return template.format(*parts)
    return reason
