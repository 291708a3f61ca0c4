"""The portal's forms: signing in, joining and codes by SMS, transfers, requests to the
club and the profile. Fields and the forms the panel shares live in `backend.web.fields`."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    TextAreaField,
)
from wtforms.validators import Length, Optional

from backend.web.fields import (
    GENDERS,
    AmountField,
    JalaliDateField,
    MobileField,
    StrippedStringField,
    positive_amount,
    required,
)


class SignInForm(FlaskForm):
    mobile = MobileField(_l("Mobile"), [required()], render_kw={"dir": "ltr",
                                                                 "inputmode": "tel",
                                                                 "autocomplete": "username"})
    password = PasswordField(_l("Password"), [required(), Length(max=256)],
                             render_kw={"autocomplete": "current-password"})


class TransferForm(FlaskForm):
    request_key = StrippedStringField(render_kw={"hidden": True})
    to_member = StrippedStringField(_l("To member (card or mobile)"),
                                    [required(), Length(max=20)], render_kw={"dir": "ltr"})
    amount = AmountField(_l("Amount"), [required(), positive_amount])


class RequestForm(FlaskForm):
    subject = StrippedStringField(_l("Subject"), [required(), Length(max=120)])
    body = TextAreaField(_l("Message"), [required(), Length(max=2000)])


class ProfileForm(FlaskForm):
    birth_date = JalaliDateField(_l("Birth date"), [Optional()])
    gender = SelectField(_l("Gender"), choices=GENDERS, default="")
    city = StrippedStringField(_l("City"), [Optional(), Length(max=64)])
    email = StrippedStringField(_l("Email"), [Optional(), Length(max=254)],
                                render_kw={"dir": "ltr"})
    promotional_opt_out = BooleanField(_l("No promotional messages"))
    message_language = SelectField(_l("Messages in"), choices=[
        SelectChoice("", _l("The club's language")), SelectChoice("fa", "فارسی"),
        SelectChoice("en", "English")], default="")
    current_password = PasswordField(_l("Current password"), [Optional(), Length(max=256)])
    new_password = PasswordField(_l("New password"), [Optional(), Length(max=256)])


CODE_RENDER = {"dir": "ltr", "inputmode": "numeric", "autocomplete": "one-time-code",
               "maxlength": 6}
MOBILE_RENDER = {"dir": "ltr", "inputmode": "tel", "autocomplete": "tel"}


class JoinForm(FlaskForm):
    ref = HiddenField()
    first_name = StrippedStringField(_l("First name"), [required(), Length(max=64)],
                                     render_kw={"autocomplete": "given-name"})
    last_name = StrippedStringField(_l("Last name"), [required(), Length(max=64)],
                                    render_kw={"autocomplete": "family-name"})
    mobile = MobileField(_l("Mobile"), [required()], render_kw=MOBILE_RENDER)


class MobileForm(FlaskForm):
    mobile = MobileField(_l("Mobile"), [required()], render_kw=MOBILE_RENDER)


class CodeForm(FlaskForm):
    code = StrippedStringField(_l("Code sent by SMS"), [required(), Length(max=12)],
                               render_kw=CODE_RENDER)


class CodePasswordForm(CodeForm):
    password = PasswordField(_l("Choose a password"), [required(), Length(max=256)],
                             render_kw={"autocomplete": "new-password"})
