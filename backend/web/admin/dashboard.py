"""The dashboard: today's sales, visits, new members, credit, terminals online; each
against the same weekday last week, and the last 30 days' sales as a chart."""

from flask import g, redirect, render_template, url_for
from flask_babel import gettext

from backend.engine.calendar import iranian_weekday
from backend.extensions import db
from backend.i18n import localise_digits
from backend.services import dashboard as dashboard_service
from backend.services.permissions import branch_scope
from backend.services.reports.periods import jalali
from backend.web.admin.blueprint import bp
from backend.web.auth import login_required
from backend.web.common import clock
from backend.web.fields import WEEKDAY_NAMES


@bp.get("/")
def index():
    return redirect(url_for("admin.dashboard"))


@bp.get("/dashboard")
@login_required
def dashboard(user):
    now = clock()
    overview = dashboard_service.overview(db.session, now, branch_scope(user))
    return render_template("dashboard.html", user=user, today=overview.today,
                           overview=overview, weekday=WEEKDAY_NAMES[iranian_weekday(now)],
                           trend_chart=trend_chart(overview.trend))


def trend_chart(trend) -> dict:
    """What reports.js draws: the days as Jalali month/day (Persian digits in Persian),
    sales in the club's display unit."""
    language = g.get("language", "fa")
    toman = g.get("currency_unit") == "toman"
    if language == "fa":
        labels = [localise_digits(f"{jalali(row.day).month:02d}/{jalali(row.day).day:02d}", "fa")
                  for row in trend]
    else:
        labels = [row.day.strftime("%m-%d") for row in trend]
    unit = gettext("toman") if toman else gettext("rial")
    # The chart's own title stays empty: the card's heading names it (`heading`).
    return {"type": "bar", "title": "", "heading": gettext("Sales, last 30 days"),
            "labels": labels,
            "datasets": [{"label": f"{gettext('Sales')} ({unit})",
                          "data": [row.sales_rials / 10 if toman else row.sales_rials
                                   for row in trend]}],
            "locale": "fa-IR" if language == "fa" else "en-US", "rtl": language == "fa"}
