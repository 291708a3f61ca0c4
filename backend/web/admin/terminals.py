"""A terminal's page (issues 15 and 17): what it may do with money — top-ups and refunds
with their limits, its refund PIN and window — and what the backend refused it; and a
branch's refund PIN and window, the default of its terminals. Operators with "devices"
reach their own branch only. The rules live in backend/services/terminal_policy.py."""

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm

from backend.errors import DomainError
from backend.extensions import db
from backend.i18n import N_, format_amount
from backend.models import Branch, Device, TerminalHealth
from backend.mqtt.publisher import BrokerPublisher
from backend.services import (
    devices,
    firmware_builds,
    terminal_commands,
    terminal_policy,
)
from backend.services.dashboard import ONLINE_STALE_AFTER
from backend.services.permissions import branch_scope
from backend.web.admin.blueprint import bp
from backend.web.admin.firmware import ROLLOUT_LABELS
from backend.web.admin.forms import (
    TERMINAL_OPERATIONS,
    BranchRefundForm,
    RemoteConfigForm,
    TerminalSettingsForm,
)
from backend.web.auth import permission_required
from backend.web.common import (
    apply_error,
    clock,
    page_number,
    paginate,
    staff_actor,
    translate_error,
)

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
    # terminal_commands (remote config, issue 16)
    N_("The display contrast is 0 to 255."),
    N_("The idle timeout is 10 to 3600 seconds."),
    N_("The receipt footer is at most 96 characters."),
    N_("Unknown operation."),
    N_("There is no configuration to send."),
)
OPERATIONS = {"topup": _l("Top-up"), "refund": _l("Refund"), "purchase": _l("Purchase")}
# Issue 16: what the terminals page warns of (backend.services.devices.warnings).
WARNING_LABELS = {
    "revoked": _l("revoked"),
    "offline": _l("offline"),
    "wrong_key": _l("wrong key"),
    "clock": _l("clock not synced"),
    "stuck": _l("journal stuck"),
    "paper": _l("paper out"),
    "printer": _l("printer error"),
    "config": _l("config not applied"),
}
# The printer errors the firmware reports (`perr`, vafa.hw.esp32.ReceiptPrinter.last_error):
# shown in the panel's language; any other text is shown as the terminal sent it.
PRINTER_ERRORS = {
    "no answer to status request": _l("The printer does not answer (off or unplugged)."),
    "receipt dropped: queue full": _l("A receipt was dropped: the print queue was full."),
}
PRINTER_WRITE_FAILED = "write failed: "


def _health(device_id: str):
    return db.session.get(TerminalHealth, device_id)


@bp.app_template_global()
def printer_error_label(error: str) -> tuple[str, str]:
    """(label in the panel's language, the terminal's own detail or "") of a `perr`; an
    unknown text is its own detail with no label (shown left to right, as it came)."""
    if error in PRINTER_ERRORS:
        return str(PRINTER_ERRORS[error]), ""
    if error.startswith(PRINTER_WRITE_FAILED):
        return gettext("Writing to the printer failed."), error[len(PRINTER_WRITE_FAILED):]
    return "", error


@bp.app_template_global()
def terminal_warnings(device) -> list[tuple[str, str]]:
    """(code, Persian or English label) of what is wrong with a terminal."""
    codes = devices.warnings(device, _health(device.id), clock(), ONLINE_STALE_AFTER)
    return [(code, str(WARNING_LABELS[code])) for code in codes]


@bp.app_template_global()
def firmware_rollout(device_id: str) -> dict | None:
    """The terminal's firmware update (OTA): version offered, Persian or English label of
    how far it got, the failure's detail."""
    row = firmware_builds.rollout_of(db.session, device_id)
    if row is None:
        return None
    return {"state": row.state, "label": str(ROLLOUT_LABELS[row.state]),
            "version": row.build.version, "detail": row.detail, "pct": row.pct,
            "updated_at": row.updated_at, "offered_at": row.offered_at}


def _publish():
    return BrokerPublisher.from_config(current_app.config).publish


def _deliver(user, device, action: str) -> bool:
    """Send the pending config now; False (flashed) when the broker did not take it."""
    try:
        terminal_commands.send_config(db.session, _publish(), device.id, clock(),
                                      branch_id=branch_scope(user), actor=staff_actor(user),
                                      action=action)
    except DomainError as error:
        # The pending config was committed when it was saved; "Send again" retries.
        flash(gettext("Saved, not sent: %(reason)s", reason=translate_error(error)), "error")
        return False
    return True


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
                    db.session, device.id, settings, branch_id=branch_scope(user),
                    actor=staff_actor(user))
            except DomainError as error:
                apply_error(form, error)
            else:
                if "refund_pin" in changes and device.status == "active":
                    # The terminal checks its own PIN too (remote config, issue 16): the
                    # service staged it; send it now.
                    _deliver(user, device, "terminal_config")
                flash(gettext("Saved."), "success")
                return redirect(url_for("admin.terminal_page", device_id=device.id))
    refusals = paginate(terminal_policy.refusal_query(device.id),
                        page_number(request.args.get("refusals_page")), LIST_SIZE)
    sales = paginate(terminal_policy.refused_sales_query(device.id),
                     page_number(request.args.get("sales_page")), LIST_SIZE)
    health = _health(device.id)
    return render_template("catalogue/terminal.html", user=user, device=device, form=form,
                           refusals=refusals, sales=sales, policy_reason=policy_reason,
                           sale_reason=sale_reason, operations=OPERATIONS, health=health,
                           config_form=_config_form(device, health),
                           resend=terminal_commands.last_resend(db.session, device.id),
                           operation_labels=dict(TERMINAL_OPERATIONS)), status


def _config_form(device, health):
    pending = (health.pending if health is not None else None) or {}
    data = {"lang": pending.get("lang", device.lang), "contrast": pending.get("contrast", 255),
            "footer": pending.get("footer", ""), "idle_s": pending.get("idle_s", 60),
            "ops": pending.get("ops", [value for value, _label in TERMINAL_OPERATIONS])}
    return RemoteConfigForm(data=data)


@bp.post("/terminals/<device_id>/config")
@permission_required("devices")
def terminal_config(user, device_id):
    """Save the terminal's remote config and send it (cmd "set"); "resend" only sends."""
    device = _device_in_scope(user, device_id)
    if request.form.get("resend"):
        if _deliver(user, device, "terminal_config"):
            flash(gettext("Sent to terminal %(device)s.", device=device.id), "success")
        return redirect(url_for("admin.terminal_page", device_id=device.id))
    form = RemoteConfigForm()
    if form.validate_on_submit():
        try:
            settings = terminal_commands.check_remote_settings(terminal_commands.RemoteSettings(
                lang=form.lang.data, contrast=form.contrast.data, footer=form.footer.data or "",
                idle_s=form.idle_s.data, ops=tuple(form.ops.data or ())))
            terminal_commands.save_config(db.session, device.id, settings,
                                          actor=staff_actor(user), branch_id=branch_scope(user))
        except DomainError as error:
            apply_error(form, error)
        else:
            if _deliver(user, device, "terminal_config"):
                flash(gettext("Sent to terminal %(device)s.", device=device.id), "success")
            return redirect(url_for("admin.terminal_page", device_id=device.id))
    for name, errors in form.errors.items():
        for error in errors:
            flash(f"{getattr(form, name).label.text}: {error}", "error")
    return redirect(url_for("admin.terminal_page", device_id=device.id))


@bp.post("/terminals/<device_id>/logs")
@permission_required("devices")
def terminal_logs(user, device_id):
    """Ask the terminal for its last log lines (cmd "logs"); they show on its page."""
    device = _device_in_scope(user, device_id)
    form = FlaskForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        terminal_commands.request_logs(db.session, _publish(), device.id, clock(),
                                       branch_id=branch_scope(user), actor=staff_actor(user))
    except DomainError as error:
        flash(translate_error(error), "error")
    else:
        flash(gettext("Asked terminal %(device)s for its logs.", device=device.id), "success")
    return redirect(url_for("admin.terminal_page", device_id=device.id))


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
                terminal_policy.save_branch_refund_settings(
                    db.session, branch.id, window_hours=form.refund_window_hours.data,
                    pin=form.refund_pin.data or "", clear_pin=form.clear_refund_pin.data,
                    actor=staff_actor(user))
            except DomainError as error:
                apply_error(form, error)
            else:
                flash(gettext("Saved."), "success")
                return redirect(url_for("admin.branch_refunds", branch_id=branch.id))
    return render_template("catalogue/branch_refunds.html", user=user, branch=branch,
                           form=form), status
