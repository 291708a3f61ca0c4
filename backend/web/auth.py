"""Staff sign-in state, language choice and the permission check every panel view uses.

Flask-Login keeps the signed-in user in Flask's signed session cookie (HttpOnly,
SameSite=Lax; Secure when VAFA_SECURE_COOKIES=1). The stored id includes the user's
session version, checked against the database on every request: signing out, changing
a password or deactivating a user raises it and so ends every session of that user,
including a copy of the cookie taken before (issue 17 item 11).
"""

from functools import wraps

from flask import abort, g, redirect, request, session, url_for
from flask_babel import gettext, refresh
from flask_login import current_user

from backend.extensions import db, login_manager
from backend.i18n import DEFAULT_LANGUAGE, LANGUAGES, format_number
from backend.models import StaffUser, the_club
from backend.services.permissions import allowed
from backend.services.throttle import TooManyAttempts

login_manager.login_view = "admin.login"
login_manager.login_message = None  # the login page says why on its own


@login_manager.user_loader
def load_user(stored_id: str) -> StaffUser | None:
    user_id, _, version = stored_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(StaffUser, int(user_id))
    if user is None or not user.is_active or user.session_version != int(version):
        return None
    return user


def select_locale() -> str:
    if current_user and current_user.is_authenticated:
        return current_user.locale
    chosen = session.get("lang")
    return chosen if chosen in LANGUAGES else DEFAULT_LANGUAGE


def client_ip() -> str:
    """The client's address: the peer, or behind VAFA_TRUSTED_PROXIES reverse proxies the
    address they forwarded (ProxyFix, backend/__init__.py); anyone else's
    X-Forwarded-For is ignored."""
    return (request.remote_addr or "")[:45]


def too_many_attempts(refusal) -> str:
    """The sign-in pages' words for a throttled try (backend.services.throttle)."""
    return gettext("Too many failed sign-ins from here. Try again in %(seconds)s seconds.",
                   seconds=format_number(refusal.retry_after_s, g.get("language", "fa")))


def attempt_sign_in(form, authenticate, wrong_message: str):
    """The panel's and the portal's sign-in form, one rule: `(who, error, status)`.

    `who` is what `authenticate()` returned for a valid submitted form (the caller starts
    the session); otherwise `error` is the page's message and `status` its HTTP code: 429
    when the throttle refuses, 401 for a wrong or malformed sign-in, 200 for a GET."""
    if form.validate_on_submit():
        try:
            who = authenticate()
        except TooManyAttempts as refusal:
            return None, too_many_attempts(refusal), 429
        if who is None:
            return None, wrong_message, 401
        return who, None, 200
    if request.method == "POST":
        return None, wrong_message, 401
    return None, None, 200


def prepare_request() -> None:
    """Per-request display settings: language and the club's money unit."""
    if request.endpoint == "ops.healthz":
        return  # answers on its own, also when the database does not
    # Flask-Babel caches the locale on the app context, which tests (and CLI commands
    # that render) share between requests: start every request from the user's choice.
    refresh()
    # Likewise nothing user-specific may survive from an earlier request on a shared
    # context: Flask-Login caches the user on `g`.
    g.pop("_login_user", None)
    g.language = select_locale()
    club = the_club(db.session)
    g.club = club
    g.currency_unit = club.currency_display if club is not None else "rial"


def _deny():
    if not current_user.is_authenticated:
        return redirect(url_for("admin.login", next=request.path))
    abort(403)


def login_required(view):
    """Any signed-in staff user; the view gets it as `user`."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return _deny()
        return view(*args, user=current_user._get_current_object(), **kwargs)

    return wrapped


def permission_required(permission: str):
    """A signed-in user holding `permission` (backend.services.permissions)."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated or not allowed(current_user, permission):
                return _deny()
            return view(*args, user=current_user._get_current_object(), **kwargs)

        wrapped.permission = permission
        return wrapped

    return decorator
