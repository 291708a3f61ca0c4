"""Report pages (issue 7): the catalogue, each report with its filters, charts and
comparison, its Excel export, and the segment rules. Every page needs the `reports`
permission (segment rules: `offers`, since they move members between tiers); operators
see their own branch only."""

from dataclasses import dataclass

from flask import Blueprint, Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import select

from backend.errors import DomainError
from backend.extensions import db
from backend.i18n import (
    N_,
    explain_reason,
    format_date,
    format_datetime,
    format_number,
    localise_digits,
)
from backend.models import Branch, SegmentRule, SegmentRuleRun, Tier
from backend.models.reports import SEGMENTS
from backend.services.permissions import branch_scope
from backend.services.reports import REPORTS, build, excel, periods, segments
from backend.services.reports import sql as report_sql
from backend.services.reports.sql import Filters
from backend.services.reports.tables import Column, Table
from backend.validators import parse_jalali_or_gregorian_date
from backend.web.auth import permission_required
from backend.web.common import apply_error, clock, page_number, staff_actor

bp = Blueprint("reports", __name__, url_prefix="/reports")

# Marked for the catalogue extractor; translated when shown.
PRESET_TITLES = {
    "this_week": N_("This week"), "last_week": N_("Last week"),
    "this_month": N_("This month"), "last_month": N_("Last month"),
    "last_90_days": N_("Last 90 days"), "this_year": N_("This year"),
    "last_year": N_("Last year"), "last_12_months": N_("Last 12 months"),
}
STEP_TITLES = {"day": N_("Daily"), "week": N_("Weekly"), "month": N_("Monthly")}


@dataclass
class Choice:
    filters: Filters
    preset: str
    errors: list[str]


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return int(localise_digits(value, "en").translate(str.maketrans(
            "۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")))
    except ValueError:
        return -1


def _default_step(period: periods.Period) -> str:
    return "day" if period.days <= 62 else "week" if period.days <= 190 else "month"


def parse_filters(user, report) -> Choice:
    """The filters from the query string; bad input gives an error and the defaults."""
    errors: list[str] = []
    today = periods.local_date(clock())
    presets = periods.presets(today)
    preset = request.args.get("preset", "")
    typed_from, typed_to = request.args.get("from", "").strip(), request.args.get("to", "").strip()
    period = None
    if typed_from or typed_to:
        try:
            first = parse_jalali_or_gregorian_date(typed_from)
            last = parse_jalali_or_gregorian_date(typed_to) if typed_to else today
            if last < first:
                raise ValueError
            if (last - first).days > 366 * 5:
                raise ValueError
            period, preset = periods.Period(first, last), ""
        except ValueError:
            errors.append(gettext("Enter a period of at most five years, from a date to a "
                                  "later one, like 1405/08/01 to 1405/08/30."))
    if period is None:
        if preset not in presets:
            preset = report.default_preset
        period = presets[preset]
    step = request.args.get("step", "")
    if step not in periods.GRANULARITIES:
        step = _default_step(period)
    if report.has_step:
        try:
            periods.buckets(period, step)
        except ValueError:
            errors.append(gettext("Too many rows for this period: choose weekly or monthly."))
            step = _default_step(period)
    branch_id, tier_id = _int_arg("branch"), _int_arg("tier")
    if branch_id is not None and db.session.get(Branch, branch_id) is None:
        errors.append(gettext("No such branch."))
        branch_id = None
    if tier_id is not None and db.session.get(Tier, tier_id) is None:
        errors.append(gettext("No such tier."))
        tier_id = None
    scope = branch_scope(user)
    if scope is not None:
        branch_id = scope
    compare = request.args.get("compare") == "1" and bool(report.comparable)
    return Choice(Filters(period, step, branch_id, tier_id, compare, clock()), preset, errors)


# Rendering: one function per column kind, in the reader's language and money unit.

def column_title(column: Column) -> str:
    title = gettext(column.title, number=format_number(column.number, g.get("language", "fa"))) \
        if column.number is not None else gettext(column.title)
    if column.variant == "compared":
        return gettext("%(title)s, period before", title=title)
    if column.variant == "change":
        return gettext("%(title)s, change", title=title)
    return title


def format_cell(value, kind: str) -> str:
    language = g.get("language", "fa")
    if value is None:
        return "—"
    if kind in ("int",):
        return format_number(int(value), language)
    if kind == "money":
        from backend.i18n import format_amount
        return format_amount(int(value), language, g.get("currency_unit", "rial"), False)
    if kind == "percent":
        return localise_digits(f"{value * 100:,.1f}٪", language).replace(".", "٫") \
            if language == "fa" else f"{value * 100:,.1f}%"
    if kind == "float":
        text = f"{value:,.2f}"
        return localise_digits(text.replace(",", "٬").replace(".", "٫"), language) \
            if language == "fa" else text
    if kind == "datetime":
        return format_datetime(value, language)
    if kind == "date":
        return format_date(value, language)
    if kind in ("day", "week", "month"):
        return periods.bucket_label(periods.Bucket(0, value, value), kind, language)
    if kind == "segment":
        return gettext(segments.SEGMENT_TITLES.get(value, value))
    if kind == "msgid":
        return gettext(value)
    # Ledger reasons are stored in English (searchable, stable) and read in Persian.
    return localise_digits(explain_reason(str(value), language), language)


def cell_kind(column: Column, row: dict) -> str:
    return row.get("kind", "float") if column.kind == "auto" else column.kind


def chart_specs(table: Table) -> list[dict]:
    """What reports.js draws: labels and series as plain numbers (money in rials)."""
    label_column = None
    specs = []
    for chart in table.charts:
        label_column = table.column(chart.label)
        labels = [format_cell(row.get(chart.label), label_column.kind) for row in table.rows]
        datasets = []
        for key in chart.series:
            column = table.column(key)
            datasets.append({"label": column_title(column),
                             "data": [_chart_number(row.get(key), column.kind)
                                      for row in table.rows]})
        specs.append({"type": chart.kind, "title": gettext(chart.title) if chart.title else "",
                      "labels": labels, "datasets": datasets,
                      "locale": "fa-IR" if g.get("language", "fa") == "fa" else "en-US",
                      "rtl": g.get("language", "fa") == "fa"})
    return specs


def _chart_number(value, kind):
    if value is None:
        return None
    if kind == "percent":
        return round(value * 100, 2)
    if kind == "money" and g.get("currency_unit") == "toman":
        return value / 10
    return value


def heat_alpha(value) -> str:
    return "0" if value is None else f"{min(1.0, max(0.0, float(value))) * 0.85 + 0.05:.2f}"


def _choices():
    return (db.session.scalars(select(Branch).order_by(Branch.name)).all(),
            db.session.scalars(select(Tier).order_by(Tier.rank)).all())


def read_only() -> None:
    """Reports read in a read-only transaction (services/reports/sql.start_read_only)."""
    report_sql.start_read_only(db.session)


def _report_or_404(name: str):
    report = REPORTS.get(name)
    if report is None:
        abort(404)
    return report


@bp.get("/")
@permission_required("reports")
def index(user):
    return render_template("reports/index.html", user=user, reports=list(REPORTS.values()))


@bp.get("/<name>")
@permission_required("reports")
def show(user, name):
    report = _report_or_404(name)
    read_only()
    choice = parse_filters(user, report)
    page = page_number(request.args.get("page"))
    tables = build(db.session, report, choice.filters, page=page)
    branches, tiers = _choices()
    extra = {}
    if name == "segments":
        extra["computed_on"] = segments.last_computed(db.session)
    return render_template(
        "reports/report.html", user=user, report=report, tables=tables, choice=choice,
        filters=choice.filters, page=page, branches=branches, tiers=tiers,
        presets=PRESET_TITLES, steps=STEP_TITLES, column_title=column_title,
        format_cell=format_cell, cell_kind=cell_kind, chart_specs=chart_specs,
        heat_alpha=heat_alpha, scoped=branch_scope(user) is not None,
        previous_period=periods.previous(choice.filters.period), **extra,
    ), 400 if choice.errors else 200


@bp.get("/<name>/excel")
@permission_required("reports")
def export(user, name):
    report = _report_or_404(name)
    read_only()
    choice = parse_filters(user, report)
    if choice.errors:
        abort(400)
    tables = build(db.session, report, choice.filters, page=1, limit=None)
    branch = db.session.get(Branch, choice.filters.branch_id) if choice.filters.branch_id \
        else None
    tier = db.session.get(Tier, choice.filters.tier_id) if choice.filters.tier_id else None
    about = excel.About(
        report=gettext(report.title), period=choice.filters.period,
        compared=periods.previous(choice.filters.period) if choice.filters.compare else None,
        branch=branch.name if branch else gettext("Every branch"),
        tier=(tier.name_fa or tier.name) if tier else gettext("Every tier"),
        generated_at=clock())
    content = excel.workbook(tables, about, language=g.get("language", "fa"),
                             unit=g.get("currency_unit", "rial"), title=column_title,
                             translate=gettext)
    filename = f"vafa-{name}-{choice.filters.period.first:%Y%m%d}-" \
               f"{choice.filters.period.last:%Y%m%d}.xlsx"
    return Response(content, mimetype=excel.MIMETYPE, headers={
        "Content-Disposition": f'attachment; filename="{filename}"'})


@bp.route("/segment-rules", methods=["GET", "POST"])
@permission_required("offers")
def rules(user):
    status = 200
    if request.method == "POST":
        tier_id = request.form.get("tier_id", type=int)
        try:
            segments.create_rule(db.session, name=request.form.get("name", ""),
                                 segment=request.form.get("segment", ""),
                                 action=request.form.get("action", ""), tier_id=tier_id,
                                 actor=staff_actor(user))
        except DomainError as error:
            apply_error(None, error)
            status = 400
        else:
            flash(gettext("Saved."), "success")
            return redirect(url_for("admin.reports.rules"))
    rows = db.session.scalars(select(SegmentRule).order_by(SegmentRule.id)).all()
    last_runs = {}
    for run in db.session.scalars(select(SegmentRuleRun).order_by(SegmentRuleRun.run_on)):
        last_runs[run.rule_id] = run
    return render_template("reports/rules.html", user=user, rules=rows, last_runs=last_runs,
                           segments=SEGMENTS, segment_titles=segments.SEGMENT_TITLES,
                           tiers=_choices()[1]), status


@bp.post("/segment-rules/<int:rule_id>/active")
@permission_required("offers")
def rule_active(user, rule_id):
    active = request.form.get("active") == "1"
    try:
        segments.set_rule_active(db.session, rule_id, active, actor=staff_actor(user))
    except DomainError:
        abort(404)
    return redirect(url_for("admin.reports.rules"))

