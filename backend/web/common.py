"""What the panel, the portal and the API share: one way to cut a query into pages."""

from sqlalchemy import func, select

from backend.extensions import db


def fetch_page(statement, number: int, size: int, *, scalars: bool = True) -> tuple[list, int]:
    """Rows of page `number` (from 1) of `size` rows, and the total row count.

    Each audience wraps the result in its own page shape (the panel's `Page`, the API's)."""
    total = db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    query = statement.limit(size).offset((number - 1) * size)
    rows = db.session.scalars(query).all() if scalars else db.session.execute(query).all()
    return list(rows), total
