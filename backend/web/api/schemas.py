"""marshmallow schemas of the API: what each request may carry and each answer holds.

Every number field also accepts a string of Persian (۰–۹), Arabic-Indic (٠–٩) or ASCII
digits, as every input of Vafa does; strings refuse control characters and invalid
Unicode, so nothing a database would choke on gets past the boundary.
"""

import re

from marshmallow import Schema, fields, validate, validates_schema
from marshmallow import ValidationError as SchemaError

from backend.validators import (
    GENDERS,
    MAX_AMOUNT_RIALS,
    WEIGHT_MAX_KG,
    WEIGHT_MIN_KG,
    parse_jalali_or_gregorian_date,
)
from card_spec import normalize_digits

_DIGITS = re.compile(r"-?\d{1,18}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_ONE_LINE = re.compile(r"[\x00-\x1f\x7f]")


class Integer(fields.Integer):
    """A whole number: a JSON integer, or a string of any of the three digit sets."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            digits = normalize_digits(value.strip())
            if not _DIGITS.fullmatch(digits):
                raise self.make_error("invalid")
            value = int(digits)
        return super()._deserialize(value, attr, data, **kwargs)


class Text(fields.String):
    """Text without control characters (newlines and tabs only where `multiline`),
    stripped of surrounding space."""

    def __init__(self, *, multiline: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.multiline = multiline

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise SchemaError("Not valid text.") from None
        pattern = _CONTROL if self.multiline else _CONTROL_ONE_LINE
        if pattern.search(text):
            raise SchemaError("Control characters are not allowed.")
        return text.strip()


class JalaliOrIsoDate(fields.Date):
    """A date as `1405/08/30` (Jalali) or `2026-11-21`, in any digits; answers are ISO."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str):
            raise self.make_error("invalid")
        try:
            return parse_jalali_or_gregorian_date(value)
        except ValueError as error:
            raise SchemaError(str(error)) from None


def rials(**kwargs):
    return Integer(validate=validate.Range(min=1, max=MAX_AMOUNT_RIALS), **kwargs)


# ---- shared --------------------------------------------------------------------------

class ErrorSchema(Schema):
    error = fields.String(required=True, metadata={"description": "A code from the list in "
                                                                   "the document's info."})
    message = fields.String(required=True, metadata={"description": "For developers, in "
                                                                     "English."})
    field = fields.String(metadata={"description": "The request field (or header) at fault."})
    cap = fields.String(validate=validate.OneOf(["daily", "per-invoice"]), metadata={
        "description": "LIMIT from a tier's credit cap: which cap refused the spend."})
    allowed_rials = fields.Integer(metadata={
        "description": "LIMIT from a credit cap: the credit that cap still allows here."})


class PageQuery(Schema):
    page = Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    per_page = Integer(load_default=20, validate=validate.Range(min=1, max=100))


class TierRef(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    name_fa = fields.String()


class CardOut(Schema):
    number = fields.String()
    status = fields.String(validate=validate.OneOf(["active", "blocked"]))


# ---- tokens --------------------------------------------------------------------------

class StaffLoginIn(Schema):
    username = Text(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class MemberLoginIn(Schema):
    mobile = Text(required=True, validate=validate.Length(min=1, max=32),
                  metadata={"example": "09121234567"})
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class TokenOut(Schema):
    token = fields.String(required=True, metadata={
        "description": "Send as `Authorization: Bearer <token>`. Shown once; keep it secret."})
    kind = fields.String(validate=validate.OneOf(["staff", "member"]))
    expires_in = fields.Integer(metadata={"description": "Seconds until it expires."})
    expires_at = fields.DateTime()
    role = fields.String(allow_none=True, metadata={
        "description": "admin or operator for staff tokens; null for members."})
    member_id = fields.Integer(allow_none=True)


# ---- members -------------------------------------------------------------------------

PROFILE_TEXT = {"province": 64, "city": 64, "neighbourhood": 64, "address": 1000, "email": 254,
                "home_phone": 16, "work_phone": 16, "father_name": 64, "job": 64,
                "favourite_colour": 32, "notes": 2000}


class MemberWriteBase(Schema):
    first_name = Text(validate=validate.Length(min=1, max=64))
    last_name = Text(validate=validate.Length(min=1, max=64))
    mobile = Text(validate=validate.Length(min=1, max=32), metadata={
        "description": "Iranian mobile: 09121234567, +989121234567 or in Persian digits."})
    national_code = Text(allow_none=True, validate=validate.Length(max=16))
    birth_date = JalaliOrIsoDate(allow_none=True, metadata={
        "description": "1370/05/12 (Jalali) or 1991-08-03."})
    wedding_date = JalaliOrIsoDate(allow_none=True)
    home_branch_id = Integer(allow_none=True, validate=validate.Range(min=1, max=2**31 - 1),
                             metadata={"description": "Ignored for operators: their members "
                                                      "belong to their branch."})
    gender = fields.String(validate=validate.OneOf(list(GENDERS)))
    weight_kg = Integer(allow_none=True,
                        validate=validate.Range(min=WEIGHT_MIN_KG, max=WEIGHT_MAX_KG))
    promotional_opt_out = fields.Boolean()
    custom_fields = fields.Dict(keys=fields.String(validate=validate.Length(max=32)),
                                values=Text(validate=validate.Length(max=200)))
    locals().update({name: Text(multiline=name in ("address", "notes"),
                                validate=validate.Length(max=length))
                     for name, length in PROFILE_TEXT.items()})


class MemberCreateIn(MemberWriteBase):
    first_name = Text(required=True, validate=validate.Length(min=1, max=64))
    last_name = Text(required=True, validate=validate.Length(min=1, max=64))
    mobile = Text(required=True, validate=validate.Length(min=1, max=32))
    card_number = Text(required=True, validate=validate.Length(min=1, max=40), metadata={
        "description": "The member's 16-digit card (any digits, spaces allowed)."})
    referrer = Text(allow_none=True, validate=validate.Length(max=40), metadata={
        "description": "The referrer's card or mobile number."})


class MemberUpdateIn(MemberWriteBase):
    """Only the fields sent change."""


class MemberOut(Schema):
    id = fields.Integer(required=True)
    first_name = fields.String()
    last_name = fields.String()
    mobile = fields.String(allow_none=True)
    national_code = fields.String(allow_none=True)
    tier = fields.Nested(TierRef)
    home_branch_id = fields.Integer(allow_none=True)
    joined_at = fields.DateTime()
    birth_date = fields.Date(allow_none=True)
    wedding_date = fields.Date(allow_none=True)
    gender = fields.String()
    weight_kg = fields.Integer(allow_none=True)
    promotional_opt_out = fields.Boolean()
    custom_fields = fields.Dict(keys=fields.String(), values=fields.String())
    credit_balance_rials = fields.Integer()
    points_balance = fields.Integer()
    total_spend_rials = fields.Integer()
    purchase_count = fields.Integer()
    last_visit_at = fields.DateTime(allow_none=True)
    cards = fields.List(fields.Nested(CardOut))
    locals().update({name: fields.String() for name in PROFILE_TEXT})


class MeOut(MemberOut):
    class Meta:
        exclude = ("notes",)  # staff notes about the member are not the member's to read


class MemberQuery(PageQuery):
    q = Text(validate=validate.Length(max=64), metadata={
        "description": "Search names, mobile, national code and card numbers (operators: "
                       "their branch's members)."})
    card = Text(validate=validate.Length(max=40), metadata={
        "description": "Exact card number: finds the member at any branch (counter)."})
    mobile = Text(validate=validate.Length(max=32), metadata={
        "description": "Exact mobile number: finds the member at any branch (counter)."})
    tier_id = Integer(validate=validate.Range(min=1, max=2**31 - 1))
    branch_id = Integer(validate=validate.Range(min=1, max=2**31 - 1))


class TierProgressOut(Schema):
    next_tier = fields.Nested(TierRef, allow_none=True)
    window_days = fields.Integer()
    spend_rials = fields.Integer()
    purchases = fields.Integer()
    spend_needed_rials = fields.Integer()
    purchases_needed = fields.Integer()
    percent = fields.Integer()


class BalanceOut(Schema):
    member_id = fields.Integer()
    credit_rials = fields.Integer()
    points = fields.Integer()
    tier = fields.Nested(TierRef)
    progress = fields.Nested(TierProgressOut)


class TransactionOut(Schema):
    id = fields.Integer()
    created_at = fields.DateTime()
    kind = fields.String(metadata={"description": "purchase, refund, topup, grant, welcome, "
                                                  "transfer-in, transfer-out, conversion, "
                                                  "expiry, referral, commission, …"})
    reason = fields.String(metadata={"description": "Why the balance moved, in English."})
    credit_rials = fields.Integer(attribute="credit", metadata={
        "description": "Signed change of the credit balance."})
    points = fields.Integer(metadata={"description": "Signed change of the points balance."})


class PurchaseOut(Schema):
    id = fields.Integer()
    member_id = fields.Integer()
    branch_id = fields.Integer()
    device_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    amount_rials = fields.Integer()
    discount_rials = fields.Integer()
    credit_used_rials = fields.Integer()
    payable_rials = fields.Integer()
    credit_earned_rials = fields.Integer()
    points_earned = fields.Integer()
    refunded_amount_rials = fields.Integer()
    offline = fields.Boolean()


class ItemIn(Schema):
    sku = Text(required=True, validate=validate.Length(min=1, max=32), metadata={
        "description": "The product's code (SKU), in any digits."})
    qty = Integer(required=True, validate=validate.Range(min=1, max=1_000_000))
    price = Integer(validate=validate.Range(min=0, max=MAX_AMOUNT_RIALS), metadata={
        "description": "Unit price in rials; omit for the product's list price. A product "
                       "with a list price sells only at it; one without (price 0) needs it."})


class ItemOut(Schema):
    sku = fields.String()
    name = fields.String()
    qty = fields.Integer()
    price = fields.Integer()


class PurchaseIn(Schema):
    amount_rials = rials(required=True, metadata={
        "description": "The sale's amount; with items it must equal their total (quantity × "
                       "price summed), as a terminal's purchase must."})
    items = fields.List(fields.Nested(ItemIn), validate=validate.Length(min=1, max=50),
                        metadata={"description": "Item lines (at most 50): stock goes down "
                                                 "and each product's points, discount and "
                                                 "extra credit apply."})
    use_credit_rials = Integer(load_default=0,
                               validate=validate.Range(min=-1, max=MAX_AMOUNT_RIALS),
                               metadata={"description": "Credit to spend; -1 spends as much "
                                                        "as the rules allow."})
    branch_id = Integer(validate=validate.Range(min=1, max=2**31 - 1), metadata={
        "description": "Admins only: where the sale happened (default: their branch or the "
                       "first). Operators always sell at their own branch."})


class PurchaseTxOut(Schema):
    """The figures a terminal prints for the sale (its reply's `tx`)."""

    amount = fields.Integer()
    discount = fields.Integer()
    credit_used = fields.Integer()
    payable = fields.Integer(metadata={"description": "What to collect from the member."})
    credit_earned = fields.Integer()
    points_earned = fields.Integer()
    offers = fields.List(fields.String())
    tier_up = fields.String(metadata={"description": "Present when the sale moved the member "
                                                     "up: the new tier's code."})


class PurchaseResultOut(Schema):
    purchase = fields.Nested(PurchaseOut)
    items = fields.List(fields.Nested(ItemOut))
    tx = fields.Nested(PurchaseTxOut)
    offers = fields.List(fields.String(), metadata={"description": "Offers applied."})
    new_tier = fields.String(allow_none=True, metadata={
        "description": "The tier code the member moved to, if this purchase moved them."})
    credit_balance_rials = fields.Integer()
    points_balance = fields.Integer()


class RefundIn(Schema):
    amount_rials = rials(allow_none=True, metadata={
        "description": "Part of the purchase amount to refund; omit to refund the rest."})


class RefundOut(Schema):
    id = fields.Integer()
    purchase_id = fields.Integer()
    amount_rials = fields.Integer()
    cash_refund_rials = fields.Integer()
    credit_returned_rials = fields.Integer()
    credit_taken_rials = fields.Integer()
    points_taken = fields.Integer()
    created_at = fields.DateTime()


class AmountIn(Schema):
    amount_rials = rials(required=True)


class LedgerTransactionOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    reason = fields.String()
    created_at = fields.DateTime()
    member_id = fields.Integer()


class GrantIn(Schema):
    amount_rials = rials(required=True)
    reason = Text(required=True, validate=validate.Length(min=1, max=255))
    expires_at = fields.AwareDateTime(allow_none=True, metadata={
        "description": "When the granted credit expires (ISO 8601 with offset); omit for "
                       "never."})
    expires_on = JalaliOrIsoDate(allow_none=True, metadata={
        "description": "Or the last day it is spendable (1405/08/30 or 2026-11-21): the "
                       "whole day in Tehran, through 23:59:59, like the panel's dates."})


class GrantOut(Schema):
    id = fields.Integer()
    member_id = fields.Integer(allow_none=True)
    amount_rials = fields.Integer()
    reason = fields.String()
    expires_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class TransferIn(Schema):
    to = Text(required=True, validate=validate.Length(min=1, max=40), metadata={
        "description": "The receiving member's card or mobile number."})
    amount_rials = rials(required=True)


class PointsIn(Schema):
    points = Integer(required=True, validate=validate.Range(min=1, max=10**12))


class RedeemIn(Schema):
    reward_id = Integer(required=True, validate=validate.Range(min=1))
    gift_card_number = Text(validate=validate.Length(min=1, max=20), metadata={
        "description": "Gift-card rewards only: the blank card handed over (staff only)."})


class RedemptionOut(Schema):
    id = fields.Integer()
    reward_id = fields.Integer()
    member_id = fields.Integer()
    points = fields.Integer()
    credit_rials = fields.Integer()
    channel = fields.String()
    status = fields.String(metadata={"description": "`done`, or `to_collect` for a product "
                                                    "that waits at the counter."})
    created_at = fields.DateTime()


class TransferOut(Schema):
    id = fields.Integer()
    from_member_id = fields.Integer()
    to_member_id = fields.Integer()
    amount_rials = fields.Integer()
    created_at = fields.DateTime()


# ---- reference data ------------------------------------------------------------------

class TierOut(TierRef):
    rank = fields.Integer()
    credit_percent_bp = fields.Integer(metadata={"description": "Basis points: 500 = 5 %."})
    discount_percent_bp = fields.Integer()
    points_per_step = fields.Integer()
    point_step_rials = fields.Integer()
    min_spend_rials = fields.Integer()
    min_purchases = fields.Integer()
    qualify_mode = fields.String()
    max_credit_per_invoice_rials = fields.Integer(allow_none=True)
    max_credit_per_day_rials = fields.Integer(allow_none=True)


class OfferOut(Schema):
    id = fields.Integer()
    name = fields.String()
    is_active = fields.Boolean()
    reward_kind = fields.String()
    reward_value = fields.Integer()
    reward_expiry_days = fields.Integer(allow_none=True)
    min_amount_rials = fields.Integer(allow_none=True)
    starts_at = fields.DateTime(allow_none=True)
    ends_at = fields.DateTime(allow_none=True)
    tier_codes = fields.Function(lambda row: [c for c in row.tier_codes.split(",") if c],
                                 metadata={"type": "array", "items": {"type": "string"}})
    first_purchase_only = fields.Boolean()


class ProductOut(Schema):
    id = fields.Integer()
    sku = fields.String()
    name = fields.String()
    price_rials = fields.Integer()
    points_per_unit = fields.Integer()
    discount_percent_bp = fields.Integer()
    extra_credit_per_unit_rials = fields.Integer()
    stock = fields.Integer(allow_none=True)
    is_active = fields.Boolean()


class RewardOut(Schema):
    id = fields.Integer()
    name = fields.String()
    kind = fields.String(metadata={"description": "`discount` (credit in the wallet), "
                                                  "`product` or `gift_card`."})
    points_cost = fields.Integer()
    value_rials = fields.Integer()
    product_id = fields.Integer(allow_none=True)
    valid_days = fields.Integer(allow_none=True)
    stock = fields.Integer(allow_none=True, metadata={"description": "None: unlimited."})
    is_active = fields.Boolean()


class BranchOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    address = fields.String()
    phone = fields.String()
    is_active = fields.Boolean()


class ActiveQuery(PageQuery):
    active = fields.Boolean(metadata={"description": "Only active rows."})


# ---- members' own ------------------------------------------------------------------------

class RequestIn(Schema):
    subject = Text(required=True, validate=validate.Length(min=1, max=120))
    body = Text(required=True, multiline=True, validate=validate.Length(min=1, max=2000))


class RequestOut(Schema):
    id = fields.Integer()
    subject = fields.String()
    body = fields.String()
    answer = fields.String(metadata={"description": "Empty until the club answers."})
    created_at = fields.DateTime()
    answered_at = fields.DateTime(allow_none=True)


# ---- news, FAQ, surveys ------------------------------------------------------------------

class NewsOut(Schema):
    id = fields.Integer()
    kind = fields.String(validate=validate.OneOf(["news", "event"]))
    title = fields.String()
    body = fields.String()
    image_url = fields.Method("image_link", allow_none=True,
                              metadata={"type": "string", "description": (
                                  "Path of the image on this host, or null; fetch it "
                                  "with the same Authorization header.")})
    event_at = fields.DateTime(allow_none=True)
    publish_from = fields.DateTime()
    publish_until = fields.DateTime(allow_none=True)

    def image_link(self, row):
        from flask import url_for

        return url_for("portal.news_image", post_id=row.id) if row.image_filename else None


class NewsAdminOut(NewsOut):
    tier_codes = fields.Function(lambda row: [c for c in row.tier_codes.split(",") if c],
                                 metadata={"type": "array", "items": {"type": "string"}})
    is_active = fields.Boolean()


class FaqOut(Schema):
    id = fields.Integer()
    question = fields.String()
    answer = fields.String()


class QuestionOut(Schema):
    id = fields.Integer()
    kind = fields.String(validate=validate.OneOf(["rating", "choice", "text"]))
    prompt = fields.String()
    choices = fields.List(fields.String())
    required = fields.Boolean()


class SurveyOut(Schema):
    id = fields.Integer()
    title = fields.String()
    description = fields.String()
    questions = fields.List(fields.Nested(QuestionOut))


class SurveyAnswersIn(Schema):
    answers = fields.Dict(
        required=True, keys=fields.String(validate=validate.Regexp(r"^[0-9]{1,10}$")),
        values=Text(multiline=True, validate=validate.Length(max=2000)),
        metadata={"description": "Question id → answer: a rating \"1\"–\"5\", one of the "
                                 "choices, or free text."})

    @validates_schema
    def not_too_many(self, data, **kwargs):
        if len(data.get("answers", {})) > 30:
            raise SchemaError("At most 30 answers.", "answers")


class SurveyResponseOut(Schema):
    id = fields.Integer()
    survey_id = fields.Integer()
    created_at = fields.DateTime()
