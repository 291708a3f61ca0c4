"""Credit for a whole tier at once (L4) and members' requests (P3, S1)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import or_, select
from wtforms import SelectChoice

from backend.errors import DomainError
from backend.extensions import db
from backend.models import CreditGrant, Member, MemberRequest, Tier
from backend.services import counter, member_requests, wallet
from backend.services.permissions import branch_scope
from backend.web.admin.blueprint import bp
from backend.web.admin.forms import AnswerForm, TierGrantForm
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
from backend.web.fields import shown_number
from card_spec import normalize_digits

MAX_QUERY_LENGTH = 64


def _tier_choices():
    return [SelectChoice(tier.id, tier.name_fa or tier.name) for tier in
            db.session.scalars(select(Tier).order_by(Tier.rank))]


@bp.route("/credit-grants", methods=["GET", "POST"])
@permission_required("credit_grants")
def credit_grants(user):
    form = TierGrantForm() if request.method == "POST" else TierGrantForm(
        request_key=new_request_key())
    form.tier_id.choices = _tier_choices()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                grant = wallet.grant_credit(
                    db.session, actor=staff_actor(user),
                    amount_rials=form.amount.data, reason=form.reason.data,
                    now=clock(), tier_id=form.tier_id.data,
                    expires_at=form.expires_on.as_utc_end_of_day(),
                    request_key=counter.request_key("tier-grant", form.request_key.data))
            except DomainError as error:
                apply_error(form, error, {"expires_at": "expires_on"})
            else:
                flash(gettext("Credit granted to %(count)s members.",
                              count=shown_number(grant.member_count)), "success")
                return redirect(url_for("admin.credit_grants"))
    statement = select(CreditGrant)
    tier_filter = request.args.get("tier", type=int)
    if tier_filter:
        statement = statement.where(CreditGrant.tier_id == tier_filter)
    query = request.args.get("q", "").strip()[:MAX_QUERY_LENGTH]
    if query:
        statement = statement.where(CreditGrant.reason.ilike(f"%{query}%"))
    page = paginate(statement.order_by(CreditGrant.id.desc()),
                    page_number(request.args.get("page")))
    tiers = {tier.id: tier for tier in db.session.scalars(select(Tier).order_by(Tier.rank))}
    return render_template("credit_grants.html", user=user, form=form, page=page,
                           tiers=tiers, tier_filter=tier_filter, q=query), status


def _requests_page(user, failed: tuple[int, AnswerForm] | None = None):
    """The requests list for the query string's state, search and page; `failed` puts a
    rejected answer form (with its errors) back on its request."""
    statement = select(MemberRequest).join(Member, Member.id == MemberRequest.member_id)
    scope = branch_scope(user)
    if scope is not None:
        statement = statement.where(Member.home_branch_id == scope)
    state = request.args.get("state", "open")
    if state == "open":
        statement = statement.where(MemberRequest.answered_at.is_(None))
    query = request.args.get("q", "").strip()[:MAX_QUERY_LENGTH]
    if query:
        pattern, digits = f"%{query}%", normalize_digits(query)
        statement = statement.where(or_(
            MemberRequest.subject.ilike(pattern), MemberRequest.body.ilike(pattern),
            (Member.first_name + " " + Member.last_name).ilike(pattern),
            Member.mobile.like(f"%{digits}%")))
    page = paginate(statement.order_by(MemberRequest.id.desc()),
                    page_number(request.args.get("page")))
    forms = {row.id: AnswerForm(formdata=None, prefix=f"answer{row.id}", answer=row.answer)
             for row in page.rows}
    if failed is not None:
        if failed[0] not in forms:
            return None  # no longer on this page: the caller says it another way
        forms[failed[0]] = failed[1]
    return render_template("requests.html", user=user, page=page, forms=forms, state=state,
                           q=query)


@bp.get("/requests")
@permission_required("members")
def requests_list(user):
    return _requests_page(user)


@bp.post("/requests/<int:request_id>")
@permission_required("members")
def request_answer(user, request_id: int):
    """Answer a request; a refused answer comes back next to its field, on the list the
    form was sent from (its query string rides on the form's action)."""
    if db.session.get(MemberRequest, request_id) is None:
        abort(404)
    form = AnswerForm(prefix=f"answer{request_id}")
    if form.validate_on_submit():
        try:
            member_requests.answer_request(db.session, actor=staff_actor(user),
                                           request_id=request_id,
                                           staff_user_id=user.id, answer=form.answer.data,
                                           now=clock(), branch_id=branch_scope(user))
        except DomainError as error:
            form.answer.errors = [translate_error(error)]
        else:
            flash(gettext("Answer sent."), "success")
            return redirect(url_for("admin.requests_list", **request.args.to_dict()))
    shown = _requests_page(user, (request_id, form))
    if shown is None:
        flash(form.answer.errors[0], "error")
        return redirect(url_for("admin.requests_list", **request.args.to_dict()))
    return shown, 400
