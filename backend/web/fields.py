"""Form fields that speak Persian (O4), and the few forms the panel and the portal share.

Every field here accepts Persian (۰–۹), Arabic-Indic (٠–٩) and Latin digits; amounts are
typed in the club's display unit (rial or toman) and stored as integer rials; dates are
typed Jalali (or Gregorian) and stored as Gregorian `date`. Messages are English msgids,
translated when rendered. CSRF comes with FlaskForm.
"""

import re
from datetime import datetime

from flask import g
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    Field,
    HiddenField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, InputRequired, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget, TextInput

from backend.engine.calendar import local_day_end_utc, local_day_start_utc
from backend.i18n import (
    basis_points_text,
    date_input_value,
    format_number,
    localise_digits,
    parse_amount,
    parse_number,
    parse_percent,
)
from backend.validators import (
    MAX_AMOUNT_RIALS,
    normalize_mobile,
    parse_jalali_or_gregorian_date,
    parse_national_code,
)
from card_spec import CardNumberError, normalize_digits, parse_card_number


def display_unit() -> str:
    return g.get("currency_unit", "rial")


def display_language() -> str:
    return g.get("language", "fa")


def shown_number(value) -> str:
    """A number or a run of digits for a message (a flash, an error) in the reader's
    digits: ۱۲٬۰۰۰ and ۹۹۰۰۰۱… in Persian."""
    if isinstance(value, int):
        return format_number(value, display_language())
    return localise_digits(str(value), display_language())


class StrippedStringField(StringField):
    """Text with surrounding spaces and control characters removed."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None:
            self.data = "".join(ch for ch in self.data if ch >= " " or ch in "\n\t").strip()


# Numbers are text inputs, never type=number: browsers drop Persian digits typed into a
# number input (the field arrives empty). inputmode still brings up the digit keyboard.
NUMERIC_INPUT = {"dir": "ltr", "inputmode": "numeric", "autocomplete": "off"}
DECIMAL_INPUT = {"dir": "ltr", "inputmode": "decimal", "autocomplete": "off"}

# Parse messages of backend.i18n.parse_number, translated when the field shows them.
_PARSE_MESSAGES = {
    "Enter a whole number.": _l("Enter a whole number."),
    "Enter a number.": _l("Enter a number."),
    "Digits are grouped by three, like 1,250,000.":
        _l("Digits are grouped by three, like 1,250,000."),
    "That amount is too large.": _l("That amount is too large."),
    "Enter a percentage like 5 or 5.5.": _l("Enter a percentage like 5 or 5.5."),
}


def _parse_error(error: ValueError) -> ValueError:
    return ValueError(_PARSE_MESSAGES.get(str(error), _l("Enter a whole number.")))


def _text_input_kwargs(kwargs: dict, defaults: dict) -> dict:
    """The field's own render_kw on top of the numeric defaults (a field that passes
    dir or placeholder keeps inputmode)."""
    kwargs["render_kw"] = {**defaults, **(kwargs.get("render_kw") or {})}
    kwargs["widget"] = TextInput()
    return kwargs


class DigitsIntegerField(IntegerField):
    """An integer typed with any digits (۱۲۳, ١٢٣, 123) and optional thousands separators
    (۱٬۰۰۰, 1,000, ۱ ۰۰۰); a text input with the numeric keyboard."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **_text_input_kwargs(kwargs, NUMERIC_INPUT))

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            self.data = parse_number(valuelist[0])
        except ValueError as error:
            self.data = None
            raise _parse_error(error) from None


class AmountField(Field):
    """Money typed in the display unit, kept as integer rials."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **_text_input_kwargs(kwargs, NUMERIC_INPUT))

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        if display_unit() == "toman":
            whole, rials = divmod(self.data, 10)
            return f"{whole}.{rials}" if rials else str(whole)
        return str(self.data)

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            value = parse_amount(valuelist[0], display_unit())
        except ValueError as error:
            self.data = None
            raise _parse_error(error) from None
        if value > MAX_AMOUNT_RIALS:
            self.data = None
            raise ValueError(_l("That amount is too large."))
        self.data = value


class PercentField(Field):
    """A percentage typed as people write it (۵, ۵٫۵, 12.25, ۱۰٪), kept as integer basis
    points: `form.field.data` is 550 for ۵٫۵. Validators (NumberRange) see basis points."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **_text_input_kwargs(kwargs, DECIMAL_INPUT))

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else basis_points_text(self.data)

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            self.data = parse_percent(valuelist[0])
        except ValueError as error:
            self.data = None
            raise _parse_error(error) from None


class JalaliDateField(Field):
    """A date typed Jalali (۱۴۰۵/۰۸/۳۰) or Gregorian (2026-11-21); shown in the user's
    calendar. The browser tests type Persian digits into it."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("render_kw", {"placeholder": "1405/08/30", "dir": "ltr",
                                        "autocomplete": "off", "data-jalali": "1"})
        super().__init__(label, validators, **kwargs)

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return date_input_value(self.data, display_language())

    def process_formdata(self, valuelist):
        if not valuelist or not valuelist[0].strip():
            self.data = None
            return
        try:
            self.data = parse_jalali_or_gregorian_date(valuelist[0])
        except ValueError:
            self.data = None
            raise ValueError(_l("Enter a date like 1405/08/30.")) from None

    def as_utc_start_of_day(self) -> datetime | None:
        """The first instant of the typed Tehran day, in UTC (for a start)."""
        return None if self.data is None else local_day_start_utc(self.data)

    def as_utc_end_of_day(self) -> datetime | None:
        """The last instant of the typed Tehran day, in UTC (for an end or an expiry: the
        typed day is included)."""
        return None if self.data is None else local_day_end_utc(self.data)


class MobileField(StrippedStringField):
    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data:
            try:
                self.data = normalize_mobile(self.data)
            except ValueError:
                raise ValueError(_l("A mobile number looks like 09121234567.")) from None


class NationalCodeField(StrippedStringField):
    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data:
            try:
                self.data = parse_national_code(self.data)
            except ValueError:
                raise ValueError(_l("This national code is not valid.")) from None


class CardNumberField(StrippedStringField):
    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "numeric", "dir": "ltr",
                                        "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data:
            try:
                self.data = parse_card_number(self.data)
            except CardNumberError:
                raise ValueError(_l("A card number has 16 digits and a valid check digit.")
                                 ) from None


class PhoneField(StrippedStringField):
    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data:
            digits = normalize_digits(self.data).replace(" ", "").replace("-", "")
            if not digits.lstrip("+").isdigit() or not 4 <= len(digits) <= 16:
                raise ValueError(_l("Enter a phone number."))
            self.data = digits


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def split_list(text: str | None) -> list[str]:
    """Items typed with commas between them: the Latin comma or the Persian one (،, what
    the Persian keyboard types), surrounding spaces dropped, empty items skipped."""
    return [item.strip() for item in re.split(r"[,،]", text or "") if item.strip()]


def required():
    return DataRequired(message=_l("This field is required."))


def typed():
    """Required, keeping the field's own parse error (a date or amount that was typed
    but cannot be read says so, not "required")."""
    return InputRequired(message=_l("This field is required."))


# The choices of `validators.GENDERS`, labelled.
GENDERS = [SelectChoice("", "—"), SelectChoice("f", _l("Female")), SelectChoice("m", _l("Male"))]


# The Iranian week, Saturday first (engine.calendar.iranian_weekday's numbering).
WEEKDAY_NAMES = (_l("Saturday"), _l("Sunday"), _l("Monday"), _l("Tuesday"),
                 _l("Wednesday"), _l("Thursday"), _l("Friday"))


def positive_amount(form, field):
    if field.data is not None and field.data <= 0:
        raise ValidationError(_l("Enter an amount above zero."))


class ConvertPointsForm(FlaskForm):
    request_key = HiddenField()
    points = DigitsIntegerField(_l("Points to convert"), [required(), NumberRange(1, 10**12)],
                                render_kw={"inputmode": "numeric", "dir": "ltr"})


class RedeemRewardForm(FlaskForm):
    request_key = HiddenField()
    reward_id = SelectField(_l("Reward"), coerce=int, validate_choice=False)
    gift_card_number = CardNumberField(_l("Gift card number (gift cards only)"), [Optional()])
