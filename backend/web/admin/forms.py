"""The panel's forms, every one of them: members and the counter, tiers, offers and the
catalogue, settings, staff, the service desk, the import, terminals (their money policy
and remote settings) and card batches, engagement (news, the FAQ, surveys, happy calls,
API tokens; issue 6), messages and campaigns, cheques and instalment plans, the first-run
setup and firmware builds. The fields live in `backend.web.fields`."""

import dataclasses

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    Field,
    HiddenField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    Email,
    EqualTo,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)
from wtforms.widgets import TextInput

from backend.i18n import (
    basis_points_text,
    parse_amount,
    parse_number,
    parse_percent,
)
from backend.validators import (
    MAX_AMOUNT_RIALS,
    WEIGHT_MAX_KG,
    WEIGHT_MIN_KG,
)
from backend.web.fields import (
    DECIMAL_INPUT,
    GENDERS,
    WEEKDAY_NAMES,
    AmountField,
    CardNumberField,
    DigitsIntegerField,
    JalaliDateField,
    MobileField,
    MultiCheckboxField,
    NationalCodeField,
    PercentField,
    PhoneField,
    StrippedStringField,
    _parse_error,
    _text_input_kwargs,
    display_unit,
    positive_amount,
    required,
    typed,
)
from card_spec import normalize_digits


class LoginForm(FlaskForm):
    username = StrippedStringField(_l("Username"), [required(), Length(max=64)])
    password = PasswordField(_l("Password"), [required(), Length(max=256)])


class MemberForm(FlaskForm):
    first_name = StrippedStringField(_l("First name"), [required(), Length(max=64)])
    last_name = StrippedStringField(_l("Last name"), [required(), Length(max=64)])
    mobile = MobileField(_l("Mobile"), [required()], render_kw={"dir": "ltr",
                                                                 "inputmode": "tel"})
    card_number = CardNumberField(_l("Card number"), [Optional()])
    national_code = NationalCodeField(_l("National code"), [Optional()],
                                      render_kw={"dir": "ltr", "inputmode": "numeric"})
    gender = SelectField(_l("Gender"), choices=GENDERS, validate_choice=True)
    birth_date = JalaliDateField(_l("Birth date"), [Optional()])
    wedding_date = JalaliDateField(_l("Wedding anniversary"), [Optional()])
    referrer = StrippedStringField(_l("Referrer (card or mobile)"), [Optional(), Length(max=20)])
    province = StrippedStringField(_l("Province"), [Optional(), Length(max=64)])
    city = StrippedStringField(_l("City"), [Optional(), Length(max=64)])
    neighbourhood = StrippedStringField(_l("Neighbourhood"), [Optional(), Length(max=64)])
    address = TextAreaField(_l("Address"), [Optional(), Length(max=500)])
    email = StrippedStringField(_l("Email"), [
        Optional(), Email(message=_l("Enter an email address.")), Length(max=254)])
    home_phone = PhoneField(_l("Home phone"), [Optional()])
    work_phone = PhoneField(_l("Work phone"), [Optional()])
    father_name = StrippedStringField(_l("Father's name"), [Optional(), Length(max=64)])
    job = StrippedStringField(_l("Job"), [Optional(), Length(max=64)])
    weight_kg = DigitsIntegerField(_l("Weight (kg)"), [Optional(),
                                  NumberRange(WEIGHT_MIN_KG, WEIGHT_MAX_KG)])
    favourite_colour = StrippedStringField(_l("Favourite colour"), [Optional(), Length(max=32)])
    home_branch_id = SelectField(_l("Home branch"), coerce=int, validate_choice=True, default=0)
    promotional_opt_out = BooleanField(_l("No promotional messages"))
    notes = TextAreaField(_l("Notes"), [Optional(), Length(max=2000)])


class CounterPurchaseForm(FlaskForm):
    request_key = HiddenField()
    amount = AmountField(_l("Purchase amount (empty with item lines: their total)"),
                         [Optional()])
    use_credit = AmountField(_l("Pay with credit (0 for none)"), [Optional()])
    use_all_credit = BooleanField(_l("Use as much credit as allowed"))


# Item lines of the counter's purchase form (issue 18 item 2): repeated inputs named
# item_sku, item_qty and item_price, one of each per line, so the form works without
# JavaScript (lines are added and removed by a round trip that keeps what was typed).
ITEM_LINE_FIELDS = ("item_sku", "item_qty", "item_price")
MAX_FORM_LINES = 60  # rows read from one post; the service refuses more than 50 lines


@dataclasses.dataclass
class ItemRow:
    """One line as typed, with its parse errors and (once looked up) its product."""

    sku: str = ""
    qty: str = ""
    price: str = ""
    errors: dict = dataclasses.field(default_factory=dict)
    product: object = None
    suggestions: list = dataclasses.field(default_factory=list)

    @property
    def blank(self) -> bool:
        return not (self.sku.strip() or self.qty.strip() or self.price.strip())

    def error(self, name: str, message) -> None:
        self.errors.setdefault(name, []).append(message)

    def parsed(self):
        """(quantity, unit price in rials or None), or None with the errors noted."""
        quantity, price = 1, None
        if not self.sku.strip():
            self.error("sku", _l("Choose a product by its code or name."))
        if self.qty.strip():
            try:
                quantity = parse_number(self.qty)
            except ValueError as error:
                self.error("quantity", _parse_error(error).args[0])
        if self.price.strip():
            try:
                price = parse_amount(self.price, display_unit())
            except ValueError as error:
                self.error("price", _parse_error(error).args[0])
        return None if self.errors else (quantity, price)


def item_rows(formdata, *, drop: int | None = None, add: bool = False,
              pick: tuple[int, str] | None = None) -> list[ItemRow]:
    """The lines a purchase form carried, at most MAX_FORM_LINES; `drop` removes a
    line (its "Remove" button), `add` appends an empty one, `pick` (line, SKU) puts a
    suggested product on a line. Always at least one line."""
    columns = [formdata.getlist(name)[:MAX_FORM_LINES] for name in ITEM_LINE_FIELDS]
    count = max((len(column) for column in columns), default=0)
    rows = [ItemRow(*(column[index].strip()[:64] if index < len(column) else ""
                      for column in columns)) for index in range(count)]
    if drop is not None and 0 <= drop < len(rows):
        del rows[drop]
    if pick is not None and 0 <= pick[0] < len(rows):
        rows[pick[0]].sku, rows[pick[0]].price = pick[1][:64], ""
    if add or not rows:
        rows.append(ItemRow())
    return rows


def shown_amount(rials: int) -> str:
    """An amount as an input shows it, in the display unit (toman with one decimal)."""
    if display_unit() == "toman":
        whole, rest = divmod(rials, 10)
        return f"{whole}.{rest}" if rest else str(whole)
    return str(rials)


class AmountReasonForm(FlaskForm):
    request_key = HiddenField()
    amount = AmountField(_l("Amount"), [required()])
    reason = StrippedStringField(_l("Reason"), [Optional(), Length(max=200)])
    expires_on = JalaliDateField(_l("Expires on (optional)"), [Optional()])


class TransferForm(FlaskForm):
    request_key = HiddenField()
    to_member = StrippedStringField(_l("To member (card or mobile)"), [required(), Length(max=20)])
    amount = AmountField(_l("Amount"), [required()])


class RefundForm(FlaskForm):
    request_key = HiddenField()
    purchase_id = HiddenField()
    amount = AmountField(_l("Amount to refund (empty: the whole purchase)"), [Optional()])


class ReplaceCardForm(FlaskForm):
    lost_card = SelectField(_l("Lost card"), validate_choice=True)
    new_card_number = CardNumberField(_l("New card number"), [required()])


class TierForm(FlaskForm):
    code = StrippedStringField(_l("Code"), [required(), Length(max=32)])
    name = StrippedStringField(_l("Name (English)"), [required(), Length(max=64)])
    name_fa = StrippedStringField(_l("Name (Persian)"), [Optional(), Length(max=64)])
    rank = DigitsIntegerField(_l("Rank (higher is better)"), [Optional(), NumberRange(0, 1000)])
    credit_percent = PercentField(_l("Credit back (%)"), [Optional(), NumberRange(0, 10000)])
    discount_percent = PercentField(_l("Discount (%)"), [Optional(), NumberRange(0, 10000)])
    points_per_step = DigitsIntegerField(_l("Points per step"), [Optional(), NumberRange(0, 10**6)])
    point_step = AmountField(_l("Step amount"), [required()])
    min_spend = AmountField(_l("Minimum spend to qualify"), [Optional()])
    min_purchases = DigitsIntegerField(_l("Minimum purchases to qualify"),
                                       [Optional(), NumberRange(0, 10**6)])
    qualify_mode = SelectField(_l("Qualify by"), choices=[
        SelectChoice("all", _l("both thresholds")), SelectChoice("any", _l("either threshold"))])
    max_credit_per_invoice = AmountField(_l("Most credit per invoice"), [Optional()])
    max_credit_per_day = AmountField(_l("Most credit per day"), [Optional()])


REWARD_KINDS = [
    SelectChoice("percent_discount", _l("Percent discount")),
    SelectChoice("fixed_discount", _l("Fixed discount")),
    SelectChoice("bonus_points", _l("Bonus points")),
    SelectChoice("bonus_credit", _l("Bonus credit")),
    SelectChoice("gift_credit", _l("Gift credit with expiry")),
]
MONEY_REWARDS = ("fixed_discount", "bonus_credit", "gift_credit")


class RewardValueField(Field):
    """An offer's reward value, typed the way its kind reads: a percentage for a percent
    discount (kept as basis points), an amount in the display unit for discounts and
    credit (kept as rials), a count for points. The kind is the form's `reward_kind`."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, **_text_input_kwargs(kwargs, DECIMAL_INPUT))
        self.kind_of = lambda: None  # set by the form: the chosen reward kind

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        kind = self.kind_of()
        if kind == "percent_discount":
            return basis_points_text(self.data)
        if kind in MONEY_REWARDS and display_unit() == "toman":
            whole, rials = divmod(self.data, 10)
            return f"{whole}.{rials}" if rials else str(whole)
        return str(self.data)

    def process_formdata(self, valuelist):
        self.data = None  # parsed in pre_validate, once the kind is known

    def pre_validate(self, form):
        typed = self.raw_data[0].strip() if self.raw_data else ""
        if not typed:
            self.data = None
            raise ValidationError(_l("This field is required."))
        kind = form.reward_kind.data
        try:
            if kind == "percent_discount":
                self.data = parse_percent(typed)
            elif kind in MONEY_REWARDS:
                self.data = parse_amount(typed, display_unit())
            else:
                self.data = parse_number(typed)
        except ValueError as error:
            self.data = None
            raise ValidationError(_parse_error(error).args[0]) from None
        if kind == "percent_discount" and self.data > 10_000:
            raise ValidationError(_l("At most 100%."))
        if self.data > MAX_AMOUNT_RIALS:
            raise ValidationError(_l("That amount is too large."))


class TimeOfDayField(StrippedStringField):
    """A time of day typed as hour:minute in any digits (۱۷:۳۰, 17:30, ۱۷); kept as
    minutes after midnight."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "numeric", "dir": "ltr",
                                        "placeholder": "۱۷:۰۰"})
        super().__init__(label, validators, **kwargs)

    def _value(self):
        if isinstance(self.data, int):
            return f"{self.data // 60:02d}:{self.data % 60:02d}"
        return self.data or ""

    def process_formdata(self, valuelist):
        text = normalize_digits((valuelist[0] if valuelist else "").strip())
        text = text.replace("٫", ":").replace(".", ":").replace("：", ":")
        if not text:
            self.data = None
            return
        hour, _, minute = text.partition(":")
        if not (hour.isdigit() and (minute.isdigit() or minute == "")
                and int(hour) < 24 and int(minute or 0) < 60):
            self.data = None
            raise ValueError(_l("Type a time such as 17:30."))
        self.data = int(hour) * 60 + int(minute or 0)


class OfferForm(FlaskForm):
    name = StrippedStringField(_l("Name"), [required(), Length(max=120)])
    is_active = BooleanField(_l("Active"), default=True)
    priority = DigitsIntegerField(_l("Priority (lower applies first)"),
                                  [Optional(), NumberRange(0, 10000)])
    exclusive = BooleanField(_l("Exclusive (no other offer with it)"))
    max_uses_per_member = DigitsIntegerField(_l("Most uses per member"),
                                             [Optional(), NumberRange(1, 10**6)])
    reward_kind = SelectField(_l("Reward"), choices=REWARD_KINDS)
    reward_value = RewardValueField(_l("Reward value (percent, amount or points)"))
    reward_expiry_days = DigitsIntegerField(_l("Reward expires after (days)"),
                                            [Optional(), NumberRange(1, 3650)])
    min_days_since_last_visit = DigitsIntegerField(_l("Days since last visit at least"),
                                                   [Optional(), NumberRange(1, 3650)])
    min_visit_number = DigitsIntegerField(_l("From visit number"), [Optional(),
                                                                    NumberRange(1, 10**6)])
    max_visit_number = DigitsIntegerField(_l("Up to visit number"), [Optional(),
                                                                     NumberRange(1, 10**6)])
    min_amount = AmountField(_l("Purchase of at least"), [Optional()])
    birthday_window_days = DigitsIntegerField(_l("Birthday: days either side"),
                                              [Optional(), NumberRange(0, 60)])
    anniversary_window_days = DigitsIntegerField(_l("Anniversary: days either side"),
                                                 [Optional(), NumberRange(0, 60)])
    starts_on = JalaliDateField(_l("Starts on"), [Optional()])
    ends_on = JalaliDateField(_l("Ends on"), [Optional()])
    tier_codes = StrippedStringField(_l("Tiers (codes, comma separated; empty: all)"),
                                     [Optional(), Length(max=255)])
    first_purchase_only = BooleanField(_l("First purchase only"))
    # L7: weekdays (Saturday first) and a happy hour, in Tehran time.
    weekdays = MultiCheckboxField(_l("Only on these days (none: every day)"),
                                  choices=[SelectChoice(str(day), name) for day, name in
                                           enumerate(WEEKDAY_NAMES)])
    from_time = TimeOfDayField(_l("From (hour:minute)"), [Optional()])
    until_time = TimeOfDayField(_l("Until (hour:minute)"), [Optional()])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reward_value.kind_of = lambda: self.reward_kind.data


class ProductForm(FlaskForm):
    sku = StrippedStringField(_l("SKU"), [required(), Length(max=32)])
    name = StrippedStringField(_l("Name"), [required(), Length(max=120)])
    price = AmountField(_l("Price"), [Optional()])
    points_per_unit = DigitsIntegerField(_l("Points per unit"), [Optional(), NumberRange(0, 10**6)])
    discount_percent = PercentField(_l("Discount (%)"), [Optional(), NumberRange(0, 10000)])
    extra_credit_per_unit = AmountField(_l("Extra credit per unit"), [Optional()])
    stock = DigitsIntegerField(_l("Stock (empty: not tracked)"), [Optional(),
                                                                  NumberRange(0, 10**9)])
    is_active = BooleanField(_l("Active"), default=True)


class BranchForm(FlaskForm):
    code = StrippedStringField(_l("Code"), [required(), Length(max=32)])
    name = StrippedStringField(_l("Name"), [required(), Length(max=120)])
    phone = PhoneField(_l("Phone"), [Optional()])
    address = TextAreaField(_l("Address"), [Optional(), Length(max=500)])
    is_active = BooleanField(_l("Active"), default=True)


class MemberFieldForm(FlaskForm):
    key = StrippedStringField(_l("Key (latin letters)"), [required(), Length(max=32)])
    label = StrippedStringField(_l("Label (English)"), [required(), Length(max=64)])
    label_fa = StrippedStringField(_l("Label (Persian)"), [Optional(), Length(max=64)])
    kind = SelectField(_l("Kind"), choices=[
        SelectChoice("text", _l("Text")), SelectChoice("number", _l("Number")),
        SelectChoice("date", _l("Date")), SelectChoice("choice", _l("Choice"))])
    choices = StrippedStringField(_l("Choices (comma separated)"), [Optional(), Length(max=500)])
    required = BooleanField(_l("Required"))
    is_active = BooleanField(_l("Active"), default=True)
    position = DigitsIntegerField(_l("Position"), [Optional(), NumberRange(0, 1000)])


class StaffForm(FlaskForm):
    username = StrippedStringField(_l("Username"), [required(), Length(max=64)])
    full_name = StrippedStringField(_l("Full name"), [required(), Length(max=120)])
    role = SelectField(_l("Role"), choices=[SelectChoice("operator", _l("Operator")),
                                            SelectChoice("admin", _l("Admin"))])
    branch_id = SelectField(_l("Branch"), coerce=lambda v: int(v) if v not in ("", None) else None)
    permissions = MultiCheckboxField(_l("Permissions"))
    locale = SelectField(_l("Language"), choices=[SelectChoice("fa", "فارسی"),
                                                  SelectChoice("en", "English")])
    is_active = BooleanField(_l("Active"), default=True)
    password = PasswordField(_l("Password (empty: unchanged)"), [Optional(), Length(max=256)])


class SettingsForm(FlaskForm):
    name = StrippedStringField(_l("Club name (English)"), [required(), Length(max=120)])
    name_fa = StrippedStringField(_l("Club name (Persian)"), [Optional(), Length(max=120)])
    currency_display = SelectField(_l("Show amounts in"), choices=[
        SelectChoice("rial", _l("Rial")), SelectChoice("toman", _l("Toman"))])
    point_value = AmountField(_l("Value of one point"), [Optional()])
    offline_window_days = DigitsIntegerField(_l("Offline window (days)"),
                                             [required(), NumberRange(1, 60)])
    tier_window_days = DigitsIntegerField(_l("Tier window (days)"),
                                          [required(), NumberRange(1, 3650)])
    instant_cashback = BooleanField(_l("Give the tier's credit as an instant discount"))
    credit_cross_branch = BooleanField(_l("Credit earned at one branch is spendable at all"))
    welcome_credit = AmountField(_l("Welcome credit for new members"), [Optional()])
    referral_join_bonus = AmountField(_l("Referrer's bonus when a friend joins"), [Optional()])
    referral_first_purchase_bonus = AmountField(_l("Referrer's bonus on the first purchase"),
                                                [Optional()])
    referral_commission_bp = PercentField(_l("Referrer's commission (%)"),
                                          [Optional(), NumberRange(0, 10000)])
    max_transfer = AmountField(_l("Most credit per transfer (0: no transfers)"), [Optional()])
    max_transfer_per_day = AmountField(_l("Most credit transferred per day"), [Optional()])
    contact_phone = PhoneField(_l("Contact phone"), [Optional()])
    contact_address = TextAreaField(_l("Contact address"), [Optional(), Length(max=500)])
    instagram = StrippedStringField(_l("Instagram link"), [Optional(), Length(max=200)])
    telegram = StrippedStringField(_l("Telegram link"), [Optional(), Length(max=200)])
    website = StrippedStringField(_l("Website"), [Optional(), Length(max=200)])
    # L1: points.
    points_min_convert = DigitsIntegerField(_l("Fewest points converted at once"),
                                            [Optional(), NumberRange(0, 10**9)])
    points_expiry_days = DigitsIntegerField(_l("Points expire after (days; empty: never)"),
                                            [Optional(), NumberRange(1, 3650)])
    # P2: the reward for completing the profile.
    profile_reward_kind = SelectField(_l("Reward for completing the profile"), choices=[
        SelectChoice("none", _l("None")), SelectChoice("credit", _l("Credit")),
        SelectChoice("points", _l("Points"))], default="none")
    profile_reward_credit = AmountField(_l("Profile reward: credit"), [Optional()])
    profile_reward_points = DigitsIntegerField(_l("Profile reward: points"),
                                               [Optional(), NumberRange(0, 10**9)])
    # L7: points multiplier per weekday, in percent (100: normal, 200: double; empty: 100).
    weekday_0 = DigitsIntegerField(_l("Points on Saturday (%)"), [Optional(), NumberRange(0, 1000)])
    weekday_1 = DigitsIntegerField(_l("Points on Sunday (%)"), [Optional(), NumberRange(0, 1000)])
    weekday_2 = DigitsIntegerField(_l("Points on Monday (%)"), [Optional(), NumberRange(0, 1000)])
    weekday_3 = DigitsIntegerField(_l("Points on Tuesday (%)"), [Optional(), NumberRange(0, 1000)])
    weekday_4 = DigitsIntegerField(_l("Points on Wednesday (%)"),
                                   [Optional(), NumberRange(0, 1000)])
    weekday_5 = DigitsIntegerField(_l("Points on Thursday (%)"),
                                   [Optional(), NumberRange(0, 1000)])
    weekday_6 = DigitsIntegerField(_l("Points on Friday (%)"), [Optional(), NumberRange(0, 1000)])


REWARD_CATALOGUE_KINDS = [
    SelectChoice("discount", _l("Credit in the wallet (a fixed discount)")),
    SelectChoice("product", _l("A product")),
    SelectChoice("gift_card", _l("A gift card (at the counter)")),
]


class RewardForm(FlaskForm):
    name = StrippedStringField(_l("Name"), [required(), Length(max=120)])
    kind = SelectField(_l("Reward"), choices=REWARD_CATALOGUE_KINDS)
    points_cost = DigitsIntegerField(_l("Points it costs"), [required(), NumberRange(1, 10**9)])
    value = AmountField(_l("Credit or gift card value"), [Optional()])
    product_id = SelectField(_l("Product"), coerce=lambda v: int(v) if v not in ("", None)
                             else None, validate_choice=False)
    valid_days = DigitsIntegerField(_l("Gift card valid for (days)"),
                                    [Optional(), NumberRange(1, 3650)])
    stock = DigitsIntegerField(_l("Stock (empty: unlimited)"), [Optional(),
                                                                NumberRange(0, 10**9)])
    is_active = BooleanField(_l("Active"), default=True)


class GiftCardForm(FlaskForm):
    card_number = CardNumberField(_l("Card number"), [required()])
    value = AmountField(_l("Value"), [required()])
    expires_on = JalaliDateField(_l("Expires on"), [required()])


class OwnPasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), [required(), Length(max=256)])
    new_password = PasswordField(_l("New password"), [required(), Length(max=256)])


class TierGrantForm(FlaskForm):
    request_key = HiddenField()
    tier_id = SelectField(_l("Tier"), coerce=int, validate_choice=True)
    amount = AmountField(_l("Amount for each member"), [required(), positive_amount])
    reason = StrippedStringField(_l("Reason"), [required(), Length(max=200)])
    expires_on = JalaliDateField(_l("Expires on (optional)"), [Optional()])


class AnswerForm(FlaskForm):
    answer = TextAreaField(_l("Answer"), [required(), Length(max=2000)])


class ImportUploadForm(FlaskForm):
    """M3: the filled-in template; the member import service checks the file itself."""

    file = FileField(_l("Filled-in template (.xlsx)"),
                     [FileRequired(message=_l("Choose a file."))],
                     render_kw={"accept": ".xlsx,application/vnd.openxmlformats-officedocument"
                                          ".spreadsheetml.sheet"})


class ImportCommitForm(FlaskForm):
    # Names the rows the preview showed; the commit refuses when they changed.
    digest = HiddenField()
    give_welcome_credit = BooleanField(_l("Give each imported member the welcome credit"))


class ImportDiscardForm(FlaskForm):
    """Import none of the rows (the CSRF token is its only field)."""


TERMINAL_COMMANDS = [SelectChoice("display", _l("Show a message on its screen")),
                     SelectChoice("config", _l("Reload its config file")),
                     SelectChoice("reboot", _l("Restart it (after the sale in progress)"))]


class TerminalCommandForm(FlaskForm):
    operation = SelectField(_l("Command"), choices=TERMINAL_COMMANDS, validate_choice=True)
    # Checked line by line by backend.services.terminal_commands (8 lines of 32).
    text = TextAreaField(_l("Message (Persian or Latin, up to 8 lines of 32 characters)"),
                         [Length(max=300)], render_kw={"dir": "auto", "rows": 4})


class CardBatchForm(FlaskForm):
    count = DigitsIntegerField(_l("Number of cards"), [required(), NumberRange(1, 1_000)],
                               render_kw={"dir": "ltr", "inputmode": "numeric"})
    prefix = StrippedStringField(_l("Issuer prefix"), [required(), Length(max=6)],
                                 render_kw={"dir": "ltr", "inputmode": "numeric"})
    label = StrippedStringField(_l("Label"), [Optional(), Length(max=120)])


# A PIN typed once and never shown again; any digits (۱۲۳۴, ١٢٣٤, 1234), checked by
# backend.services.terminal_policy.hash_pin.
_PIN = {"dir": "ltr", "inputmode": "numeric", "autocomplete": "new-password", "maxlength": 16}


class TerminalSettingsForm(FlaskForm):
    """Issue 17 item 5, issue 15 item 8: what a terminal may do with money."""

    topup_allowed = BooleanField(_l("Top-ups allowed on this terminal"))
    topup_max_rials = AmountField(_l("Most per top-up"), [Optional()])
    topup_max_per_day_rials = AmountField(_l("Most top-ups per day"), [Optional()])
    refund_allowed = BooleanField(_l("Refunds allowed on this terminal"), default=True)
    refund_max_rials = AmountField(_l("Most per refund (empty: no limit)"), [Optional()])
    refund_max_per_day_rials = AmountField(_l("Most refunds per day (empty: no limit)"),
                                           [Optional()])
    refund_window_hours = DigitsIntegerField(
        _l("Refund window in hours (empty: the branch's)"),
        [Optional(), NumberRange(1, 2160)])
    refund_pin = PasswordField(_l("This terminal's own refund PIN, 4 to 8 digits "
                                  "(empty: unchanged)"), [Optional(), Length(max=16)],
                               render_kw=_PIN)
    clear_refund_pin = BooleanField(_l("Use the branch's refund PIN"))


class BranchRefundForm(FlaskForm):
    """The refund PIN and window of a branch: the default of its terminals."""

    refund_window_hours = DigitsIntegerField(_l("Refund window in hours"),
                                             [required(), NumberRange(1, 2160)])
    refund_pin = PasswordField(_l("Refund PIN, 4 to 8 digits (empty: unchanged)"),
                               [Optional(), Length(max=16)], render_kw=_PIN)
    clear_refund_pin = BooleanField(_l("Remove the PIN (refunds are refused until one is "
                                       "set)"))


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


# ---- messages ------------------------------------------------------------------------

LANGUAGE_CHOICES = [SelectChoice("fa", "فارسی"), SelectChoice("en", "English")]


class MessageSettingsForm(FlaskForm):
    sms_provider = SelectField(_l("SMS provider"), choices=[
        SelectChoice("console", _l("Console (writes to a file; sends nothing)")),
        SelectChoice("kavenegar", "Kavenegar")])
    kavenegar_api_key = PasswordField(_l("Kavenegar API key (empty: unchanged)"),
                                      [Optional(), Length(max=128)])
    sms_sender = StrippedStringField(_l("Sender line number"), [Optional(), Length(max=20)],
                                     render_kw={"dir": "ltr"})
    email_provider = SelectField(_l("Email provider"), choices=[
        SelectChoice("console", _l("Console (writes to a file; sends nothing)")),
        SelectChoice("smtp", "SMTP")])
    smtp_host = StrippedStringField(_l("SMTP server"), [Optional(), Length(max=255)],
                                    render_kw={"dir": "ltr"})
    smtp_port = DigitsIntegerField(_l("SMTP port"), [required(), NumberRange(1, 65535)])
    smtp_security = SelectField(_l("SMTP security"), choices=[
        SelectChoice("starttls", "STARTTLS"), SelectChoice("ssl", "SSL/TLS"),
        SelectChoice("none", _l("None"))])
    smtp_username = StrippedStringField(_l("SMTP user name"), [Optional(), Length(max=255)],
                                        render_kw={"dir": "ltr"})
    smtp_password = PasswordField(_l("SMTP password (empty: unchanged)"),
                                  [Optional(), Length(max=255)])
    email_from = StrippedStringField(_l("Sender email address"), [
        Optional(), Email(message=_l("Enter an email address.")), Length(max=254)],
        render_kw={"dir": "ltr"})
    sms_quota = DigitsIntegerField(_l("SMS quota (parts)"), [required(), NumberRange(0, 10**9)])
    sms_promotional_reserve = DigitsIntegerField(
        _l("SMS parts kept for transactional messages"), [required(), NumberRange(0, 10**9)])
    sms_part_price = AmountField(_l("Price of one SMS part"), [Optional()])
    default_language = SelectField(_l("Language of messages"), choices=LANGUAGE_CHOICES)
    expiry_reminder_days = DigitsIntegerField(_l("Remind of expiring credit (days before)"),
                                              [required(), NumberRange(1, 60)])
    instrument_reminder_days = DigitsIntegerField(
        _l("Remind of cheques and instalments due (days before)"),
        [required(), NumberRange(1, 60)])
    holdout_percent = DigitsIntegerField(_l("Hold-out of new campaigns (percent)"),
                                         [required(), NumberRange(0, 50)])


class CampaignForm(FlaskForm):
    request_key = HiddenField()
    name = StrippedStringField(_l("Name"), [required(), Length(max=120)])
    channel = SelectField(_l("Send by"), choices=[SelectChoice("sms", _l("SMS")),
                                                  SelectChoice("email", _l("Email"))])
    language = SelectField(_l("Language of the text"), choices=LANGUAGE_CHOICES)
    body = TextAreaField(_l("Text"), [required(), Length(max=1000)], render_kw={"rows": 4})
    tier_ids = MultiCheckboxField(_l("Tiers (none: all)"), coerce=int)
    branch_id = SelectField(_l("Home branch"), coerce=int, default=0)
    visited_within_days = DigitsIntegerField(_l("Visited in the last … days"),
                                             [Optional(), NumberRange(1, 3650)])
    absent_for_days = DigitsIntegerField(_l("Not visited for … days"),
                                         [Optional(), NumberRange(1, 3650)])
    min_spend = AmountField(_l("Spent at least"), [Optional()])
    max_spend = AmountField(_l("Spent at most"), [Optional()])
    min_purchases = DigitsIntegerField(_l("At least … purchases"),
                                       [Optional(), NumberRange(1, 10**6)])
    birthday_month = SelectField(_l("Birthday month"), coerce=int, default=0)
    lrfm_segments = MultiCheckboxField(_l("LRFM segments (none: any)"))
    audience_rule_id = SelectField(_l("Audience of a segment rule"), coerce=int, default=0)
    holdout_percent = DigitsIntegerField(_l("Hold-out (percent, not sent, for comparison)"),
                                         [Optional(), NumberRange(0, 50)])
    offer_id = SelectField(_l("Linked offer"), coerce=int, default=0)


# ---- instruments ---------------------------------------------------------------------

class ChequeForm(FlaskForm):
    bank = SelectField(_l("Bank"), [required()])
    number = StrippedStringField(_l("Cheque number"), [required(), Length(max=40)],
                                 render_kw={"dir": "ltr", "inputmode": "numeric",
                                            "autocomplete": "off"})
    due_date = JalaliDateField(_l("Due date"), [typed()])
    amount = AmountField(_l("Amount"), [typed()])
    branch_id = SelectField(_l("Branch"), coerce=int)
    purchase_id = DigitsIntegerField(_l("Purchase number (optional)"),
                                     [Optional(), NumberRange(1, 2**31 - 1)])
    note = TextAreaField(_l("Note"), [Optional(), Length(max=500)], render_kw={"rows": 2})


class PlanForm(FlaskForm):
    request_key = HiddenField()
    total = AmountField(_l("Total amount"), [typed()])
    count = DigitsIntegerField(_l("Number of instalments"), [typed(), NumberRange(1, 120)])
    schedule = SelectField(_l("Schedule"), choices=[
        SelectChoice("monthly", _l("Monthly, on the same day of each Jalali month")),
        SelectChoice("days", _l("Every few days"))])
    interval_days = DigitsIntegerField(_l("Days between instalments"),
                                       [Optional(), NumberRange(1, 366)])
    first_due = JalaliDateField(_l("First due date"), [typed()])
    branch_id = SelectField(_l("Branch"), coerce=int)
    purchase_id = DigitsIntegerField(_l("Purchase number (optional)"),
                                     [Optional(), NumberRange(1, 2**31 - 1)])
    note = TextAreaField(_l("Note"), [Optional(), Length(max=500)], render_kw={"rows": 2})


class StatusForm(FlaskForm):
    status = HiddenField()
    note = StrippedStringField(_l("Note (optional)"), [Optional(), Length(max=500)])


# ---- setup ---------------------------------------------------------------------------

class SetupForm(FlaskForm):
    setup_code = StrippedStringField(_l("Setup code"), validators=[DataRequired()])
    name_fa = StrippedStringField(_l("Club name (Persian)"), validators=[Length(max=120)])
    name = StrippedStringField(_l("Club name (English)"),
                               validators=[DataRequired(), Length(max=120)])
    currency_display = SelectField(_l("Show amounts in"), choices=[
        SelectChoice("toman", _l("Toman")), SelectChoice("rial", _l("Rial"))], default="toman")
    logo = FileField(_l("Logo (optional)"))
    branch_name = StrippedStringField(_l("First branch"),
                                      validators=[DataRequired(), Length(max=120)])
    branch_code = StrippedStringField(_l("Branch code"), default="main",
                                      validators=[DataRequired(), Length(max=32)])
    admin_full_name = StrippedStringField(_l("Your name"),
                                          validators=[DataRequired(), Length(max=120)])
    admin_username = StrippedStringField(_l("Username"),
                                         validators=[DataRequired(), Length(max=64)])
    password = PasswordField(_l("Password"), validators=[DataRequired()])
    password_confirm = PasswordField(_l("Password again"), validators=[
        DataRequired(), EqualTo("password", message=_l("The two passwords differ."))])


# ---- firmware ------------------------------------------------------------------------

class UploadForm(FlaskForm):
    build = FileField(_l("Build file (.tar)"), [FileRequired(message=_l("Choose a file."))],
                      render_kw={"accept": ".tar,application/x-tar"})
    note = StringField(_l("Note (optional)"), [Length(max=200)])


class RolloutForm(FlaskForm):
    target = SelectField(_l("Offer it to"), choices=[
        SelectChoice("branch", _l("every terminal of a branch")),
        SelectChoice("terminal", _l("one terminal"))])
    branch_id = SelectField(_l("Branch"), coerce=int, validate_choice=False)
    device_id = StringField(_l("Terminal id"), [Length(max=32)],
                            render_kw={"dir": "ltr", "autocomplete": "off"})


# ---- terminals -----------------------------------------------------------------------

TERMINAL_OPERATIONS = [("purchase", _l("Purchase")), ("lookup", _l("Balance lookup")),
                       ("refund", _l("Refund")), ("credit", _l("Spend credit"))]


class RemoteConfigForm(FlaskForm):
    """Issue 16: the settings a shop changes, delivered to the terminal by a signed cmd."""

    lang = SelectField(_l("Language"), choices=LANGUAGE_CHOICES)
    contrast = DigitsIntegerField(_l("Display contrast (0 to 255)"), [NumberRange(0, 255)],
                                  default=255)
    footer = TextAreaField(_l("Receipt footer"), [Length(max=96)], render_kw={"rows": 2})
    idle_s = DigitsIntegerField(_l("Idle timeout in seconds (10 to 3600)"),
                                [NumberRange(10, 3600)], default=60)
    ops = MultiCheckboxField(_l("What the terminal may do"),
                             choices=[SelectChoice(value, label)
                                      for value, label in TERMINAL_OPERATIONS],
                             default=[value for value, _label in TERMINAL_OPERATIONS])
