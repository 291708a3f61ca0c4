"""The Firmware page (issue 16, OTA), admins only: upload a build, see the builds and how
far each rollout got, roll a build out to a branch or one terminal, withdraw it; re-offer
a terminal its update. The rules live in backend/services/firmware_builds.py."""

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from sqlalchemy import select

from backend.errors import DomainError
from backend.extensions import db
from backend.i18n import N_, format_number
from backend.models import Branch
from backend.mqtt.publisher import BrokerPublisher
from backend.services import firmware_builds
from backend.web.admin.blueprint import bp
from backend.web.admin.forms import RolloutForm, UploadForm
from backend.web.auth import permission_required
from backend.web.common import apply_error, clock, staff_actor, translate_error
from card_spec import normalize_digits

# Why an upload was refused (firmware_builds.BuildRefused.reason).
REFUSALS = {
    "empty": _l("Choose a build file (the .tar that provisioning build writes)."),
    "too_large": _l("The build is too large: at most 64 files, 96 KB each, 512 KB in all."),
    "not_tar": _l("This file is not a firmware build: it is not an uncompressed tar."),
    "bad_manifest": _l("The build's manifest.json is not valid."),
    "hash_mismatch": _l("A file of the build does not match its size or hash in the "
                        "manifest."),
    "duplicate": _l("This build is already uploaded."),
    "duplicate_version": _l("A build of this version and kind is already uploaded."),
}
# How far a terminal's update got (firmware_rollouts.state).
ROLLOUT_LABELS = {
    "offered": _l("offered"),
    "downloading": _l("downloading"),
    "installed": _l("installed"),
    "trial": _l("on trial"),
    "running": _l("running"),
    "failed": _l("failed"),
    "rolled_back": _l("rolled back"),
}
SKIP_LABELS = {
    "kind": _l("runs another kind of build"),
    "same": _l("already runs this version"),
    "revoked": _l("revoked"),
}
BUILD_STATUS = {"active": _l("active"), "withdrawn": _l("withdrawn")}
# firmware_builds' refusals (translated where they are shown).
SERVICE_MESSAGES = (
    N_("This build was withdrawn."),
    N_("Choose a branch or one terminal."),
    N_("This terminal is revoked; it no longer listens."),
    N_("This terminal runs another kind of build (or has not said which)."),
    N_("This terminal already runs this version."),
    N_("Choose a branch."),
    N_("Nothing was offered to this terminal."),
    N_("There is no terminal with this id."),
)


def _publish():
    return BrokerPublisher.from_config(current_app.config).publish


def _base_url() -> str:
    return current_app.config.get("PUBLIC_URL") or request.host_url


def _rollout_form() -> RolloutForm:
    form = RolloutForm()
    form.branch_id.choices = [(branch.id, branch.name) for branch in db.session.scalars(
        select(Branch).where(Branch.is_active).order_by(Branch.id))]
    return form


def refusal_text(error: firmware_builds.BuildRefused) -> str:
    text = str(REFUSALS.get(error.reason, error.reason))
    return f"{text} ({error.detail})" if error.detail else text


@bp.route("/firmware", methods=["GET", "POST"])
@permission_required("firmware")
def firmware(user):
    form = UploadForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            data = form.build.data.read(firmware_builds.MAX_UPLOAD_BYTES + 1)
            try:
                build = firmware_builds.upload_build(db.session, data, actor=staff_actor(user),
                                                     note=form.note.data or "", now=clock())
            except firmware_builds.BuildRefused as error:
                form.build.errors = [refusal_text(error)]
            else:
                flash(gettext("Build %(version)s uploaded.", version=build.version), "success")
                return redirect(url_for("admin.firmware"))
    return render_template("catalogue/firmware.html", user=user, form=form,
                           builds=firmware_builds.list_builds(db.session),
                           rollout_form=_rollout_form(), labels=ROLLOUT_LABELS,
                           build_status=BUILD_STATUS), status


@bp.post("/firmware/<int:build_id>/rollout")
@permission_required("firmware")
def firmware_rollout(user, build_id):
    form = _rollout_form()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(str(error), "error")
        return redirect(url_for("admin.firmware"))
    target = {"branch_id": form.branch_id.data} if form.target.data == "branch" else {
        "device_id": normalize_digits(form.device_id.data or "").strip().lower()}
    try:
        result = firmware_builds.roll_out(db.session, _publish(), build_id,
                                          base_url=_base_url(), now=clock(),
                                          actor=staff_actor(user), **target)
    except DomainError as error:
        apply_error(None, error)
        return redirect(url_for("admin.firmware"))
    if result.broker_error is not None:  # the terminals sent so far keep their rows
        apply_error(None, result.broker_error)
    if result.offered or result.broker_error is None:
        flash(gettext("Build %(version)s offered to %(count)s terminals.",
                      version=result.build.version,
                      count=format_number(len(result.offered), g.get("language", "fa"))),
              "success")
    for device_id, reason in result.skipped:
        flash(gettext("Terminal %(device)s was not offered it: %(reason)s.", device=device_id,
                      reason=SKIP_LABELS[reason]), "info")
    return redirect(url_for("admin.firmware"))


@bp.post("/firmware/<int:build_id>/withdraw")
@permission_required("firmware")
def firmware_withdraw(user, build_id):
    if not FlaskForm().validate_on_submit():
        abort(400)
    try:
        build = firmware_builds.withdraw_build(db.session, build_id, actor=staff_actor(user))
    except DomainError as error:
        flash(translate_error(error), "error")
        return redirect(url_for("admin.firmware"))
    flash(gettext("Build %(version)s withdrawn.", version=build.version), "success")
    return redirect(url_for("admin.firmware"))


@bp.post("/terminals/<device_id>/firmware/reoffer")
@permission_required("firmware")
def firmware_reoffer(user, device_id):
    if not FlaskForm().validate_on_submit():
        abort(400)
    device_id = device_id[:32]
    try:
        result = firmware_builds.reoffer(db.session, _publish(), device_id,
                                         base_url=_base_url(), now=clock(),
                                         actor=staff_actor(user))
    except DomainError as error:
        flash(translate_error(error), "error")
        return redirect(url_for("admin.terminal_page", device_id=device_id))
    if result.broker_error is not None:
        flash(translate_error(result.broker_error), "error")
        return redirect(url_for("admin.terminal_page", device_id=device_id))
    flash(gettext("Build %(version)s offered again.", version=result.build.version), "success")
    return redirect(url_for("admin.terminal_page", device_id=device_id))
