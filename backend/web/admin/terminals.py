"""A terminal's page (issues 15 and 17): what it may do with money — top-ups and refunds
with their limits, its refund PIN and window — and what the backend refused it; and a
branch's refund PIN and window, the default of its terminals. Operators with "devices"
reach their own branch only. The rules live in backend/services/terminal_policy.py."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l

from backend.errors import DomainError
from backend.extensions import db
from backend.i18n import format_amount
from backend.models import Branch, Device
from backend.services import audit, terminal_policy
from backend.services.permissions import branch_scope
from backend.web.admin import apply_error, bp, page_number, paginate
from backend.web.auth import client_ip, permission_required
from backend.web.forms import BranchRefundForm, TerminalSettingsForm
from backend.web.messages import N_

LIST_SIZE = 10
_SETTINGS = ("topup_allowed", "topup_max_rials", "topup_max_per_day_rials", "refund_allowed",
             "refund_max_rials", "refund_max_per_day_rials", "refund_window_hours")

# Why terminal_policy refused a top-up or refund (the audit row's `reason`).
POLICY_REASONS = {
    "topup_off": _l("Top-ups are off for this terminal."),
    "refund_off": _l("Refunds are off for this terminal."),
    "topup_each": _l("Above the limit of %(limit)s per top-up."),
    "refund_each": _l("Above the limit of %(limit)s per refund."),
    "topup_day": _l("Above the daily top-up limit of %(limit)s; %(left)s was left."),
    "refund_day": _l("Above the daily refund limit of %(limit)s; %(left)s was left."),
    "pin_missing": _l("No refund PIN is set for this terminal or its branch."),
    "pin_wrong": _l("Wrong or missing refund PIN."),
    "pin_locked": _l("Refunds locked after too many wrong PINs."),
    "too_late": _l("Outside the refund window of %(hours)s hours."),
}
# Why the backend refused a sale (the stored answer's code).
SALE_REASONS = {
    "STALE": _l("The offline sale was older than the club's offline window."),
    "CARD_UNKNOWN": _l("No member has this card."),
    "CARD_BLOCKED": _l("This card is blocked."),
    "CARD_INVALID": _l("The card number is not valid."),
    "INSUFFICIENT_CREDIT": _l("Not enough credit."),
    "LIMIT": _l("This is above the credit or transfer limit."),
    "REPLAY": _l("The terminal sent an old sequence number."),
    "ID_REUSED": _l("The terminal reused the number of another sale (was it reflashed?)."),
    "BAD_REQUEST": _l("The terminal sent a request the backend cannot read."),
    "NOT_ALLOWED": _l("Not allowed on this terminal."),
}
# terminal_policy's messages to the panel (translated where they are shown).
SERVICE_MESSAGES = (
    N_("A refund PIN is 4 to 8 digits."),
    N_("The refund window is 1 to 2160 hours."),
    N_("Set both top-up limits to allow top-ups."),
    N_("Enter an amount above zero."),
)
OPERATIONS = {"topup": _l("Top-up"), "refund": _l("Refund"), "purchase": _l("Purchase")}


def _money(rials) -> str:
    from flask import g

    return format_amount(int(rials), g.get("language", "fa"), g.get("currency_unit", "rial"))


def policy_reason(details: dict) -> str:
    text = POLICY_REASONS.get(details.get("reason"))
    if text is None:
        return str(details.get("code", ""))
    numbers = {key: _money(details[key]) for key in ("limit", "left") if key in details}
    if "hours" in details:
        numbers["hours"] = details["hours"]
    return str(text) % numbers if numbers else str(text)


def sale_reason(code: str | None) -> str:
    text = SALE_REASONS.get(code or "")
    return str(text) if text is not None else (code or "")


def _device_in_scope(user, device_id: str) -> Device:
    device = db.session.get(Device, device_id[:32])
    scope = branch_scope(user)
    if device is None or (scope is not None and device.branch_id != scope):
        abort(404)
    return device


@bp.route("/terminals/<device_id>", methods=["GET", "POST"])
@permission_required("devices")
def terminal_page(user, device_id):
    device = _device_in_scope(user, device_id)
    form = (TerminalSettingsForm(data={name: getattr(device, name) for name in _SETTINGS})
            if request.method == "GET" else TerminalSettingsForm())
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            settings = terminal_policy.TerminalSettings(
                **{name: getattr(form, name).data for name in _SETTINGS},
                refund_pin=form.refund_pin.data or "",
                clear_refund_pin=form.clear_refund_pin.data)
            try:
                changes = terminal_policy.save_terminal_settings(
                    db.session, device.id, settings, branch_id=branch_scope(user))
            except DomainError as error:
                db.session.rollback()
                apply_error(form, error)
            else:
                audit.note(staff_user_id=user.id, ip=client_ip(), action="terminal_settings",
                           entity="device", entity_id=device.id, details={"changes": changes})
                db.session.commit()
                flash(gettext("Saved."), "success")
                return redirect(url_for("admin.terminal_page", device_id=device.id))
    refusals = paginate(terminal_policy.refusal_query(device.id),
                        page_number(request.args.get("refusals_page")), LIST_SIZE)
    sales = paginate(terminal_policy.refused_sales_query(device.id),
                     page_number(request.args.get("sales_page")), LIST_SIZE)
    return render_template("catalogue/terminal.html", user=user, device=device, form=form,
                           refusals=refusals, sales=sales, policy_reason=policy_reason,
                           sale_reason=sale_reason, operations=OPERATIONS), status


@bp.route("/terminals/branches/<int:branch_id>", methods=["GET", "POST"])
@permission_required("devices")
def branch_refunds(user, branch_id):
    scope = branch_scope(user)
    branch = db.session.get(Branch, branch_id)
    if branch is None or (scope is not None and branch.id != scope):
        abort(404)
    form = (BranchRefundForm(data={"refund_window_hours": branch.refund_window_hours})
            if request.method == "GET" else BranchRefundForm())
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                changes = terminal_policy.save_branch_refund_settings(
                    db.session, branch.id, window_hours=form.refund_window_hours.data,
                    pin=form.refund_pin.data or "", clear_pin=form.clear_refund_pin.data)
            except DomainError as error:
                db.session.rollback()
                apply_error(form, error)
            else:
                audit.note(staff_user_id=user.id, ip=client_ip(),
                           action="branch_refund_settings", entity="branch",
                           entity_id=branch.id, details={"changes": changes})
                db.session.commit()
                flash(gettext("Saved."), "success")
                return redirect(url_for("admin.branch_refunds", branch_id=branch.id))
    return render_template("catalogue/branch_refunds.html", user=user, branch=branch,
                           form=form), status
