"""Cheques and instalments in the API (L13): record a member's cheque or instalment plan,
list and read them with their history, change a status; members read their own at
`/me/instruments`. Rights are the panel's: `purchases` (every operator), and operators
record at their own branch and see and change their branch's rows only."""

from marshmallow import Schema, fields, validate
from sqlalchemy import select

from backend.errors import BadRequest, Forbidden
from backend.extensions import db
from backend.models import PaymentInstrument
from backend.services import instruments
from backend.services.permissions import branch_scope
from backend.web.api.members import _scoped_key, visible_member
from backend.web.api.operations import Page, operation, paginate
from backend.web.api.schemas import Integer, JalaliOrIsoDate, PageQuery, Text, rials
from backend.web.common import api_actor, clock

ID = validate.Range(min=1, max=2**31 - 1)


class BankOut(Schema):
    code = fields.String()
    name = fields.String()
    name_fa = fields.String()


class EventOut(Schema):
    at = fields.DateTime()
    staff_user_id = fields.Integer(allow_none=True)
    before_status = fields.String(allow_none=True, metadata={
        "description": "None on the line that recorded it."})
    after_status = fields.String()
    note = fields.String()


class InstrumentOut(Schema):
    id = fields.Integer()
    member_id = fields.Integer()
    kind = fields.String(validate=validate.OneOf(instruments.KINDS))
    bank = fields.String(metadata={"description": "A bank code of GET /banks (cheques)."})
    number = fields.String(attribute="reference", metadata={
        "description": "The cheque's number; empty for an instalment."})
    amount_rials = fields.Integer()
    due_date = fields.Date()
    status = fields.String(validate=validate.OneOf(instruments.STATUSES))
    branch_id = fields.Integer(allow_none=True)
    plan_id = fields.Integer(allow_none=True)
    sequence = fields.Integer(allow_none=True, metadata={
        "description": "The instalment's place in its plan, from 1."})
    purchase_id = fields.Integer(allow_none=True)
    note = fields.String()
    settled_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class InstrumentDetailOut(InstrumentOut):
    history = fields.List(fields.Nested(EventOut))


class PlanOut(Schema):
    id = fields.Integer()
    member_id = fields.Integer()
    total_rials = fields.Integer()
    count = fields.Integer()
    schedule = fields.String(validate=validate.OneOf(instruments.SCHEDULES))
    interval_days = fields.Integer(allow_none=True)
    first_due = fields.Date()
    branch_id = fields.Integer(allow_none=True)
    instalments = fields.List(fields.Nested(InstrumentOut))


class ChequeIn(Schema):
    bank = fields.String(required=True, validate=validate.OneOf(
        [code for code, _fa, _en in instruments.BANKS]))
    number = Text(required=True, validate=validate.Length(min=1, max=40), metadata={
        "description": "Up to 20 digits, in any digit set; spaces and dashes are dropped."})
    due_date = JalaliOrIsoDate(required=True, metadata={
        "description": "1405/09/15 or 2026-12-06: a whole day in Tehran."})
    amount_rials = rials(required=True)
    branch_id = Integer(validate=ID, metadata={
        "description": "Admins only (default: the member's home branch). Operators record "
                       "at their own branch."})
    purchase_id = Integer(validate=ID, allow_none=True)
    note = Text(multiline=True, load_default="", validate=validate.Length(max=500))


class PlanIn(Schema):
    total_rials = rials(required=True)
    count = Integer(required=True, validate=validate.Range(min=1, max=120))
    schedule = fields.String(required=True, validate=validate.OneOf(instruments.SCHEDULES),
                             metadata={"description": "monthly: the same day of each Jalali "
                                                      "month; days: every interval_days."})
    interval_days = Integer(validate=validate.Range(min=1, max=366), allow_none=True)
    first_due = JalaliOrIsoDate(required=True)
    branch_id = Integer(validate=ID)
    purchase_id = Integer(validate=ID, allow_none=True)
    note = Text(multiline=True, load_default="", validate=validate.Length(max=500))


class StatusIn(Schema):
    status = fields.String(required=True, validate=validate.OneOf(instruments.STATUSES),
                           metadata={"description": "A cheque: cleared, bounced or cancelled "
                                                    "(a bounced one may still clear); an "
                                                    "instalment: paid or cancelled."})
    note = Text(load_default="", validate=validate.Length(max=500))


class InstrumentQuery(PageQuery):
    member_id = Integer(validate=ID)
    kind = fields.String(validate=validate.OneOf(instruments.KINDS))
    status = fields.String(validate=validate.OneOf(instruments.STATUSES))
    due_to = JalaliOrIsoDate(metadata={"description": "Due on or before this day."})


def _branch(principal, requested: int | None, member) -> int | None:
    user = principal.staff
    if user.role != "admin":
        if requested is not None and requested != user.branch_id:
            raise Forbidden("operators record at their own branch only")
        return user.branch_id
    return requested if requested is not None else member.home_branch_id


class _With:
    """A row with one more attribute for its answer (history, instalments)."""

    def __init__(self, row, **extra):
        self._row, self._extra = row, extra

    def __getattr__(self, name):
        return self._extra[name] if name in self._extra else getattr(self._row, name)


def _detail(row: PaymentInstrument) -> _With:
    return _With(row, history=instruments.history(db.session, row.id))


@operation("GET", "/banks", summary="The banks a cheque may be drawn on", tag="Cheques",
           response=BankOut, paginated=True, errors=(401,))
def list_banks(principal):
    rows = [{"code": code, "name": en, "name_fa": fa} for code, fa, en in instruments.BANKS]
    return Page(rows, 1, len(rows), len(rows))


@operation("POST", "/members/<int:member_id>/cheques", summary="Record a member's cheque",
           tag="Cheques", permission="purchases", body=ChequeIn, response=InstrumentOut,
           status=201, errors=(400, 401, 403, 404))
def create_cheque(principal, member_id: int, data):
    """Pending until it clears or bounces. The same bank and number are refused while an
    earlier record of that cheque is not cancelled."""
    member = visible_member(member_id)
    return instruments.record_cheque(
        db.session, actor=api_actor(principal), member_id=member.id, bank=data["bank"],
        number=data["number"],
        due_date=data["due_date"], amount_rials=data["amount_rials"], now=clock(),
        branch_id=_branch(principal, data.get("branch_id"), member),
        purchase_id=data.get("purchase_id"), note=data["note"])


@operation("POST", "/members/<int:member_id>/instalment-plans",
           summary="Split a total into instalments", tag="Cheques", permission="purchases",
           body=PlanIn, response=PlanOut, status=201, idempotent=True,
           errors=(400, 401, 403, 404))
def create_plan(principal, member_id: int, data, key):
    """`count` instalments of equal whole rials, the last taking the remainder, so they add
    up to `total_rials` exactly; due monthly (the same Jalali day, or the month's last
    day when shorter) or every `interval_days` days from `first_due`. A retry with the same
    `Idempotency-Key` answers the plan it made and makes nothing new."""
    member = visible_member(member_id)
    if data["schedule"] == "days" and not data.get("interval_days"):
        raise BadRequest("interval_days", "the days between instalments are 1 to 366")
    result = instruments.create_plan(
        db.session, actor=api_actor(principal), member_id=member.id,
        total_rials=data["total_rials"],
        count=data["count"], schedule=data["schedule"],
        interval_days=data.get("interval_days"), first_due=data["first_due"], now=clock(),
        branch_id=_branch(principal, data.get("branch_id"), member),
        purchase_id=data.get("purchase_id"), note=data["note"],
        request_key=_scoped_key(principal, key))
    return _With(result.plan, instalments=result.instalments), 201


@operation("GET", "/instruments", summary="Cheques and instalments", tag="Cheques",
           permission="purchases", query=InstrumentQuery, response=InstrumentOut,
           paginated=True, errors=(400, 401, 403))
def list_instruments(principal, args):
    """By due date, oldest first; operators see their own branch's only."""
    statement = select(PaymentInstrument)
    scope = branch_scope(principal.staff)
    if scope is not None:
        statement = statement.where(PaymentInstrument.branch_id == scope)
    if "member_id" in args:
        statement = statement.where(PaymentInstrument.member_id == args["member_id"])
    if "kind" in args:
        statement = statement.where(PaymentInstrument.kind == args["kind"])
    if "status" in args:
        statement = statement.where(PaymentInstrument.status == args["status"])
    if "due_to" in args:
        statement = statement.where(PaymentInstrument.due_date <= args["due_to"])
    return paginate(statement.order_by(PaymentInstrument.due_date, PaymentInstrument.id), args)


def _visible(principal, instrument_id: int) -> None:
    instruments.visible(db.session, instrument_id, branch_scope(principal.staff))


@operation("GET", "/instruments/<int:instrument_id>", summary="A cheque or instalment",
           tag="Cheques", permission="purchases", response=InstrumentDetailOut,
           errors=(401, 403, 404), guard=_visible)
def get_instrument(principal, instrument_id: int):
    """With its history: who changed its status when, from what to what."""
    return _detail(instruments.visible(db.session, instrument_id,
                                       branch_scope(principal.staff)))


@operation("POST", "/instruments/<int:instrument_id>/status",
           summary="Clear, bounce, pay or cancel", tag="Cheques", permission="purchases",
           body=StatusIn, response=InstrumentDetailOut, errors=(400, 401, 403, 404),
           guard=_visible)
def change_status(principal, instrument_id: int, data):
    """A change the item's kind does not allow from its status answers 400 `status` and
    changes nothing."""
    row = instruments.visible(db.session, instrument_id, branch_scope(principal.staff))
    row = instruments.change_status(
        db.session, actor=api_actor(principal), instrument_id=row.id, status=data["status"],
        now=clock(), branch_scope=branch_scope(principal.staff),
        note=data["note"])
    return _detail(row)


@operation("GET", "/me/instruments", summary="My cheques and instalments", tag="Me",
           auth="member", query=PageQuery, response=InstrumentOut, paginated=True,
           errors=(400, 401, 403))
def my_instruments(principal, args):
    """Read-only; by due date, oldest first."""
    return paginate(select(PaymentInstrument).where(
        PaymentInstrument.member_id == principal.member.id)
        .order_by(PaymentInstrument.due_date, PaymentInstrument.id), args)

