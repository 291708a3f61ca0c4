"""The catalogue's and the content's edit forms, one rule: a row is created from its
values, or an existing one (by id) takes them; an id that names no row is the form's
error, never a new row."""

from sqlalchemy.orm import Session

from backend.errors import BadRequest


def existing_row(session: Session, model, row_id: int):
    """The row of `model` with `row_id`, or BadRequest on the form's id field."""
    row = session.get(model, row_id)
    if row is None:
        raise BadRequest("id", "No such row.")
    return row


def save_row(session: Session, model, row_id: int | None, values: dict, **on_create):
    """Insert `model(**values, **on_create)` when `row_id` is None, else set `values` on
    the row with that id; flushed, so the caller sees its id."""
    if row_id is None:
        row = model(**values, **on_create)
        session.add(row)
    else:
        row = existing_row(session, model, row_id)
        for key, value in values.items():
            setattr(row, key, value)
    session.flush()
    return row
