"""What the panel, the portal and the API share: one way to cut a query into pages."""

from flask import request
from flask_login import current_user
from sqlalchemy import func, select

from backend.extensions import db
from backend.services.unit_of_work import Actor


def fetch_page(statement, number: int, size: int, *, scalars: bool = True) -> tuple[list, int]:
    """Rows of page `number` (from 1) of `size` rows, and the total row count.

    Each audience wraps the result in its own page shape (the panel's `Page`, the API's)."""
    total = db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    query = statement.limit(size).offset((number - 1) * size)
    rows = db.session.scalars(query).all() if scalars else db.session.execute(query).all()
    return list(rows), total


def staff_actor(user=None) -> Actor:
    """The signed-in staff user (or `user`) at the panel, from this request's address: the
    actor a panel view passes to the service it calls."""
    who = user if user is not None else current_user
    staff_user_id = getattr(who, "id", None) if getattr(who, "is_authenticated", True) else None
    return Actor(staff_user_id, (request.remote_addr or "")[:45], "panel")


def api_actor(principal) -> Actor:
    """The API caller as an actor: its staff user (none for a member's token), via "api"."""
    staff = getattr(principal, "staff", None)
    return Actor(staff.id if staff is not None else None, (request.remote_addr or "")[:45], "api")


def member_actor(via: str = "portal") -> Actor:
    """A member acting for themselves through the portal or the member app."""
    return Actor(None, (request.remote_addr or "")[:45], via)
