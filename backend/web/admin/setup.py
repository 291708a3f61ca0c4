"""The first-run page (issue 21): create the club and its first admin from the browser.

Reachable only while the database has neither a club nor an admin — a fresh production
install; afterwards (and on the demo) it answers 404. It asks for the one-time setup
code in `instance/setup.code`, so whoever reaches the server first cannot take it over.
"""

import logging

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import lazy_gettext as _l
from flask_login import login_user

from backend.errors import BadRequest
from backend.extensions import db
from backend.services import branding, first_run
from backend.web.admin.forms import SetupForm
from backend.web.common import staff_actor

bp = Blueprint("setup", __name__)
log = logging.getLogger(__name__)
FIELD_FOR_ERROR = {"name": "name", "name_fa": "name_fa", "branch_name": "branch_name",
                   "branch_code": "branch_code", "username": "admin_username",
                   "full_name": "admin_full_name", "password": "password",
                   "currency_display": "currency_display", "logo": "logo"}


def setup_needed() -> bool:
    return first_run.setup_needed(db.session)


@bp.app_context_processor
def first_run_state():
    # A callable: only the sign-in page asks, so other pages cost no query.
    return {"setup_needed": setup_needed}


@bp.route("/setup", methods=["GET", "POST"])
def setup_page():
    if not setup_needed():
        abort(404)
    instance_dir = current_app.config["INSTANCE_DIR"]
    code, new = first_run.setup_code(instance_dir)
    if new:
        log.warning("first run: the setup page at /setup asks for the code %s "
                    "(also in %s)", code, instance_dir / first_run.SETUP_CODE_FILE)
    form = SetupForm()
    status = 200
    if form.validate_on_submit():
        upload = request.files.get("logo")
        logo = upload.read(branding.MAX_LOGO_BYTES + 1) if upload and upload.filename else None
        if not first_run.code_matches(instance_dir, form.setup_code.data):
            form.setup_code.errors = [_l("This is not the setup code.")]
            status = 403
        else:
            try:
                admin = first_run.create_club(db.session, first_run.ClubSetup(
                    name=form.name.data, name_fa=form.name_fa.data,
                    currency_display=form.currency_display.data, logo=logo,
                    branch_name=form.branch_name.data, branch_code=form.branch_code.data,
                    admin_username=form.admin_username.data,
                    admin_password=form.password.data,
                    admin_full_name=form.admin_full_name.data), instance_dir / "uploads",
                    actor=staff_actor())
            except first_run.SetupClosed:
                abort(404)
            except BadRequest as error:
                from backend.web.common import apply_error

                apply_error(form, error, FIELD_FOR_ERROR)
                status = 400
            else:
                first_run.forget_setup_code(instance_dir)
                session.clear()  # a fresh session for the new admin (fixation)
                login_user(admin)
                return redirect(url_for("admin.dashboard"))
    elif request.method == "POST":
        status = 400
    return render_template("setup.html", form=form), status
