"""The automatic messages: their kinds, placeholders, built-in texts and rendering.

A template is plain text with `{placeholder}` fields (`{{` and `}}` for literal braces).
Admins edit the texts in the panel ("SMS texts"); a text is checked on save (only the
kind's placeholders, no attribute or index access, no format specs), and rendering
looks fields up by their whole name only, so a stored text can never reach into Python
objects. Values are formatted for the message's language: Persian digits, amounts in
the club's unit (rial or toman) and Jalali dates in Persian; Latin digits and Gregorian
dates in English. Codes and card numbers keep Latin digits so phones can copy them.
"""

import string
from dataclasses import dataclass
from datetime import date, datetime

from backend import i18n

LANGUAGES = ("fa", "en")
COMMON_PLACEHOLDERS = ("first_name", "last_name", "club")


@dataclass(frozen=True)
class Kind:
    category: str  # "transactional" or "promotional" (N2)
    placeholders: tuple[str, ...]
    required: tuple[str, ...] = ()
    # Codes go before everything else; promotional messages after transactional ones.
    priority: int = 1
    # Whether the admin may switch it off (a verification code must always go).
    can_disable: bool = True
    needs_member: bool = True


KINDS: dict[str, Kind] = {
    "purchase": Kind("transactional", ("amount", "credit_earned", "points_earned",
                                       "credit_balance", "points_balance", "date")),
    "credit_increase": Kind("transactional", ("amount", "credit_balance", "date")),
    "tier_upgrade": Kind("transactional", ("tier",), required=("tier",)),
    "credit_expiring": Kind("transactional", ("amount", "date"), required=("amount", "date")),
    "points_expiring": Kind("transactional", ("points", "date"), required=("points", "date")),
    "cheque_due": Kind("transactional", ("amount", "date", "bank", "number"),
                       required=("amount", "date")),
    "instalment_due": Kind("transactional", ("amount", "date", "instalment"),
                           required=("amount", "date")),
    "welcome": Kind("transactional", ("card", "portal_url")),
    "birthday": Kind("promotional", (), priority=2),
    "anniversary": Kind("promotional", (), priority=2),
    "otp": Kind("transactional", ("code", "minutes"), required=("code",), priority=0,
                can_disable=False, needs_member=False),
}
# Placeholders a campaign's text may use (its values are the member's at send time).
CAMPAIGN_PLACEHOLDERS = COMMON_PLACEHOLDERS + ("tier", "credit_balance", "points_balance",
                                               "offer", "portal_url")
# How each placeholder's raw value (as stored in the outbox's JSON) is shown.
MONEY = frozenset({"amount", "credit_earned", "credit_balance"})
NUMBERS = frozenset({"points_earned", "points_balance", "minutes", "points"})
DATES = frozenset({"date"})

DEFAULTS: dict[str, dict[str, str]] = {
    "purchase": {
        "fa": "{first_name} عزیز، از خرید {amount} سپاسگزاریم. اعتبار کسب‌شده: "
              "{credit_earned}، امتیاز: {points_earned}. موجودی اعتبار: {credit_balance}\n"
              "{club}",
        "en": "Dear {first_name}, thank you for your purchase of {amount}. You earned "
              "{credit_earned} credit and {points_earned} points. Credit balance: "
              "{credit_balance}.\n{club}",
    },
    "credit_increase": {
        "fa": "{first_name} عزیز، {amount} به اعتبار شما افزوده شد. موجودی اعتبار: "
              "{credit_balance}\n{club}",
        "en": "Dear {first_name}, {amount} was added to your credit. Credit balance: "
              "{credit_balance}.\n{club}",
    },
    "tier_upgrade": {
        "fa": "تبریک {first_name} عزیز! سطح عضویت شما به {tier} ارتقا یافت.\n{club}",
        "en": "Congratulations, {first_name}! You are now a {tier} member.\n{club}",
    },
    "credit_expiring": {
        "fa": "{first_name} عزیز، {amount} از اعتبار شما در تاریخ {date} منقضی می‌شود؛ "
              "پیش از آن از آن استفاده کنید.\n{club}",
        "en": "Dear {first_name}, {amount} of your credit expires on {date}. Use it before "
              "then.\n{club}",
    },
    "points_expiring": {
        "fa": "{first_name} عزیز، {points} امتیاز شما در تاریخ {date} منقضی می‌شود؛ "
              "پیش از آن آن را به اعتبار تبدیل کنید یا جایزه بگیرید.\n{club}",
        "en": "Dear {first_name}, {points} of your points expire on {date}. Convert them "
              "to credit or take a reward before then.\n{club}",
    },
    "cheque_due": {
        "fa": "{first_name} عزیز، چک شماره {number} {bank} به مبلغ {amount} در تاریخ "
              "{date} سررسید می‌شود؛ لطفاً موجودی حساب را تأمین کنید.\n{club}",
        "en": "Dear {first_name}, your cheque no. {number} on {bank} for {amount} is due on "
              "{date}. Please make sure the account is funded.\n{club}",
    },
    "instalment_due": {
        "fa": "{first_name} عزیز، قسط {instalment} شما به مبلغ {amount} در تاریخ {date} "
              "سررسید می‌شود.\n{club}",
        "en": "Dear {first_name}, your instalment {instalment} of {amount} is due on "
              "{date}.\n{club}",
    },
    "welcome": {
        "fa": "{first_name} عزیز، به {club} خوش آمدید. شماره کارت شما: {card}\n"
              "ورود به باشگاه با شماره موبایل و کد پیامکی: {portal_url}",
        "en": "Welcome to {club}, {first_name}. Your card number: {card}\n"
              "Sign in with your mobile number and a code by SMS: {portal_url}",
    },
    "birthday": {
        "fa": "{first_name} عزیز، زادروزتان خجسته باد! سالی سرشار از شادی برایتان "
              "آرزو می‌کنیم.\n{club}",
        "en": "Happy birthday, {first_name}! We wish you a wonderful year.\n{club}",
    },
    "anniversary": {
        "fa": "{first_name} عزیز، سالروز ازدواجتان مبارک! روزهایی پر از شادی برایتان "
              "آرزو می‌کنیم.\n{club}",
        "en": "Happy wedding anniversary, {first_name}! Wishing you many happy years "
              "together.\n{club}",
    },
    "otp": {
        "fa": "کد تأیید {club}: {code}\nاین کد تا {minutes} دقیقه معتبر است.",
        "en": "{club} verification code: {code}\nIt is valid for {minutes} minutes.",
    },
}
assert set(DEFAULTS) == set(KINDS) and all(set(texts) == set(LANGUAGES)
                                           for texts in DEFAULTS.values())

MAX_TEMPLATE_LENGTH = 1000


class TemplateError(ValueError):
    """A text that cannot be used. `msgid` is an English sentence with %(name)s fields,
    translated where it is shown."""

    def __init__(self, msgid: str, **params):
        super().__init__(msgid % params if params else msgid)
        self.msgid, self.params = msgid, params


def allowed_placeholders(kind: str) -> tuple[str, ...]:
    if kind == "campaign":
        return CAMPAIGN_PLACEHOLDERS
    return COMMON_PLACEHOLDERS + KINDS[kind].placeholders


def check(text: str, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> str:
    """Return `text` stripped if it is a usable template, else raise TemplateError."""
    text = text.strip()
    if not text:
        raise TemplateError("Write the text of the message.")
    if len(text) > MAX_TEMPLATE_LENGTH:
        raise TemplateError("A message has at most 1000 characters.")
    used = set()
    try:
        for _literal, field, spec, conversion in string.Formatter().parse(text):
            if field is None:
                continue
            if field not in allowed or spec or conversion:
                raise TemplateError("Unknown placeholder %(name)s.", name="{" + field + "}")
            used.add(field)
    except ValueError as error:
        if isinstance(error, TemplateError):
            raise
        raise TemplateError("A brace is not closed; write {{ and }} for braces.") from None
    missing = [name for name in required if name not in used]
    if missing:
        raise TemplateError("The text must contain %(name)s.", name="{" + missing[0] + "}")
    return text


class _NamesOnly(string.Formatter):
    """Fields are looked up by their whole name: `{a.b}` or `{a[0]}` find nothing."""

    def get_field(self, field_name, args, kwargs):
        return kwargs[field_name], field_name


_FORMATTER = _NamesOnly()


def render(text: str, values: dict[str, str]) -> str:
    """Fill a checked template; raises KeyError or ValueError for a broken one."""
    return _FORMATTER.vformat(text, (), values)


def format_value(name: str, raw, language: str, currency_unit: str) -> str:
    if raw is None:
        return ""
    if isinstance(raw, dict):  # a name per language, e.g. a tier's
        raw = raw.get(language) or raw.get("en") or next(iter(raw.values()), "")
    if name in MONEY:
        return i18n.format_amount(int(raw), language, currency_unit)
    if name in NUMBERS:
        return i18n.format_number(int(raw), language)
    if name in DATES:
        return format_day(raw, language)
    return str(raw)


def format_day(raw, language: str) -> str:
    """An ISO date or aware datetime (string or object) as a local day: Jalali in Persian."""
    if isinstance(raw, str):
        raw = datetime.fromisoformat(raw) if "T" in raw else date.fromisoformat(raw)
    if isinstance(raw, datetime):
        return i18n.format_datetime(raw, language, with_time=False)
    return i18n.format_date(raw, language)


def values_for(params: dict, language: str, currency_unit: str) -> dict[str, str]:
    return {name: format_value(name, raw, language, currency_unit)
            for name, raw in params.items()}


def sample_values(kind: str, language: str, currency_unit: str) -> dict[str, str]:
    """Example values for the panel's preview of a text."""
    fa = language == "fa"
    raw = {
        "first_name": "سارا" if fa else "Sara", "last_name": "احمدی" if fa else "Ahmadi",
        "club": "باشگاه مشتریان وفا" if fa else "Vafa Club",
        "amount": 250_000, "credit_earned": 12_500, "points_earned": 25,
        "credit_balance": 61_875, "points_balance": 125, "date": "2026-11-21",
        "tier": "نقره‌ای" if fa else "silver", "card": "9900010000000019",
        "portal_url": "https://club.example/portal/", "code": "482913", "minutes": 2,
        "points": 300, "number": "1234567890123456",
        "bank": "بانک ملت" if fa else "Bank Mellat",
        "instalment": "۲ از ۶" if fa else "2 of 6",
        "offer": "جشنواره پاییز" if fa else "Autumn sale",
    }
    return {name: format_value(name, raw[name], language, currency_unit)
            for name in allowed_placeholders(kind)}
