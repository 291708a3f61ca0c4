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
from datetime import UTC, date, datetime
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



def N_(message: str) -> str:  # noqa: N802 (the gettext convention's name)
    """Marks a message id for the catalogue (`pybabel extract -k N_`); translated where shown."""
    return message

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


# What people type between digit groups: Latin and Arabic commas, the Arabic thousands
# separator (٬, Shift+2 on the Persian keyboard), spaces of every width, ZWNJ, underscore.
_GROUP_SEPARATORS = (",", "٬", "،", " ", "\u00a0", "\u202f", "\u2009", "\u200c", "_")
_DECIMAL_POINTS = (".", "٫")  # Latin point, Arabic decimal separator (Shift+3)
_MAX_DIGITS = 15
_GROUPED = re.compile(r"\d{1,3}(?:,\d{3})+")


def parse_number(text: str, decimals: int = 0) -> int:
    """A typed non-negative number, in units of 10**-decimals (`parse_number("۵٫۵", 2)`
    is 550). Persian, Arabic-Indic and Latin digits; thousands grouped with any of
    `_GROUP_SEPARATORS` (groups of three); `.` or `٫` is the decimal point when at most
    `decimals` digits follow it, else it groups thousands as Iranian prices are often
    written (`۱۲.۵۰۰`). Anything ambiguous or malformed raises ValueError with a message
    id, so `۵,۵` never silently becomes 55."""
    cleaned = normalize_digits(str(text)).strip()
    for separator in _GROUP_SEPARATORS:
        cleaned = cleaned.replace(separator, ",")
    for point in _DECIMAL_POINTS:
        cleaned = cleaned.replace(point, ".")
    if not cleaned or not cleaned.isascii() or cleaned.strip("0123456789.,"):
        raise ValueError("Enter a whole number." if decimals == 0 else "Enter a number.")
    whole, fraction = cleaned, ""
    if cleaned.count(".") == 1 and len(cleaned.partition(".")[2]) <= decimals:
        whole, _, fraction = cleaned.partition(".")
        if not fraction or "," in fraction:
            raise ValueError("Enter a number.")
    elif "." in cleaned:
        if "," in cleaned:  # 1,234.567: two kinds of grouping
            raise ValueError("Enter a whole number." if decimals == 0 else "Enter a number.")
        whole = cleaned.replace(".", ",")
    if "," in whole:
        if not _GROUPED.fullmatch(whole):
            raise ValueError("Digits are grouped by three, like 1,250,000.")
        whole = whole.replace(",", "")
    if not whole.isdigit():
        raise ValueError("Enter a whole number." if decimals == 0 else "Enter a number.")
    if len(whole.lstrip("0")) + decimals > _MAX_DIGITS:
        raise ValueError("That amount is too large.")
    return int(whole) * 10**decimals + int(fraction.ljust(decimals, "0") or 0)


def parse_amount(text: str, unit: str = "rial") -> int:
    """Parse a typed amount in the display unit into integer rials.

    Accepts Persian, Arabic-Indic and Latin digits and the separators people type
    (`,` `٬` `،` `.` `٫` spaces); toman may carry one decimal (۱۲٫۵ toman = 125 rials).
    Raises ValueError with a message for anything else."""
    if unit == "toman":
        return parse_number(text, 1)
    return parse_number(text, 0)


def parse_percent(text: str) -> int:
    """A typed percentage (`۵`, `۵٫۵`, `12.25%`, `٪۱۰`) as integer basis points."""
    cleaned = str(text).strip().strip("%٪").strip()
    try:
        return parse_number(cleaned, 2)
    except ValueError as error:
        if str(error) == "That amount is too large.":
            raise
        raise ValueError("Enter a percentage like 5 or 5.5.") from None


def basis_points_text(basis_points: int) -> str:
    """Basis points as the percentage people type: 500 → `5`, 550 → `5.5`, 1 → `0.01`."""
    whole, hundredths = divmod(abs(int(basis_points)), 100)
    text = f"{'-' if basis_points < 0 else ''}{whole}"
    return f"{text}.{hundredths:02d}".rstrip("0") if hundredths else text


def format_percent(basis_points: int | None, language: str) -> str:
    """`1000` → `۱۰٪` in Persian, `10%` in English; `550` → `۵٫۵٪`."""
    text = basis_points_text(basis_points or 0)
    return _persian_number(text) + "٪" if language == "fa" else text + "%"


def format_datetime(moment: datetime | None, language: str, with_time: bool = True) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(CLUB_TIMEZONE)
    if language == "fa":
        jalali = jdatetime.datetime.fromgregorian(datetime=local)
        text = jalali.strftime("%Y/%m/%d %H:%M" if with_time else "%Y/%m/%d")
        return persian_digits(text)
    return local.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def local_date(value: date | datetime | None) -> date | None:
    """The day a moment falls on in Tehran (a stored UTC instant at 22:00 is already the
    next day there); a plain date is returned as it is."""
    if isinstance(value, datetime):
        if value.tzinfo is None:  # stored UTC without its zone (SQLite)
            value = value.replace(tzinfo=UTC)
        return value.astimezone(CLUB_TIMEZONE).date()
    return value


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
    # Tier changes (backend.engine.tiers.decide_tier).
    (r"upgrade: ([\d,]+) rials in (\d+) purchases over (\d+) days",
     "ارتقا: {0} ریال در {1} خرید طی {2} روز"),
    (r"downgrade: ([\d,]+) rials in (\d+) purchases over (\d+) days",
     "تنزل: {0} ریال در {1} خرید طی {2} روز"),
    (r"segment \w+: rule (\d+) \((.*)\)", "قاعدهٔ بخش‌بندی شمارهٔ {0} ({1})"),
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
