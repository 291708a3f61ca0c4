"""Sign-in, sign-out, language and own password."""

from flask import abort, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user, login_user, logout_user

from backend.errors import BadRequest
from backend.extensions import db
from backend.i18n import LANGUAGES
from backend.services import staff
from backend.web.admin.blueprint import bp
from backend.web.admin.forms import LoginForm, OwnPasswordForm
from backend.web.auth import attempt_sign_in, login_required
from backend.web.common import apply_error, clock, staff_actor


def _safe_target(target: str) -> str:
    # Only local paths: never redirect a signed-in user off the site.
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("admin.dashboard")
    return target


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    user, error, status = attempt_sign_in(
        form, lambda: staff.sign_in(db.session, form.username.data, form.password.data,
                                    actor=staff_actor(), now=clock()),
        gettext("Wrong username or password."))
    if user is not None:
        # A fresh session on sign-in: nothing from before it survives (fixation).
        session.clear()
        login_user(user)
        return redirect(_safe_target(request.args.get("next", "")))
    return render_template("login.html", form=form, error=error), status


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        # Every session of this user ends, not only this browser's cookie.
        staff.end_sessions(db.session, current_user.id, actor=staff_actor())
    logout_user()
    session.clear()
    return redirect(url_for("admin.login"))


@bp.post("/language/<code>")
def language(code: str):
    if code not in LANGUAGES:
        abort(404)
    if current_user.is_authenticated:
        staff.set_locale(db.session, current_user.id, code, actor=staff_actor())
    else:
        session["lang"] = code
    return redirect(_safe_target(request.form.get("next", "")))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def own_password(user):
    form = OwnPasswordForm()
    if form.validate_on_submit():
        try:
            staff.change_own_password(db.session, user.id, form.current_password.data,
                                      form.new_password.data, actor=staff_actor(user))
        except BadRequest as error:
            apply_error(form, error, {"password": "new_password"})
        else:
            db.session.refresh(user)
            login_user(user)  # keep this session; the others end with the new version
            return redirect(url_for("admin.dashboard"))
    return render_template("account_password.html", form=form, user=user)
