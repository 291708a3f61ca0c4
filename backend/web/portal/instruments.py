"""The member's own cheques and instalments in the portal (L13), read-only."""

from flask import g, render_template
from sqlalchemy import select

from backend.engine.calendar import local
from backend.extensions import db
from backend.models import InstalmentPlan
from backend.services import instruments
from backend.web.admin.instruments import STATUS_NAMES
from backend.web.common import clock
from backend.web.portal.blueprint import bp, member_required


@bp.get("/instruments")
@member_required
def instruments_page(member):
    rows = instruments.of_member(db.session, member.id)
    plan_ids = {row.plan_id for row in rows if row.plan_id}
    counts = dict(db.session.execute(select(InstalmentPlan.id, InstalmentPlan.count).where(
        InstalmentPlan.id.in_(plan_ids))).all()) if plan_ids else {}
    owed = sum(row.amount_rials for row in rows if row.status in instruments.OPEN_STATES)
    language = g.get("language", "fa")
    return render_template(
        "portal/instruments.html", member=member, rows=rows, plan_counts=counts, owed=owed,
        status_names=STATUS_NAMES, today=local(clock()).date(), is_overdue=instruments.is_overdue,
        bank_name=lambda code: instruments.bank_name(code, language))
