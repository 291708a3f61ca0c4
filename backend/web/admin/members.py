"""Members: list, create, edit, the member page, and serving them at the counter."""

import re

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select
from wtforms import SelectChoice

from backend import ledger
from backend.errors import BadRequest, DomainError
from backend.extensions import db
from backend.models import (
    Branch,
    Member,
    MemberField,
    MemberRequest,
    Purchase,
    Tier,
    TierChange,
)
from backend.services import (
    card_lifecycle,
    counter,
    member_search,
    members,
    rewards,
    statements,
    wallet,
)
from backend.services.members import PROFILE_FIELDS
from backend.services.permissions import allowed, branch_scope, can_see_member
from backend.web.admin import instruments as instrument_views
from backend.web.admin.blueprint import bp
from backend.web.admin.forms import (
    AmountReasonForm,
    CounterPurchaseForm,
    ItemRow,
    MemberForm,
    RefundForm,
    ReplaceCardForm,
    TransferForm,
    item_rows,
    shown_amount,
)
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
from backend.web.fields import ConvertPointsForm, RedeemRewardForm, shown_number

MAX_QUERY_LENGTH = 64


def _exact_lookup(query: str) -> Member | None:
    """A member by exact card number or mobile: how a cashier finds anyone (C5)."""
    return member_search.exact_lookup(db.session, query)


@bp.get("/members")
@permission_required("members")
def members_list(user):
    query = request.args.get("q", "").strip()[:MAX_QUERY_LENGTH]
    if query:
        found = _exact_lookup(query)
        if found is not None and not found.is_gift_account:
            return redirect(url_for("admin.member_detail", member_id=found.id))
        in_stock = member_search.card_in_stock(db.session, query) if found is None else None
        if in_stock is not None:
            # C3: a pre-printed card handed out at the counter starts a new member's file.
            flash(gettext("Card %(number)s is in stock: enrol the member who gets it.",
                          number=shown_number(in_stock)), "success")
            return redirect(url_for("admin.member_new", card=in_stock))
    scope = branch_scope(user)
    tier_id = request.args.get("tier", type=int)
    branch_id = request.args.get("branch", type=int)
    statement = member_search.search_statement(scope_branch_id=scope, query=query,
                                               tier_id=tier_id, branch_id=branch_id)
    sort = request.args.get("sort", "newest")
    order = {"newest": Member.id.desc(), "name": Member.last_name,
             "credit": Member.credit_balance_rials.desc(),
             "spend": Member.total_spend_rials.desc()}.get(sort, Member.id.desc())
    page = paginate(statement.order_by(order, Member.id.desc()),
                    page_number(request.args.get("page")))
    return render_template(
        "members/list.html", user=user, page=page, q=query, tier=tier_id, branch=branch_id,
        sort=sort, tiers=db.session.scalars(select(Tier).order_by(Tier.rank)).all(),
        branches=db.session.scalars(select(Branch).order_by(Branch.name)).all())


def _custom_fields():
    return db.session.scalars(select(MemberField).where(MemberField.is_active)
                              .order_by(MemberField.position, MemberField.id)).all()


def _member_form(user, member: Member | None = None) -> MemberForm:
    form = MemberForm(obj=member) if member is not None and request.method == "GET" \
        else MemberForm()
    branches = db.session.scalars(select(Branch).where(Branch.is_active)
                                  .order_by(Branch.name)).all()
    scope = branch_scope(user)
    if scope is not None:
        # An operator's members always join at the operator's branch (_branch_choice).
        branches = [branch for branch in branches if branch.id == scope]
    form.home_branch_id.choices = [SelectChoice(0, "—")] + [SelectChoice(b.id, b.name)
                                                            for b in branches]
    if member is not None and request.method == "GET":
        form.home_branch_id.data = member.home_branch_id or 0
    elif member is None and request.method == "GET" and scope is not None:
        form.home_branch_id.data = scope
    return form


def _custom_values(member: Member | None) -> dict:
    if request.method == "POST":
        return {field.key: request.form.get(f"custom_{field.key}", "")[:200]
                for field in _custom_fields()}
    return dict(member.custom_fields or {}) if member is not None else {}


def _profile(form: MemberForm) -> dict:
    return {key: getattr(form, key).data if getattr(form, key).data is not None else
            (None if key == "weight_kg" else "") for key in PROFILE_FIELDS}


def _branch_choice(user, form) -> int | None:
    scope = branch_scope(user)
    if scope is not None:
        return scope
    return form.home_branch_id.data or None


@bp.route("/members/new", methods=["GET", "POST"])
@permission_required("members")
def member_new(user):
    form = _member_form(user)
    custom_values, custom_errors = _custom_values(None), {}
    if request.method == "GET" and request.args.get("card"):
        form.card_number.data = request.args["card"][:32]
    if form.validate_on_submit():
        try:
            if not form.card_number.data:
                raise BadRequest("card_number", "A new member needs a card.")
            member = members.register_member(
                db.session, actor=staff_actor(user), first_name=form.first_name.data,
                last_name=form.last_name.data,
                mobile=form.mobile.data, card_number=form.card_number.data, now=clock(),
                national_code=form.national_code.data or None,
                birth_date=form.birth_date.data, wedding_date=form.wedding_date.data,
                referrer_card_or_mobile=form.referrer.data or None,
                branch_id=_branch_choice(user, form), profile=_profile(form),
                custom_fields=custom_values, notify=True)
        except DomainError as error:
            _show_member_error(form, error, custom_errors)
        else:
            flash(gettext("Member created."), "success")
            return redirect(url_for("admin.member_detail", member_id=member.id))
    return render_template("members/form.html", user=user, form=form, member=None,
                           custom_fields=_custom_fields(), custom_values=custom_values,
                           custom_errors=custom_errors), 400 if form.errors or custom_errors \
        or request.method == "POST" else 200


def _show_member_error(form, error: DomainError, custom_errors: dict) -> None:
    field = getattr(error, "field", "")
    if field.startswith("custom_"):
        custom_errors[field[len("custom_"):]] = error.message.split(": ", 1)[-1]
        return
    apply_error(form, error, {"card": "card_number", "name": "first_name",
                              "new_card": "card_number"})


def _visible_member(user, member_id: int) -> Member:
    member = db.session.get(Member, member_id)
    if member is None or member.is_gift_account:
        abort(404)
    return member


@bp.route("/members/<int:member_id>/edit", methods=["GET", "POST"])
@permission_required("members")
def member_edit(user, member_id: int):
    member = _visible_member(user, member_id)
    if not can_see_member(user, member):
        abort(403)
    form = _member_form(user, member)
    del form.card_number, form.referrer
    custom_values, custom_errors = _custom_values(member), {}
    if form.validate_on_submit():
        try:
            members.update_member(
                db.session, member.id, actor=staff_actor(user), first_name=form.first_name.data,
                last_name=form.last_name.data, mobile=form.mobile.data,
                national_code=form.national_code.data or None,
                birth_date=form.birth_date.data, wedding_date=form.wedding_date.data,
                branch_id=_branch_choice(user, form), profile=_profile(form),
                custom_fields=custom_values)
        except DomainError as error:
            _show_member_error(form, error, custom_errors)
        else:
            flash(gettext("Saved."), "success")
            return redirect(url_for("admin.member_detail", member_id=member.id))
    status = 400 if request.method == "POST" else 200
    return render_template("members/form.html", user=user, form=form, member=member,
                           custom_fields=_custom_fields(), custom_values=custom_values,
                           custom_errors=custom_errors), status


def _history(member_id: int, number: int):
    return paginate(statements.history_lines_statement(member_id), number, size=20,
                    scalars=False)


def _forms(member: Member):
    key = new_request_key
    return {
        "purchase": CounterPurchaseForm(request_key=key(), formdata=None),
        "topup": AmountReasonForm(request_key=key(), formdata=None, prefix="topup"),
        "grant": AmountReasonForm(request_key=key(), formdata=None, prefix="grant"),
        "transfer": TransferForm(request_key=key(), formdata=None, prefix="transfer"),
        "replace": _replace_form(member, formdata=None),
        "convert": ConvertPointsForm(request_key=key(), formdata=None, prefix="convert"),
        "redeem": _redeem_form(request_key=key(), formdata=None),
    }


def _redeem_form(**kwargs) -> RedeemRewardForm:
    form = RedeemRewardForm(prefix="redeem", **kwargs)
    form.reward_id.choices = [SelectChoice(reward.id, f"{reward.name} ({reward.points_cost:,})")
                              for reward in rewards.available(db.session)]
    return form


def _replace_form(member: Member, **kwargs) -> ReplaceCardForm:
    form = ReplaceCardForm(prefix="replace", **kwargs)
    form.lost_card.choices = [SelectChoice("", "—")] + [
        SelectChoice(card.number) for card in member.cards if card.status == "active"]
    return form


def _render_member(user, member: Member, forms: dict | None = None, status: int = 200, *,
                   rows: list[ItemRow] | None = None, line_errors=()):
    all_forms = _forms(member)
    all_forms.update(forms or {})
    shown_purchase = request.args.get("purchase", type=int) if request.method == "GET" else None
    summary = None if shown_purchase is None else counter.purchase_summary(
        db.session, member_id=member.id, purchase_id=shown_purchase)
    history = _history(member.id, page_number(request.args.get("page")))
    # Paginated too: a refund of an older purchase starts from its row here.
    purchase_page = paginate(
        select(Purchase).where(Purchase.member_id == member.id)
        .order_by(Purchase.created_at.desc(), Purchase.id.desc()),
        page_number(request.args.get("purchases_page")), size=20)
    purchase_rows = purchase_page.rows
    # The side lists are paged too, each by its own query argument (a member who
    # referred hundreds or wrote for years still gets a page that loads).
    lists = {
        "referrals": paginate(select(Member).where(Member.referrer_id == member.id)
                              .order_by(Member.id),
                              page_number(request.args.get("referrals_page")), size=20),
        "requests": paginate(select(MemberRequest).where(MemberRequest.member_id == member.id)
                             .order_by(MemberRequest.id.desc()),
                             page_number(request.args.get("requests_page")), size=20),
        "tier_changes": paginate(select(TierChange).where(TierChange.member_id == member.id)
                                 .order_by(TierChange.id.desc()),
                                 page_number(request.args.get("tier_changes_page")), size=20),
    }
    tiers = {tier.id: tier for tier in db.session.scalars(select(Tier))}
    refund_forms = {p.id: RefundForm(formdata=None, request_key=new_request_key(),
                                     purchase_id=p.id, prefix=f"refund{p.id}")
                    for p in purchase_rows if p.refunded_amount_rials < p.amount_rials
                    and counter.may_refund(user, p)}
    return render_template(
        "members/detail.html", user=user, member=member, forms=all_forms, history=history,
        purchases=purchase_rows, purchase_page=purchase_page, refund_forms=refund_forms,
        summary=summary, item_rows=_shown_rows(rows or [ItemRow()]), line_errors=line_errors,
        product_choices=counter.product_choices(db.session), max_lines=counter.MAX_ITEM_LINES,
        shown_amount=shown_amount,
        lists=lists, referrals=lists["referrals"].rows, requests=lists["requests"].rows,
        tier_changes=lists["tier_changes"].rows, tiers=tiers,
        parties=statements.transfer_parties(db.session, history.rows),
        custom_fields=_custom_fields(), editable=can_see_member(user, member),
        instrument_rows=instrument_views.member_rows(user, member.id),
        spendable_points=ledger.spendable_points(db.session, member, clock()),
        to_collect=[row for row in rewards.of_member(db.session, member.id)
                    if row.status == "to_collect"],
        can=lambda name: allowed(user, name)), status


@bp.get("/members/<int:member_id>")
@permission_required("members")
def member_detail(user, member_id: int):
    return _render_member(user, _visible_member(user, member_id))


def _operator_branch(user) -> int:
    """The branch a counter action is recorded at: the operator's own; an admin's
    actions are recorded at the first branch unless they belong to one."""
    if user.branch_id is not None:
        return user.branch_id
    first = db.session.scalars(select(Branch.id).order_by(Branch.id)).first()
    if first is None:
        abort(409)
    return first


def _shown_rows(rows: list[ItemRow]) -> list[ItemRow]:
    """Each typed line with its product: an empty price shows the list price, and a
    list price cannot be changed (read-only; the service refuses another price)."""
    for row in rows:
        row.product = counter.find_product(db.session, row.sku) if row.sku else None
        if row.product is not None and row.product.price_rials and not row.price:
            row.price = shown_amount(row.product.price_rials)
        if row.product is None and row.sku:
            # Searching without JavaScript: the products the text may mean, to pick.
            row.suggestions = counter.search_products(db.session, row.sku)
    return rows


def _picked(value: str | None) -> tuple[int, str] | None:
    """A suggestion's button: "line:SKU"."""
    line, _, sku = (value or "").partition(":")
    return (int(line), sku) if line.isdigit() and sku else None


def _item_lines(rows: list[ItemRow]):
    """The non-blank rows and their lines for the service; None when one does not parse."""
    used = [row for row in rows if not row.blank]
    lines = []
    for row in used:
        parsed = row.parsed()
        if parsed is not None:
            lines.append(counter.ItemLine(row.sku, *parsed))
    return (used, lines) if len(lines) == len(used) else (used, None)


_LINE_FIELD = re.compile(r"items\[(\d+)\]\.(sku|quantity|price)")


def _show_purchase_error(form, used: list[ItemRow], error: DomainError) -> list:
    """A line's error next to its input; the form's others next to theirs. Returns the
    errors about the lines as a whole (too many)."""
    match = _LINE_FIELD.fullmatch(getattr(error, "field", "") or "")
    if match and int(match.group(1)) < len(used):
        used[int(match.group(1))].error(match.group(2), translate_error(error))
        return []
    if getattr(error, "field", None) == "items":
        return [translate_error(error)]
    apply_error(form, error, {"use_credit": "use_credit"})
    return []


@bp.post("/members/<int:member_id>/purchase")
@permission_required("purchases")
def member_purchase(user, member_id: int):
    member = _visible_member(user, member_id)
    form = CounterPurchaseForm()
    drop = request.form.get("remove_line", type=int)
    adding = "add_line" in request.form
    pick = _picked(request.form.get("pick_line"))
    rows = item_rows(request.form, drop=drop, add=adding, pick=pick)
    if adding or drop is not None or pick is not None:
        # A line added or removed without JavaScript: the form comes back as typed.
        return _render_member(user, member, {"purchase": form}, rows=rows)
    line_errors = []
    if form.validate_on_submit():
        used, lines = _item_lines(rows)
        if lines is not None and not lines and form.amount.data is None:
            form.amount.errors = [gettext("Enter the purchase amount or add item lines.")]
        elif lines is not None:
            use_credit = -1 if form.use_all_credit.data else (form.use_credit.data or 0)
            try:
                result = counter.record_purchase(
                    db.session, actor=staff_actor(user),
                    member_id=member.id, branch_id=_operator_branch(user),
                    amount_rials=form.amount.data, use_credit_rials=use_credit,
                    request_key=form.request_key.data, now=clock(), items=lines)
            except DomainError as error:
                line_errors = _show_purchase_error(form, used, error)
            else:
                flash(gettext("Purchase recorded."), "success")
                return redirect(url_for("admin.member_detail", member_id=member.id,
                                        purchase=result.purchase.id, _anchor="purchase-summary"))
    return _render_member(user, db.session.get(Member, member_id), {"purchase": form}, 400,
                          rows=rows, line_errors=line_errors)


@bp.post("/members/<int:member_id>/topup")
@permission_required("purchases")
def member_topup(user, member_id: int):
    member = _visible_member(user, member_id)
    form = AmountReasonForm(prefix="topup")
    if form.validate_on_submit():
        try:
            counter.top_up(db.session, actor=staff_actor(user),
                           member_id=member.id, amount_rials=form.amount.data,
                           request_key=form.request_key.data, now=clock())
        except DomainError as error:
            apply_error(form, error)
        else:
            flash(gettext("Wallet topped up."), "success")
            return redirect(url_for("admin.member_detail", member_id=member.id))
    return _render_member(user, db.session.get(Member, member_id), {"topup": form}, 400)


@bp.post("/members/<int:member_id>/grant")
@permission_required("credit_grants")
def member_grant(user, member_id: int):
    member = _visible_member(user, member_id)
    form = AmountReasonForm(prefix="grant")
    if form.validate_on_submit():
        try:
            if not form.reason.data:
                raise BadRequest("reason", "Say why the credit is given.")
            wallet.grant_credit(db.session, actor=staff_actor(user), amount_rials=form.amount.data,
                                reason=form.reason.data, now=clock(), member_id=member.id,
                                expires_at=form.expires_on.as_utc_end_of_day(),
                                request_key=counter.request_key("grant", form.request_key.data))
        except DomainError as error:
            apply_error(form, error, {"expires_at": "expires_on"})
        else:
            flash(gettext("Credit granted."), "success")
            return redirect(url_for("admin.member_detail", member_id=member.id))
    return _render_member(user, db.session.get(Member, member_id), {"grant": form}, 400)


@bp.post("/members/<int:member_id>/transfer")
@permission_required("credit_grants")
def member_transfer(user, member_id: int):
    member = _visible_member(user, member_id)
    form = TransferForm(prefix="transfer")
    if form.validate_on_submit():
        receiver = _exact_lookup(form.to_member.data)
        try:
            if receiver is None or receiver.is_gift_account:
                raise BadRequest("to_member", "No member has that card or mobile number.")
            wallet.transfer_credit(db.session, actor=staff_actor(user), from_member_id=member.id,
                                   to_member_id=receiver.id, amount_rials=form.amount.data,
                                   idempotency_key=f"panel:transfer:{form.request_key.data}",
                                   now=clock())
        except DomainError as error:
            apply_error(form, error, {"to": "to_member"})
        else:
            flash(gettext("Credit transferred."), "success")
            return redirect(url_for("admin.member_detail", member_id=member.id))
    return _render_member(user, db.session.get(Member, member_id), {"transfer": form}, 400)


@bp.post("/members/<int:member_id>/convert-points")
@permission_required("purchases")
def member_convert_points(user, member_id: int):
    """L1 at the counter: the member's points into credit."""
    member = _visible_member(user, member_id)
    form = ConvertPointsForm(prefix="convert")
    if form.validate_on_submit():
        try:
            wallet.convert_points(db.session, actor=staff_actor(user), member_id=member.id,
                                  points=form.points.data,
                                  idempotency_key=counter.request_key(
                                      "convert", form.request_key.data), now=clock())
        except DomainError as error:
            apply_error(form, error)
        else:
            flash(gettext("Points converted to credit."), "success")
            return redirect(url_for("admin.member_detail", member_id=member.id))
    return _render_member(user, db.session.get(Member, member_id), {"convert": form}, 400)


@bp.post("/members/<int:member_id>/redeem-reward")
@permission_required("purchases")
def member_redeem_reward(user, member_id: int):
    """L1 at the counter: a reward from the catalogue for the member's points."""
    member = _visible_member(user, member_id)
    form = _redeem_form()
    if form.validate_on_submit():
        try:
            rewards.redeem(db.session, actor=staff_actor(user),
                           member_id=member.id, reward_id=form.reward_id.data,
                           channel="counter", staff_user_id=user.id, now=clock(),
                           gift_card_number=form.gift_card_number.data or None,
                           idempotency_key=counter.request_key("reward", form.request_key.data))
        except DomainError as error:
            apply_error(form, error, {"reward": "reward_id", "card": "gift_card_number"})
        else:
            flash(gettext("Reward given."), "success")
            return redirect(url_for("admin.member_detail", member_id=member.id))
    return _render_member(user, db.session.get(Member, member_id), {"redeem": form}, 400)


@bp.post("/members/<int:member_id>/hand-over/<int:redemption_id>")
@permission_required("purchases")
def member_hand_over(user, member_id: int, redemption_id: int):
    """A product the member took in the portal is handed over at the counter."""
    member = _visible_member(user, member_id)
    try:
        rewards.hand_over(db.session, actor=staff_actor(user),
                          redemption_id=redemption_id, member_id=member.id,
                          staff_user_id=user.id, now=clock())
    except DomainError as error:
        apply_error(None, error)
    else:
        flash(gettext("Reward handed over."), "success")
    return redirect(url_for("admin.member_detail", member_id=member.id))


@bp.post("/members/<int:member_id>/refund/<int:purchase_id>")
@permission_required("refunds")
def member_refund(user, member_id: int, purchase_id: int):
    """A refund asks first: the row's button shows what would be reversed, and only the
    confirmation page's button (carrying `confirm`) refunds. Without JavaScript too."""
    member = _visible_member(user, member_id)
    purchase = db.session.get(Purchase, purchase_id)
    if purchase is None or purchase.member_id != member.id:
        abort(404)
    form = RefundForm(prefix=f"refund{purchase_id}")
    if form.validate_on_submit():
        confirmed = request.form.get("confirm") == "1"
        try:
            if not confirmed:
                preview = counter.refund_preview(db.session, purchase_id=purchase_id,
                                                 amount_rials=form.amount.data,
                                                 staff_user_id=user.id,
                                                 request_key=form.request_key.data)
                return render_template("members/refund_confirm.html", user=user,
                                       member=member, form=form, purchase=preview[0],
                                       parts=preview[1], amount=preview[2])
            counter.refund(db.session, actor=staff_actor(user),
                           purchase_id=purchase_id, amount_rials=form.amount.data,
                           request_key=form.request_key.data, staff_user_id=user.id,
                           now=clock())
        except DomainError as error:
            apply_error(form, error)
            flash(gettext("The refund was not made:") + " " + "; ".join(
                str(message) for messages in form.errors.values() for message in messages),
                "error")
        else:
            flash(gettext("Purchase refunded."), "success")
            return redirect(url_for("admin.member_detail", member_id=member.id))
    return _render_member(user, db.session.get(Member, member_id), status=400)


@bp.post("/members/<int:member_id>/replace-card")
@permission_required("members")
def member_replace_card(user, member_id: int):
    """C3: block the lost card (if one is named) and issue the new one; the balance
    belongs to the member, so it carries over whole."""
    member = _visible_member(user, member_id)
    form = _replace_form(member)
    if form.validate_on_submit():
        try:
            card_lifecycle.issue_replacement(db.session, actor=staff_actor(user),
                                             member_id=member.id,
                                             new_card_number=form.new_card_number.data,
                                             lost_card_number=form.lost_card.data, now=clock())
        except DomainError as error:
            apply_error(form, error, {"new_card": "new_card_number"})
        else:
            flash(gettext("The new card is active; the old cards are blocked."), "success")
            return redirect(url_for("admin.member_detail", member_id=member.id))
    return _render_member(user, db.session.get(Member, member_id), {"replace": form}, 400)


@bp.post("/members/<int:member_id>/block-card")
@permission_required("members")
def member_block_card(user, member_id: int):
    """C3: report a card lost or stolen; the next scan anywhere answers CARD_BLOCKED."""
    member = _visible_member(user, member_id)
    number = request.form.get("card", "")
    if number not in {card.number for card in member.cards}:
        abort(404)
    card_lifecycle.report_lost_card(db.session, actor=staff_actor(user), card_number=number,
                                    now=clock())
    flash(gettext("The card is blocked."), "success")
    return redirect(url_for("admin.member_detail", member_id=member.id))
