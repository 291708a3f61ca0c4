"""Issue 18 items 8 and 9: every number is a text input that takes the digits a Persian
keyboard types; percentages are typed as percent and kept in basis points."""

import pytest
from flask import g
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms.validators import NumberRange, Optional

from backend import i18n
from backend.web.fields import AmountField, DigitsIntegerField, PercentField


class _Numbers(FlaskForm):
    class Meta:
        csrf = False

    count = DigitsIntegerField("Count", [Optional(), NumberRange(0, 10**9)])
    amount = AmountField("Amount", [Optional()])
    percent = PercentField("Percent", [Optional(), NumberRange(0, 10_000)])


def _form(app, unit="rial", **typed):
    with app.test_request_context(method="POST"):
        g.currency_unit = unit
        form = _Numbers(formdata=MultiDict(typed))
        valid = form.validate()
        return form, valid, {name: form[name]() for name in ("count", "amount", "percent")}


@pytest.mark.parametrize(("typed", "value"), [
    ("۱۰۰۰", 1000), ("١٠٠٠", 1000), ("۱٬۰۰۰", 1000), ("1,000", 1000), ("۱ ۰۰۰", 1000),
    ("۱.۲۵۰.۰۰۰", 1_250_000), ("۱٫۲۵۰٫۰۰۰", 1_250_000), ("  ۴۲ ", 42), ("۱۲,۵۰۰", 12_500),
])
def test_integers_typed_with_persian_digits_and_separators(app, typed, value):
    form, valid, _ = _form(app, count=typed, amount=typed)
    assert valid, form.errors
    assert form.count.data == value
    assert form.amount.data == value


@pytest.mark.parametrize("typed", ["۵,۵", "12.5", "1,2345", "-3", "۱e۳", ",100", "1,,000",
                                   "1,234.567", "۱۲۳۴۵۶۷۸۹۰۱۲۳۴۵۶"])
def test_ambiguous_or_malformed_integers_are_refused_with_a_message(app, typed):
    form, valid, _ = _form(app, count=typed)
    assert not valid
    assert form.count.data is None
    assert form.errors["count"][0]


def test_toman_amounts_keep_a_half_toman(app):
    form, valid, _ = _form(app, unit="toman", amount="۱۲٫۵")
    assert valid and form.amount.data == 125
    form, valid, _ = _form(app, unit="toman", amount="۱۲٫۵۰۰")
    assert valid and form.amount.data == 125_000
    with app.test_request_context():
        g.currency_unit = "toman"
        shown = _Numbers(data={"amount": 125})
        assert 'value="12.5"' in shown.amount()


@pytest.mark.parametrize(("typed", "basis_points"), [
    ("۵", 500), ("۵٫۵", 550), ("5.5", 550), ("۱۲٫۲۵", 1225), ("۱۰٪", 1000), ("٪۱۰", 1000),
    ("10 %", 1000), ("٠٫٠١", 1), ("۱۰۰", 10_000), ("0", 0),
])
def test_percentages_are_typed_as_percent_and_kept_in_basis_points(app, typed, basis_points):
    form, valid, _ = _form(app, percent=typed)
    assert valid, form.errors
    assert form.percent.data == basis_points


@pytest.mark.parametrize("typed", ["۵٫۵۵۵", "۱۰۱", "five", "5,5", "-1"])
def test_bad_percentages_are_refused(app, typed):
    form, valid, _ = _form(app, percent=typed)
    assert not valid and form.errors["percent"]


def test_numeric_fields_render_text_inputs_with_the_digit_keyboard(app):
    _, _, rendered = _form(app, count="۱۰۰۰", amount="۲۵۰٬۰۰۰", percent="۵٫۵")
    for html in rendered.values():
        assert 'type="text"' in html and 'type="number"' not in html
    assert 'inputmode="numeric"' in rendered["count"]
    assert 'inputmode="numeric"' in rendered["amount"]
    assert 'inputmode="decimal"' in rendered["percent"]
    with app.test_request_context():
        form = _Numbers(data={"count": 7, "amount": 1000, "percent": 550})
        assert 'value="5.5"' in form.percent()
        assert 'value="7"' in form.count()


def test_a_field_with_its_own_render_kw_keeps_the_digit_keyboard(app):
    class Own(FlaskForm):
        class Meta:
            csrf = False
        port = DigitsIntegerField("Port", render_kw={"placeholder": "587"})

    with app.test_request_context():
        html = Own().port()
    assert 'inputmode="numeric"' in html and 'placeholder="587"' in html
    assert 'type="text"' in html


@pytest.mark.parametrize(("basis_points", "language", "shown"), [
    (1000, "fa", "۱۰٪"), (550, "fa", "۵٫۵٪"), (1, "fa", "۰٫۰۱٪"), (1000, "en", "10%"),
    (1234567, "en", "12345.67%"), (None, "fa", "۰٪"),
])
def test_percentages_are_shown_as_percent(basis_points, language, shown):
    assert i18n.format_percent(basis_points, language) == shown
