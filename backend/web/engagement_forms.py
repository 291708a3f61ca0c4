"""The panel's forms for news, the FAQ, surveys, happy calls and API tokens (issue 6)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, RadioField, SelectChoice, SelectField, TextAreaField
from wtforms.validators import Length, NumberRange, Optional

from backend.web.forms import (
    DigitsIntegerField,
    JalaliDateField,
    StrippedStringField,
    required,
)


class NewsForm(FlaskForm):
    kind = SelectField(_l("Kind"), choices=[SelectChoice("news", _l("News")),
                                            SelectChoice("event", _l("Event"))])
    title = StrippedStringField(_l("Title"), [required(), Length(max=160)])
    body = TextAreaField(_l("Text"), [Optional(), Length(max=10_000)])
    image = FileField(_l("Image (optional; PNG, JPEG or WebP, at most 1 MB)"))
    event_on = JalaliDateField(_l("Event date (events only)"), [Optional()])
    publish_on = JalaliDateField(_l("Show from (empty: now)"), [Optional()])
    publish_until_on = JalaliDateField(_l("Show until (optional)"), [Optional()])
    tier_codes = StrippedStringField(_l("Tiers (codes, comma separated; empty: all)"),
                                     [Optional(), Length(max=255)])
    is_active = BooleanField(_l("Active"), default=True)


class FaqForm(FlaskForm):
    question = StrippedStringField(_l("Question"), [required(), Length(max=255)])
    answer = TextAreaField(_l("Answer"), [required(), Length(max=10_000)])
    position = DigitsIntegerField(_l("Position (lower first)"), [Optional(),
                                                                 NumberRange(0, 10_000)])
    is_active = BooleanField(_l("Active"), default=True)


class SurveyForm(FlaskForm):
    title = StrippedStringField(_l("Title"), [required(), Length(max=160)])
    description = TextAreaField(_l("Description"), [Optional(), Length(max=2000)])
    questions = TextAreaField(
        _l("Questions, one a line: \"rating: …\", \"choice: … | option, option\" or "
           "\"text: …\""), [required(), Length(max=10_000)])
    is_active = BooleanField(_l("Open for answers"), default=True)


class CallForm(FlaskForm):
    outcome = RadioField(_l("Outcome"), choices=[
        SelectChoice("answered", _l("Answered: survey filled in")),
        SelectChoice("no_answer", _l("No answer")),
        SelectChoice("call_later", _l("Call later"))], default="answered")
    note = TextAreaField(_l("Note"), [Optional(), Length(max=1000)])


class ApiTokenForm(FlaskForm):
    name = StrippedStringField(_l("Name (the system that will use it)"),
                               [required(), Length(max=80)])
    valid_days = DigitsIntegerField(_l("Valid for (days; empty: until revoked)"),
                                    [Optional(), NumberRange(1, 3650)])
