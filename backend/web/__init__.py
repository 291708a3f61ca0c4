"""HTTP transports: one package per audience — `admin` (the staff panel, with the member
import, reports and messages nested in it), `portal` (members), `api` (JSON) — the pages
that are none of them (first-run setup, firmware files, operations), and what every page
shares: language, number and date filters, security headers and error pages."""

from flask import Flask, g, render_template, request
from flask_babel import gettext
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from backend import i18n
from backend.services.permissions import allowed
from backend.web import api
from backend.web.admin import navigation
from backend.web.api.operations import http_error

# Content-Security-Policy: everything from our own origin; inline styles are allowed for
# the small per-page style attributes, scripts are never inline.
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
       "script-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")


def register_blueprints(app: Flask) -> None:
    from backend.web import admin, firmware_files, ops, portal
    from backend.web.admin import setup

    for blueprint in (admin.bp, api.bp, portal.bp, ops.bp, firmware_files.bp, setup.bp):
        app.register_blueprint(blueprint)


def init_app(app: Flask) -> None:
    env = app.jinja_env
    env.filters["money"] = lambda rials, unit=True: i18n.format_amount(
        int(rials or 0), g.get("language", "fa"), g.get("currency_unit", "rial"), unit)
    env.filters["num"] = lambda value: "" if value is None else i18n.format_number(
        int(value), g.get("language", "fa"))
    env.filters["digits"] = lambda text: i18n.localise_digits(
        "" if text is None else text, g.get("language", "fa"))
    env.filters["when"] = lambda moment: i18n.format_datetime(moment, g.get("language", "fa"))
    env.filters["day"] = lambda value: i18n.format_date(
        i18n.local_date(value), g.get("language", "fa"))
    env.filters["reason"] = lambda text: i18n.explain_reason(text or "", g.get("language", "fa"))
    env.filters["reject_page"] = lambda args: {k: v for k, v in args.items() if k != "page"}
    env.filters["bp"] = lambda basis_points: i18n.format_percent(basis_points,
                                                                 g.get("language", "fa"))

    @app.context_processor
    def shared():
        language = g.get("language", "fa")
        user = current_user if current_user and current_user.is_authenticated else None
        can = (lambda name: allowed(user, name)) if user else (lambda name: False)
        return {
            "language": language,
            "text_direction": "rtl" if language == "fa" else "ltr",
            "club": g.get("club"),
            "currency_unit": g.get("currency_unit", "rial"),
            "can": can,
            "url_map_endpoints": app.view_functions,
            "sidebar": lambda: navigation.sidebar(can, app.view_functions, request.endpoint,
                                                  request.view_args),
        }

    @app.after_request
    def security_headers(response):
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint and not request.endpoint.startswith(("static", "api.")):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    def error_page(status: int, title: str):
        def handler(error):
            if request.path.startswith("/api/"):
                return http_error(error)
            return render_template("error.html", status=status, message=gettext(title)), status
        return handler

    app.register_error_handler(403, error_page(403, "You may not open this page."))
    app.register_error_handler(404, error_page(404, "This page does not exist."))
    app.register_error_handler(413, error_page(413, "The file is too large."))
    app.register_error_handler(429, error_page(429, "Too many requests."))

    @app.errorhandler(HTTPException)
    def other_http_errors(error):
        # The API answers JSON for every status (e.g. 405); pages keep werkzeug's own.
        return http_error(error) if request.path.startswith("/api/") else error
