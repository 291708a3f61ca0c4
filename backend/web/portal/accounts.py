"""Portal pages for a member's account (M2, P1): join with an SMS code, sign in with a
code, forgotten password. They live on the portal's blueprint; the steps between the
two pages of each flow (which mobile, the names typed) ride in the signed session
cookie, never in a URL."""

from flask import (
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext

from backend.errors import DomainError
from backend.extensions import db
from backend.i18n import format_number
from backend.models import Member
from backend.services import member_accounts, verification
from backend.web.auth import client_ip
from backend.web.common import apply_error, clock, member_actor, translate_error
from backend.web.portal.blueprint import bp, start_member_session
from backend.web.portal.forms import CodeForm, CodePasswordForm, JoinForm, MobileForm
from backend.web.portal.home import referrer_from_code


def _secret() -> str:
    return current_app.secret_key


def _show(form, error: DomainError) -> int:
    if isinstance(error, verification.TooManyCodes):
        flash(translate_error(error), "error")
        return 429
    apply_error(form, error, {"name": "first_name"})
    return 400


def _code_sent() -> None:
    minutes = int(verification.CODE_TTL.total_seconds() // 60)
    flash(gettext("We sent a code by SMS. It is valid for %(minutes)s minutes.",
                  minutes=format_number(minutes, g.get("language", "fa"))), "success")


@bp.route("/join", methods=["GET", "POST"])
def join():
    """Join the club from a phone (M2); a referrer's link keeps its referrer (L10)."""
    form = JoinForm(ref=request.args.get("ref", "")[:100]) if request.method == "GET" \
        else JoinForm()
    referrer_id = referrer_from_code((form.ref.data or "")[:100])
    referrer = db.session.get(Member, referrer_id) if referrer_id else None
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                mobile = member_accounts.start_join(
                    db.session, first_name=form.first_name.data, last_name=form.last_name.data,
                    mobile=form.mobile.data, ip=client_ip(), now=clock(), secret=_secret())
            except DomainError as error:
                status = _show(form, error)
            else:
                session["join"] = {"first_name": form.first_name.data,
                                   "last_name": form.last_name.data, "mobile": mobile,
                                   "referrer_id": referrer.id if referrer else None}
                _code_sent()
                return redirect(url_for("portal.join_verify"))
    return render_template("portal/join.html", form=form, referrer=referrer), status


def _verify_step(*, purpose: str, mobile: str, form: CodeForm, complete, welcome: str,
                 title: str, action: str, back: str, endpoint: str):
    """The second page of each flow: the code (and a password), or "send it again".
    `complete(form)` runs the service and returns the member to sign in."""
    status = 200
    if request.method == "POST":
        status = 400
        if request.form.get("resend"):
            return _resend(purpose, mobile, endpoint)
        if form.validate_on_submit():
            try:
                member = complete(form)
            except DomainError as error:
                status = _show(form, error)
            else:
                start_member_session(member)
                if welcome:
                    flash(welcome, "success")
                return redirect(url_for("portal.home"))
    return render_template("portal/code_step.html", form=form, mobile=mobile, title=title,
                           action=action, back=back), status


@bp.route("/join/verify", methods=["GET", "POST"])
def join_verify():
    pending = session.get("join")
    if not pending:
        return redirect(url_for("portal.join"))
    return _verify_step(
        purpose="join", mobile=pending["mobile"], form=CodePasswordForm(),
        complete=lambda form: member_accounts.complete_join(
            db.session, actor=member_actor(),
            first_name=pending["first_name"], last_name=pending["last_name"],
            mobile=pending["mobile"], code=form.code.data, password=form.password.data,
            referrer_id=pending.get("referrer_id"), now=clock(), secret=_secret(),
            card_prefix=current_app.config["DIGITAL_CARD_PREFIX"]),
        welcome=gettext("Welcome to the club! Your card is below; show it at the counter."),
        title=gettext("Confirm your mobile"), action=gettext("Join"),
        back=url_for("portal.join"), endpoint="portal.join_verify")


def _resend(purpose: str, mobile: str, endpoint: str):
    try:
        if purpose == "join":
            verification.request_code(db.session, mobile=mobile, purpose="join",
                                      ip=client_ip(), now=clock(), secret=_secret())
        else:
            member_accounts.start_sign_in(db.session, mobile=mobile, ip=client_ip(),
                                          now=clock(), secret=_secret(), purpose=purpose)
    except DomainError as error:
        flash(translate_error(error), "error")
    else:
        _code_sent()
    return redirect(url_for(endpoint))


def _ask_for_code(purpose: str, session_key: str, next_endpoint: str, title: str):
    form = MobileForm()
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            try:
                mobile = member_accounts.start_sign_in(
                    db.session, mobile=form.mobile.data, ip=client_ip(), now=clock(),
                    secret=_secret(), purpose=purpose)
            except DomainError as error:
                status = _show(form, error)
            else:
                session[session_key] = mobile
                # The same words whether or not the number is a member's.
                flash(gettext("If this number belongs to a member, a code is on its way "
                              "by SMS."), "success")
                return redirect(url_for(next_endpoint))
    return render_template("portal/mobile_step.html", form=form, title=title), status


@bp.route("/sign-in/code", methods=["GET", "POST"])
def code_sign_in():
    return _ask_for_code("sign_in", "code_sign_in", "portal.code_sign_in_verify",
                         gettext("Sign in with a code by SMS"))


@bp.route("/sign-in/code/verify", methods=["GET", "POST"])
def code_sign_in_verify():
    mobile = session.get("code_sign_in")
    if not mobile:
        return redirect(url_for("portal.code_sign_in"))
    return _verify_step(
        purpose="sign_in", mobile=mobile, form=CodeForm(),
        complete=lambda form: member_accounts.complete_sign_in(
            db.session, mobile=mobile, code=form.code.data, now=clock(), secret=_secret(),
            actor=member_actor()),
        welcome="", title=gettext("Sign in with a code by SMS"), action=gettext("Sign in"),
        back=url_for("portal.code_sign_in"), endpoint="portal.code_sign_in_verify")


@bp.route("/forgot", methods=["GET", "POST"])
def forgot_password():
    return _ask_for_code("reset", "reset", "portal.forgot_password_verify",
                         gettext("Forgot your password?"))


@bp.route("/forgot/verify", methods=["GET", "POST"])
def forgot_password_verify():
    mobile = session.get("reset")
    if not mobile:
        return redirect(url_for("portal.forgot_password"))
    form = CodePasswordForm()
    form.password.label.text = gettext("New password")
    return _verify_step(
        purpose="reset", mobile=mobile, form=form,
        complete=lambda form: member_accounts.complete_reset(
            db.session, mobile=mobile, code=form.code.data, password=form.password.data,
            now=clock(), secret=_secret(), actor=member_actor()),
        welcome=gettext("Your new password is set."), title=gettext("Choose a new password"),
        action=gettext("Save"), back=url_for("portal.forgot_password"),
        endpoint="portal.forgot_password_verify")
