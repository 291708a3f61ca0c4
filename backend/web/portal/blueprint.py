"""The portal's blueprint and who is signed in to it: every portal module imports these
from here, so the modules never import each other for them."""

from functools import wraps

from flask import Blueprint, g, redirect, request, session, url_for

from backend.extensions import db
from backend.models import Member
from backend.services import member_auth

bp = Blueprint("portal", __name__, url_prefix="/portal")


def current_member() -> Member | None:
    member_id = session.get("member_id")
    if member_id is None:
        return None
    member = db.session.get(Member, member_id)
    if member is None or member.is_gift_account or \
            session.get("member_fp") != member_auth.fingerprint(member):
        session.pop("member_id", None)
        return None
    return member


def start_member_session(member: Member) -> None:
    """A fresh session for `member` (sign-in, joining), keeping only the chosen language."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language
    session["member_id"] = member.id
    session["member_fp"] = member_auth.fingerprint(member)


def member_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        member = current_member()
        if member is None:
            return redirect(url_for("portal.sign_in", next=request.path))
        g.member = member
        return view(*args, member=member, **kwargs)

    return wrapped
