"""The club's settings (point value, caps, offline window, texts, name and logo)."""

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_babel import gettext

from backend.errors import DomainError
from backend.extensions import db
from backend.models import Club, the_club
from backend.services import branding, catalogue
from backend.web.admin.blueprint import bp
from backend.web.admin.forms import SettingsForm
from backend.web.auth import permission_required
from backend.web.common import apply_error, staff_actor, translate_error

_PLAIN = ("name", "name_fa", "currency_display", "offline_window_days", "tier_window_days",
          "instant_cashback", "credit_cross_branch", "contact_address")
_AMOUNTS = {"point_value": "point_value_rials", "welcome_credit": "welcome_credit_rials",
            "referral_join_bonus": "referral_join_bonus_rials",
            "referral_first_purchase_bonus": "referral_first_purchase_bonus_rials",
            "max_transfer": "max_transfer_rials",
            "max_transfer_per_day": "max_transfer_per_day_rials"}
_LINKS = ("instagram", "telegram", "website")


def _uploads_dir():
    return current_app.config["INSTANCE_DIR"] / "uploads"


def _form_data(club: Club) -> dict:
    data = {key: getattr(club, key) for key in _PLAIN}
    data.update({field: getattr(club, column) for field, column in _AMOUNTS.items()})
    data["referral_commission_bp"] = club.referral_commission_bp
    data["contact_phone"] = club.contact_phone
    data.update({link: (club.social_links or {}).get(link, "") for link in _LINKS})
    data["points_min_convert"] = club.points_min_convert
    data["points_expiry_days"] = club.points_expiry_days
    data["profile_reward_kind"] = club.profile_reward_kind
    reward = club.profile_reward_value
    data["profile_reward_credit"] = reward if club.profile_reward_kind == "credit" else None
    data["profile_reward_points"] = reward if club.profile_reward_kind == "points" else None
    weekdays = list(club.weekday_points_percent or [100] * 7)
    data.update({f"weekday_{day}": weekdays[day] for day in range(7)})
    return data


def _values(form: SettingsForm) -> dict:
    values = {key: getattr(form, key).data for key in _PLAIN}
    for key in ("name_fa", "contact_address"):
        values[key] = values[key] or ""
    values.update({column: getattr(form, field).data or 0 for field, column in _AMOUNTS.items()})
    values["referral_commission_bp"] = form.referral_commission_bp.data or 0
    values["contact_phone"] = form.contact_phone.data or ""
    values["social_links"] = {link: getattr(form, link).data for link in _LINKS
                              if getattr(form, link).data}
    values["points_min_convert"] = form.points_min_convert.data or 0
    values["points_expiry_days"] = form.points_expiry_days.data or None
    kind = form.profile_reward_kind.data
    values["profile_reward_kind"] = kind
    values["profile_reward_value"] = {
        "credit": form.profile_reward_credit.data, "points": form.profile_reward_points.data,
    }.get(kind) or 0
    weekdays = [getattr(form, f"weekday_{day}").data for day in range(7)]
    values["weekday_points_percent"] = [100 if value is None else value for value in weekdays]
    return values


@bp.route("/settings", methods=["GET", "POST"])
@permission_required("settings")
def settings(user):
    club = the_club(db.session)
    if club is None:
        abort(404)
    form = SettingsForm(data=_form_data(club)) if request.method == "GET" else SettingsForm()
    status, logo_error = 200, ""
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            values = _values(form)
            try:
                upload = request.files.get("logo")
                if upload is not None and upload.filename:
                    values["logo_filename"] = branding.store_logo(
                        upload.read(branding.MAX_LOGO_BYTES + 1), _uploads_dir())
                catalogue.save_settings(db.session, values, actor=staff_actor(user))
            except DomainError as error:
                if getattr(error, "field", "") == "logo":  # not a WTForms field: the file
                    logo_error = translate_error(error)
                else:
                    apply_error(form, error)
            else:
                flash(gettext("Saved."), "success")
                return redirect(url_for("admin.settings"))
    return render_template("settings.html", user=user, form=form, club=club,
                           logo_error=logo_error), status


@bp.get("/club-logo")
def club_logo():
    club = the_club(db.session)
    if club is None or not club.logo_filename:
        abort(404)
    return send_from_directory(_uploads_dir(), club.logo_filename, mimetype="image/png",
                               max_age=3600)
