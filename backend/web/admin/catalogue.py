"""The club's catalogue pages: tiers, offers, products, branches, custom member fields,
gift cards, terminals and the audit log. Each kind is one `Kind` description; list and
form views are shared so every kind gets search, pagination and field-level errors."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from wtforms import SelectChoice

from backend.engine.calendar import CLUB_TIMEZONE, local_day_end_utc, local_day_start_utc
from backend.errors import DomainError
from backend.extensions import db
from backend.models import (
    AuditLog,
    Branch,
    Card,
    Device,
    Member,
    MemberField,
    Offer,
    Product,
    Reward,
    StaffUser,
    Tier,
)
from backend.mqtt.publisher import BrokerPublisher
from backend.services import card_lifecycle, catalogue, terminal_commands
from backend.services.dashboard import ONLINE_STALE_AFTER
from backend.services.permissions import allowed, branch_scope
from backend.validators import parse_jalali_or_gregorian_date
from backend.web.admin import audit_labels
from backend.web.admin.blueprint import bp
from backend.web.admin.forms import (
    BranchForm,
    GiftCardForm,
    MemberFieldForm,
    OfferForm,
    ProductForm,
    RewardForm,
    TerminalCommandForm,
    TierForm,
)
from backend.web.auth import login_required, permission_required
from backend.web.common import apply_error, clock, page_number, paginate, staff_actor
from backend.web.fields import split_list
from card_spec import normalize_digits

MAX_QUERY_LENGTH = 64


def _local_midnight_utc(day) -> datetime | None:
    return None if day is None else local_day_start_utc(day)


def _local_end_of_day_utc(day) -> datetime | None:
    """A typed end date is included: the end is the day's last instant in Tehran."""
    return None if day is None else local_day_end_utc(day)


def _local_day(moment):
    return moment.astimezone(CLUB_TIMEZONE).date() if moment else None


@dataclass(frozen=True)
class Kind:
    name: str            # catalogue.MODELS key
    title: object        # page title (lazy translation)
    form: type
    permission: str
    columns: tuple       # (attribute, heading, format) for the list
    search: tuple        # searchable attributes
    to_values: object    # form -> model values
    to_form: object      # model -> form data (for GET on edit)


def _tier_values(form):
    return {"code": form.code.data, "name": form.name.data, "name_fa": form.name_fa.data,
            "rank": form.rank.data or 0, "credit_percent_bp": form.credit_percent.data or 0,
            "discount_percent_bp": form.discount_percent.data or 0,
            "points_per_step": form.points_per_step.data or 0,
            "point_step_rials": form.point_step.data, "min_spend_rials": form.min_spend.data or 0,
            "min_purchases": form.min_purchases.data or 0, "qualify_mode": form.qualify_mode.data,
            "max_credit_per_invoice_rials": form.max_credit_per_invoice.data,
            "max_credit_per_day_rials": form.max_credit_per_day.data}


def _tier_form(row):
    return {"code": row.code, "name": row.name, "name_fa": row.name_fa, "rank": row.rank,
            "credit_percent": row.credit_percent_bp, "discount_percent": row.discount_percent_bp,
            "points_per_step": row.points_per_step, "point_step": row.point_step_rials,
            "min_spend": row.min_spend_rials, "min_purchases": row.min_purchases,
            "qualify_mode": row.qualify_mode,
            "max_credit_per_invoice": row.max_credit_per_invoice_rials,
            "max_credit_per_day": row.max_credit_per_day_rials}


_OFFER_PLAIN = ("name", "is_active", "exclusive", "max_uses_per_member", "reward_kind",
                "reward_value", "reward_expiry_days", "min_days_since_last_visit",
                "min_visit_number", "max_visit_number", "birthday_window_days",
                "anniversary_window_days", "tier_codes", "first_purchase_only")


def _offer_values(form):
    values = {key: getattr(form, key).data for key in _OFFER_PLAIN}
    values["priority"] = form.priority.data if form.priority.data is not None else 100
    values["min_amount_rials"] = form.min_amount.data
    values["starts_at"] = _local_midnight_utc(form.starts_on.data)
    values["ends_at"] = _local_end_of_day_utc(form.ends_on.data)
    values["tier_codes"] = ",".join(split_list(form.tier_codes.data))
    values["weekdays"] = sorted(int(day) for day in form.weekdays.data or [])
    values["from_minute"] = form.from_time.data
    values["until_minute"] = form.until_time.data
    return values


def _offer_form(row):
    data = {key: getattr(row, key) for key in _OFFER_PLAIN}
    data.update(priority=row.priority, min_amount=row.min_amount_rials,
                starts_on=_local_day(row.starts_at), ends_on=_local_day(row.ends_at),
                weekdays=[str(day) for day in row.weekdays or []], from_time=row.from_minute,
                until_time=row.until_minute)
    return data


def _product_values(form):
    return {"sku": form.sku.data, "name": form.name.data, "price_rials": form.price.data or 0,
            "points_per_unit": form.points_per_unit.data or 0,
            "discount_percent_bp": form.discount_percent.data or 0,
            "extra_credit_per_unit_rials": form.extra_credit_per_unit.data or 0,
            "stock": form.stock.data, "is_active": form.is_active.data}


def _product_form(row):
    return {"sku": row.sku, "name": row.name, "price": row.price_rials,
            "points_per_unit": row.points_per_unit, "discount_percent": row.discount_percent_bp,
            "extra_credit_per_unit": row.extra_credit_per_unit_rials, "stock": row.stock,
            "is_active": row.is_active}


def _reward_values(form):
    return {"name": form.name.data, "kind": form.kind.data,
            "points_cost": form.points_cost.data, "value_rials": form.value.data or 0,
            "product_id": form.product_id.data if form.kind.data == "product" else None,
            "valid_days": form.valid_days.data, "stock": form.stock.data,
            "is_active": form.is_active.data}


def _reward_form(row):
    return {"name": row.name, "kind": row.kind, "points_cost": row.points_cost,
            "value": row.value_rials, "product_id": row.product_id,
            "valid_days": row.valid_days, "stock": row.stock, "is_active": row.is_active}


def _branch_values(form):
    return {"code": form.code.data, "name": form.name.data, "phone": form.phone.data or "",
            "address": form.address.data or "", "is_active": form.is_active.data}


def _branch_form(row):
    return {"code": row.code, "name": row.name, "phone": row.phone, "address": row.address,
            "is_active": row.is_active}


def _field_values(form):
    choices = split_list(form.choices.data)
    return {"key": form.key.data, "label": form.label.data, "label_fa": form.label_fa.data,
            "kind": form.kind.data, "choices": choices, "required": form.required.data,
            "is_active": form.is_active.data, "position": form.position.data or 0}


def _field_form(row):
    return {"key": row.key, "label": row.label, "label_fa": row.label_fa, "kind": row.kind,
            "choices": ", ".join(row.choices or []), "required": row.required,
            "is_active": row.is_active, "position": row.position}


KINDS = {
    "tiers": Kind("tier", _l("Tiers"), TierForm, "offers",
                  (("code", _l("Code"), "text"), ("name", _l("Name (English)"), "text"),
                   ("name_fa", _l("Name (Persian)"), "text"),
                   ("rank", _l("Rank"), "number"), ("credit_percent_bp", _l("Credit back"), "bp"),
                   ("discount_percent_bp", _l("Discount"), "bp"),
                   ("min_spend_rials", _l("Minimum spend"), "money")),
                  ("code", "name", "name_fa"), _tier_values, _tier_form),
    "offers": Kind("offer", _l("Offers and campaigns"), OfferForm, "offers",
                   (("name", _l("Name"), "text"), ("reward_kind", _l("Reward"), "reward"),
                    ("reward_value", _l("Reward value"), "reward_value"),
                    ("is_active", _l("Active"), "bool"), ("starts_at", _l("Starts"), "date"),
                    ("ends_at", _l("Ends"), "date")),
                   ("name",), _offer_values, _offer_form),
    "products": Kind("product", _l("Products and services"), ProductForm, "offers",
                     (("sku", _l("SKU"), "text"), ("name", _l("Name"), "text"),
                      ("price_rials", _l("Price"), "money"),
                      ("points_per_unit", _l("Points per unit"), "number"),
                      ("stock", _l("Stock"), "number"), ("is_active", _l("Active"), "bool")),
                     ("sku", "name"), _product_values, _product_form),
    "rewards": Kind("reward", _l("Rewards for points"), RewardForm, "offers",
                    (("name", _l("Name"), "text"), ("points_cost", _l("Points it costs"), "number"),
                     ("value_rials", _l("Value"), "money"), ("stock", _l("Stock"), "number"),
                     ("is_active", _l("Active"), "bool")),
                    ("name",), _reward_values, _reward_form),
    "branches": Kind("branch", _l("Branches"), BranchForm, "settings",
                     (("code", _l("Code"), "text"), ("name", _l("Name"), "text"),
                      ("phone", _l("Phone"), "number"), ("is_active", _l("Active"), "bool")),
                     ("code", "name"), _branch_values, _branch_form),
    "member-fields": Kind("member_field", _l("Custom member fields"), MemberFieldForm,
                          "settings",
                          (("key", _l("Key"), "text"), ("label", _l("Label (English)"), "text"),
                           ("label_fa", _l("Label (Persian)"), "text"),
                           ("kind", _l("Kind"), "text"), ("required", _l("Required"), "bool"),
                           ("is_active", _l("Active"), "bool")),
                          ("key", "label", "label_fa"), _field_values, _field_form),
}
MODELS = {"tier": Tier, "offer": Offer, "product": Product, "branch": Branch,
          "member_field": MemberField, "reward": Reward}


def _kind(kind_name: str) -> Kind:
    kind = KINDS.get(kind_name)
    if kind is None:
        abort(404)
    return kind


def _check(user, kind: Kind):
    if not allowed(user, kind.permission):
        abort(403)


@bp.get("/catalogue/<kind_name>")
@login_required  # the kind's own permission is checked in the view
def catalogue_list(user, kind_name: str):
    kind = _kind(kind_name)
    _check(user, kind)
    model = MODELS[kind.name]
    statement = select(model)
    query = request.args.get("q", "").strip()[:MAX_QUERY_LENGTH]
    if query:
        statement = statement.where(or_(*[getattr(model, column).ilike(f"%{query}%")
                                          for column in kind.search]))
    if request.args.get("active") == "1" and hasattr(model, "is_active"):
        statement = statement.where(model.is_active)
    page = paginate(statement.order_by(model.id), page_number(request.args.get("page")))
    return render_template("catalogue/list.html", user=user, kind=kind, kind_name=kind_name,
                           page=page, q=query, active=request.args.get("active"))


@bp.route("/catalogue/<kind_name>/new", methods=["GET", "POST"])
@bp.route("/catalogue/<kind_name>/<int:row_id>", methods=["GET", "POST"])
@login_required  # the kind's own permission is checked in the view
def catalogue_edit(user, kind_name: str, row_id: int | None = None):
    kind = _kind(kind_name)
    _check(user, kind)
    row = None
    if row_id is not None:
        row = db.session.get(MODELS[kind.name], row_id)
        if row is None:
            abort(404)
    form = kind.form(data=kind.to_form(row)) if row is not None and request.method == "GET" \
        else kind.form()
    if kind.name == "reward":
        form.product_id.choices = [SelectChoice("", "—")] + [
            SelectChoice(str(product.id), f"{product.name} ({product.sku})")
            for product in db.session.scalars(
                select(Product).where(Product.is_active).order_by(Product.name))]
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                catalogue.save(db.session, kind.name, row_id, kind.to_values(form),
                               actor=staff_actor(user))
            except DomainError as error:
                apply_error(form, error, {"point_step_rials": "point_step"})
            else:
                flash(gettext("Saved."), "success")
                return redirect(url_for("admin.catalogue_list", kind_name=kind_name))
    return render_template("catalogue/form.html", user=user, kind=kind, kind_name=kind_name,
                           form=form, row=row), status


@bp.route("/gift-cards", methods=["GET", "POST"])
@permission_required("offers")
def gift_cards(user):
    """C4: issue a gift card with a value and an expiry; list the issued ones."""
    form = GiftCardForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                card_lifecycle.issue_gift_card(
                    db.session, actor=staff_actor(user), card_number=form.card_number.data,
                    value_rials=form.value.data,
                    expires_at=form.expires_on.as_utc_end_of_day(), now=clock())
            except DomainError as error:
                apply_error(form, error, {"card": "card_number", "expires_at": "expires_on"})
            else:
                flash(gettext("Gift card issued."), "success")
                return redirect(url_for("admin.gift_cards"))
    statement = (select(Card, Member).join(Member, Member.id == Card.member_id)
                 .where(Member.is_gift_account).order_by(Card.id.desc()))
    query = normalize_digits(request.args.get("q", "").strip()[:MAX_QUERY_LENGTH])
    if query:
        statement = statement.where(Card.number.like(f"%{query}%"))
    card_status = request.args.get("status", "")
    if card_status in ("active", "blocked"):
        statement = statement.where(Card.status == card_status)
    if request.args.get("credit") == "1":
        statement = statement.where(Member.credit_balance_rials > 0)
    page = paginate(statement, page_number(request.args.get("page")), scalars=False)
    return render_template("catalogue/gift_cards.html", user=user, form=form, page=page,
                           q=query, status=card_status, credit=request.args.get("credit")
                           ), status


@bp.get("/terminals")
@permission_required("devices")
def terminals(user):
    statement = select(Device).order_by(Device.id)
    query = request.args.get("q", "").strip()[:MAX_QUERY_LENGTH]
    if query:
        statement = statement.where(Device.id.ilike(f"%{query}%"))
    status = request.args.get("status", "")
    if status in ("active", "revoked"):
        statement = statement.where(Device.status == status)
    page = paginate(statement, page_number(request.args.get("page")))
    now = clock()
    online = {device.id: bool(device.is_online and device.state_at
                              and device.state_at >= now - ONLINE_STALE_AFTER)
              for device in page.rows}
    scope = branch_scope(user)
    # The refund PIN and window are set per branch: links to the branches this user has.
    branches = select(Branch).where(Branch.is_active).order_by(Branch.id)
    if scope is not None:
        branches = branches.where(Branch.id == scope)
    branches = db.session.scalars(branches).all()
    return render_template("catalogue/terminals.html", user=user, page=page, online=online,
                           q=query, status=status, scope=scope, branches=branches)


@bp.route("/terminals/<device_id>/command", methods=["GET", "POST"])
@permission_required("devices")
def terminal_command(user, device_id):
    """Send one command to a terminal: a message on its screen, a config reload, a
    restart. Operators reach the terminals of their own branch only."""
    device = db.session.get(Device, device_id[:32])
    scope = branch_scope(user)
    if device is None or (scope is not None and device.branch_id != scope):
        abort(404)
    form = TerminalCommandForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            publisher = BrokerPublisher.from_config(current_app.config)
            try:
                terminal_commands.send_command(
                    db.session, publisher.publish, device.id, form.operation.data,
                    form.text.data or "", clock(), branch_id=scope, actor=staff_actor(user))
            except DomainError as error:
                apply_error(form, error)
            else:
                flash(gettext("Sent to terminal %(device)s.", device=device.id), "success")
                return redirect(url_for("admin.terminal_command", device_id=device.id))
    return render_template("catalogue/terminal_command.html", user=user, device=device,
                           form=form), status


@bp.get("/audit")
@permission_required("reports")
def audit_log(user):
    statement = select(AuditLog).order_by(AuditLog.id.desc())
    action = request.args.get("action", "").strip()[:48]
    if action:
        statement = statement.where(AuditLog.action == action)
    staff_id = request.args.get("staff", type=int)
    if staff_id:
        statement = statement.where(AuditLog.staff_user_id == staff_id)
    query = request.args.get("q", "").strip()[:MAX_QUERY_LENGTH]
    if query:  # what was changed: the entity or its id, or the address it came from
        statement = statement.where(or_(AuditLog.entity.ilike(f"%{query}%"),
                                        AuditLog.entity_id == normalize_digits(query),
                                        AuditLog.ip == query))
    days = {}
    for name in ("from", "to"):
        typed = request.args.get(name, "").strip()[:32]
        try:
            days[name] = parse_jalali_or_gregorian_date(typed) if typed else None
        except ValueError:
            flash(gettext("Enter a date like 1405/08/30."), "error")
            days[name] = None
    if days["from"]:
        statement = statement.where(AuditLog.at >= _local_midnight_utc(days["from"]))
    if days["to"]:
        statement = statement.where(
            AuditLog.at < _local_midnight_utc(days["to"] + timedelta(days=1)))
    page = paginate(statement, page_number(request.args.get("page")))
    staff_users = db.session.scalars(select(StaffUser).order_by(StaffUser.username)).all()
    actions = db.session.scalars(select(AuditLog.action).distinct().order_by(
        AuditLog.action)).all()
    return render_template("audit.html", user=user, page=page, action=action, q=query,
                           staff_id=staff_id, staff_users=staff_users, actions=actions,
                           action_label=audit_labels.action_label,
                           entity_label=audit_labels.entity_label,
                           detail_lines=audit_labels.detail_lines,
                           day_from=request.args.get("from", "")[:32],
                           day_to=request.args.get("to", "")[:32])
