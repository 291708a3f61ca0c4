"""The dashboard: today's sales, visits, new members, credit, terminals online."""

from flask import redirect, render_template, url_for

from backend.extensions import db
from backend.services import dashboard as dashboard_service
from backend.services.permissions import branch_scope
from backend.web.admin import bp, clock
from backend.web.auth import login_required


@bp.get("/")
def index():
    return redirect(url_for("admin.dashboard"))


@bp.get("/dashboard")
@login_required
def dashboard(user):
    numbers = dashboard_service.today(db.session, clock(), branch_scope(user))
    return render_template("dashboard.html", user=user, today=numbers)
