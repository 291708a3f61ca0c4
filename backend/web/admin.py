"""Staff panel (walking-skeleton scope: sign-in and the member list with balances)."""

from functools import wraps

from flask import Blueprint, abort, redirect, render_template, request, session, url_for
from sqlalchemy import func, or_, select

from backend.extensions import db
from backend.models import Card, Member, StaffUser
from backend.services import staff

bp = Blueprint("admin", __name__)
PAGE_SIZE = 50


def login_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        if session.get("staff_id") is None:
            return redirect(url_for("admin.login", next=request.path))
        user = db.session.get(StaffUser, session["staff_id"])
        if user is None or not user.is_active:
            session.clear()
            return redirect(url_for("admin.login"))
        return view(*args, user=user, **kwargs)

    return wrapped


@bp.get("/")
def index():
    return redirect(url_for("admin.members"))


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        user = staff.authenticate(
            db.session, request.form.get("username", ""), request.form.get("password", "")
        )
        if user is None:
            error = "نام کاربری یا گذرواژه نادرست است"
        else:
            session.clear()
            session["staff_id"] = user.id
            target = request.args.get("next", "")
            # Only local paths: never redirect a signed-in user off the site.
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("admin.members")
            return redirect(target)
    return render_template("login.html", error=error), 401 if error else 200


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("admin.login"))


@bp.get("/members")
@login_required
def members(user: StaffUser):
    page = request.args.get("page", 1, type=int)
    if page < 1:
        abort(404)
    query = request.args.get("q", "").strip()
    statement = select(Member).order_by(Member.id)
    if query:
        pattern = f"%{query}%"
        statement = statement.where(
            or_(
                Member.first_name.ilike(pattern),
                Member.last_name.ilike(pattern),
                Member.mobile.like(pattern),
                Member.id.in_(select(Card.member_id).where(Card.number.like(pattern))),
            )
        )
    total = db.session.scalar(select(func.count()).select_from(statement.subquery()))
    rows = db.session.scalars(statement.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    return render_template(
        "members.html", user=user, members=rows, total=total, page=page, q=query,
        page_size=PAGE_SIZE,
    )
