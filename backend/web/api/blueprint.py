"""The API's blueprint, in a module of its own as the panel's and the portal's are."""

from flask import Blueprint

from backend.extensions import csrf

bp = Blueprint("api", __name__, url_prefix="/api/v1")
# Bearer tokens, not cookies, authenticate here: the session CSRF check does not apply.
csrf.exempt(bp)
