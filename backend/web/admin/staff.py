"""Staff: the admin creates operators and sets each one's branch and permissions (B2)."""

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext
from sqlalchemy import or_, select
from wtforms import SelectChoice

from backend.errors import DomainError
from backend.extensions import db
from backend.models import Branch, StaffUser
from backend.services import staff
from backend.services.permissions import PERMISSIONS
from backend.web.admin.blueprint import bp
from backend.web.admin.forms import StaffForm
from backend.web.auth import permission_required
from backend.web.common import apply_error, page_number, paginate, staff_actor

MAX_QUERY_LENGTH = 64
PERMISSION_LABELS = {
    "members": "Members and cards", "purchases": "Purchases and top-ups at the counter",
    "refunds": "Refunds", "credit_grants": "Credit grants and transfers",
    "offers": "Tiers, offers and campaigns, products, gift cards, news, FAQ, surveys and "
              "segment rules",
    "reports": "Reports and the audit log",
    "devices": "Terminals and card batches",
    "settings": "Settings, branches, custom fields and import",
}


def _form(row: StaffUser | None) -> StaffForm:
    form = StaffForm(obj=row) if row is not None and request.method == "GET" else StaffForm()
    form.branch_id.choices = [SelectChoice("", "—")] + [
        SelectChoice(branch.id, branch.name) for branch in
        db.session.scalars(select(Branch).order_by(Branch.name))]
    form.permissions.choices = [SelectChoice(name, gettext(PERMISSION_LABELS[name]))
                                for name in PERMISSIONS]
    if row is not None:
        form.username.render_kw = {"readonly": True}
    return form


@bp.get("/staff")
@permission_required("staff")
def staff_list(user):
    statement = select(StaffUser)
    query = request.args.get("q", "").strip()[:MAX_QUERY_LENGTH]
    if query:
        statement = statement.where(or_(StaffUser.username.ilike(f"%{query}%"),
                                        StaffUser.full_name.ilike(f"%{query}%")))
    role = request.args.get("role", "")
    if role in ("admin", "operator"):
        statement = statement.where(StaffUser.role == role)
    active = request.args.get("active", "")
    if active in ("1", "0"):
        statement = statement.where(StaffUser.is_active.is_(active == "1"))
    page = paginate(statement.order_by(StaffUser.id), page_number(request.args.get("page")))
    return render_template("staff/list.html", user=user, page=page, labels=PERMISSION_LABELS,
                           q=query, role=role, active=active)


@bp.route("/staff/new", methods=["GET", "POST"])
@bp.route("/staff/<int:staff_id>", methods=["GET", "POST"])
@permission_required("staff")
def staff_edit(user, staff_id: int | None = None):
    row = None
    if staff_id is not None:
        row = db.session.get(StaffUser, staff_id)
        if row is None:
            abort(404)
    form = _form(row)
    status = 200
    if request.method == "POST":
        status = 400
        if form.validate_on_submit():
            change = staff.StaffChange(
                full_name=form.full_name.data, role=form.role.data,
                branch_id=form.branch_id.data, permissions=form.permissions.data or [],
                is_active=form.is_active.data, locale=form.locale.data)
            try:
                if row is None:
                    staff.create_staff(db.session, username=form.username.data,
                                       password=form.password.data or "", change=change,
                                       actor=staff_actor(user))
                else:
                    staff.update_staff(db.session, row.id, change, actor=staff_actor(user),
                                       new_password=form.password.data or "")
            except DomainError as error:
                apply_error(form, error)
            else:
                flash(gettext("Saved."), "success")
                return redirect(url_for("admin.staff_list"))
    return render_template("staff/form.html", user=user, form=form, row=row), status
