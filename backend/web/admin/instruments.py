"""Cheques and instalments in the panel (L13): record a member's cheque or instalment
plan from their page, list what is owed, change a status with its history. Operators
record at their own branch and see and act on their branch's rows only; recording and
status changes need `purchases` (every operator has it), as the counter does."""

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, or_, select
from wtforms import SelectChoice

from backend.engine.calendar import local
from backend.errors import DomainError
from backend.extensions import db
from backend.models import Branch, InstalmentPlan, Member, PaymentInstrument, StaffUser
from backend.services import instruments
from backend.services.permissions import branch_scope
from backend.web.admin.blueprint import bp
from backend.web.admin.forms import ChequeForm, PlanForm, StatusForm
from backend.web.auth import permission_required
from backend.web.common import (
    apply_error,
    clock,
    new_request_key,
    page_number,
    paginate,
    staff_actor,
    translate_error,
)
from card_spec import normalize_digits

STATUS_NAMES = {"pending": _l("Pending"), "cleared": _l("Cleared"), "paid": _l("Paid"),
                "bounced": _l("Bounced"), "cancelled": _l("Cancelled")}
KIND_NAMES = {"cheque": _l("Cheque"), "instalment": _l("Instalment")}
# What the button that makes each change says.
ACTION_NAMES = {"cleared": _l("Cheque cleared"), "bounced": _l("Cheque bounced"),
                "paid": _l("Instalment paid"), "cancelled": _l("Cancel this item")}
MAX_QUERY_LENGTH = 64


def bank_choices():
    language = g.get("language", "fa")
    return [SelectChoice("", gettext("Choose a bank"))] + [
        SelectChoice(code, instruments.bank_name(code, language))
        for code, _fa, _en in instruments.BANKS]


def branch_choices():
    return [SelectChoice(row.id, row.name) for row in
            db.session.scalars(select(Branch).order_by(Branch.id))]


def _member(member_id: int) -> Member:
    member = db.session.get(Member, member_id)
    if member is None or member.is_gift_account:
        abort(404)
    return member


def _prepare(form, user, member: Member) -> None:
    """Operators record at their own branch; an admin picks one (the member's by default)."""
    if branch_scope(user) is not None:
        del form.branch_id
    else:
        form.branch_id.choices = branch_choices()
        if not form.is_submitted() and member.home_branch_id:
            form.branch_id.data = member.home_branch_id
    if hasattr(form, "bank"):
        form.bank.choices = bank_choices()


def _branch(form, user) -> int | None:
    scope = branch_scope(user)
    return scope if scope is not None else form.branch_id.data


@bp.route("/members/<int:member_id>/cheques/new", methods=["GET", "POST"])
@permission_required("purchases")
def cheque_new(user, member_id: int):
    member = _member(member_id)
    form = ChequeForm()
    _prepare(form, user, member)
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                row = instruments.record_cheque(
                    db.session, actor=staff_actor(user), member_id=member.id, bank=form.bank.data,
                    number=form.number.data, due_date=form.due_date.data,
                    amount_rials=form.amount.data, now=clock(), branch_id=_branch(form, user),
                    purchase_id=form.purchase_id.data,
                    note=form.note.data or "")
            except DomainError as error:
                apply_error(form, error, {"amount": "amount", "purchase": "purchase_id",
                                          "branch": "branch_id"})
            else:
                flash(gettext("Cheque recorded."), "success")
                return redirect(url_for("admin.instrument_detail", instrument_id=row.id))
    return render_template("instruments/form.html", user=user, member=member, form=form,
                           title=gettext("Record a cheque")), status


@bp.route("/members/<int:member_id>/instalment-plans/new", methods=["GET", "POST"])
@permission_required("purchases")
def plan_new(user, member_id: int):
    member = _member(member_id)
    form = PlanForm() if request.method == "POST" else PlanForm(request_key=new_request_key())
    _prepare(form, user, member)
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                result = instruments.create_plan(
                    db.session, actor=staff_actor(user), member_id=member.id,
                    total_rials=form.total.data,
                    count=form.count.data, schedule=form.schedule.data,
                    interval_days=form.interval_days.data, first_due=form.first_due.data,
                    now=clock(), branch_id=_branch(form, user),
                    purchase_id=form.purchase_id.data, note=form.note.data or "",
                    request_key=f"panel:{form.request_key.data}" if form.request_key.data
                    else None)
            except DomainError as error:
                apply_error(form, error, {"purchase": "purchase_id", "branch": "branch_id"})
            else:
                flash(gettext("Instalment plan recorded."), "success")
                return redirect(url_for("admin.instrument_detail",
                                        instrument_id=result.instalments[0].id))
    return render_template("instruments/form.html", user=user, member=member, form=form,
                           title=gettext("An instalment plan")), status


def _list_statement(user):
    statement = select(PaymentInstrument).join(Member, Member.id == PaymentInstrument.member_id)
    scope = branch_scope(user)
    if scope is not None:
        statement = statement.where(PaymentInstrument.branch_id == scope)
    return statement


@bp.get("/instruments")
@permission_required("purchases")
def instruments_list(user):
    statement = _list_statement(user)
    state = request.args.get("state", "open")
    today = instruments_today()
    if state == "open":
        statement = statement.where(PaymentInstrument.status.in_(instruments.OPEN_STATES))
    elif state == "overdue":
        statement = statement.where(PaymentInstrument.status == "pending",
                                    PaymentInstrument.due_date < today)
    elif state in instruments.STATUSES:
        statement = statement.where(PaymentInstrument.status == state)
    kind = request.args.get("kind", "")
    if kind in instruments.KINDS:
        statement = statement.where(PaymentInstrument.kind == kind)
    query = request.args.get("q", "").strip()[:MAX_QUERY_LENGTH]
    if query:
        digits = normalize_digits(query)
        statement = statement.where(or_(
            (Member.first_name + " " + Member.last_name).ilike(f"%{query}%"),
            Member.mobile.like(f"%{digits}%"), PaymentInstrument.reference.like(f"%{digits}%")))
    listed = statement.order_by(None).subquery()
    total = db.session.scalar(select(func.coalesce(func.sum(listed.c.amount_rials), 0)))
    page = paginate(statement.order_by(PaymentInstrument.due_date, PaymentInstrument.id),
                    page_number(request.args.get("page")))
    return render_template("instruments/list.html", user=user, page=page, state=state,
                           kind=kind, q=query, total=total, today=today,
                           is_overdue=instruments.is_overdue, **_names(page.rows))


def instruments_today():
    return local(clock()).date()


def _names(rows) -> dict:
    """What the rows show beside their own columns: members, branches, plan sizes."""
    member_ids = {row.member_id for row in rows}
    plan_ids = {row.plan_id for row in rows if row.plan_id}
    return {
        "members": {m.id: m for m in db.session.scalars(
            select(Member).where(Member.id.in_(member_ids)))} if member_ids else {},
        "branches": {b.id: b.name for b in db.session.scalars(select(Branch))},
        "plan_counts": dict(db.session.execute(select(InstalmentPlan.id, InstalmentPlan.count)
                                               .where(InstalmentPlan.id.in_(plan_ids))).all())
        if plan_ids else {},
        "status_names": STATUS_NAMES, "kind_names": KIND_NAMES,
        "bank_name": lambda code: instruments.bank_name(code, g.get("language", "fa")),
    }


def _visible(user, instrument_id: int) -> PaymentInstrument:
    row = db.session.get(PaymentInstrument, instrument_id)
    if row is None:
        abort(404)
    scope = branch_scope(user)
    if scope is not None and row.branch_id != scope:
        abort(403)
    return row


def _render_detail(user, row: PaymentInstrument, form: StatusForm | None = None,
                   status: int = 200):
    events = instruments.history(db.session, row.id)
    staff_ids = {event.staff_user_id for event in events if event.staff_user_id}
    staff = {s.id: s for s in db.session.scalars(
        select(StaffUser).where(StaffUser.id.in_(staff_ids)))} if staff_ids else {}
    plan = db.session.get(InstalmentPlan, row.plan_id) if row.plan_id else None
    siblings = db.session.scalars(select(PaymentInstrument).where(
        PaymentInstrument.plan_id == plan.id).order_by(PaymentInstrument.sequence)).all() \
        if plan else []
    return render_template(
        "instruments/detail.html", user=user, row=row, member=db.session.get(
            Member, row.member_id), events=events, staff=staff, plan=plan, siblings=siblings,
        form=form or StatusForm(formdata=None), actions=instruments.allowed_statuses(row),
        action_names=ACTION_NAMES, today=instruments_today(), is_overdue=instruments.is_overdue,
        **_names([row, *siblings])), status


@bp.get("/instruments/<int:instrument_id>")
@permission_required("purchases")
def instrument_detail(user, instrument_id: int):
    return _render_detail(user, _visible(user, instrument_id))


@bp.post("/instruments/<int:instrument_id>/status")
@permission_required("purchases")
def instrument_status(user, instrument_id: int):
    row = _visible(user, instrument_id)
    form = StatusForm()
    if form.validate_on_submit():
        try:
            instruments.change_status(
                db.session, actor=staff_actor(user), instrument_id=row.id,
                status=form.status.data or "", now=clock(), branch_scope=branch_scope(user),
                note=form.note.data or "")
        except DomainError as error:
            flash(translate_error(error), "error")
        else:
            flash(gettext("Status changed."), "success")
            return redirect(url_for("admin.instrument_detail", instrument_id=row.id))
    return _render_detail(user, db.session.get(PaymentInstrument, instrument_id), form, 400)


def member_rows(user, member_id: int) -> list[PaymentInstrument]:
    """The member page's list: the member's rows the user may see."""
    rows = instruments.of_member(db.session, member_id)
    scope = branch_scope(user)
    return [row for row in rows if scope is None or row.branch_id == scope]
