"""What the panel, the portal and the API share: the clock, one way to cut a query into
pages, a service's error shown in the reader's language, and the actor of a request."""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app, flash, g
from flask_babel import gettext
from flask_login import current_user
from sqlalchemy import func, select

from backend.errors import BadRequest, CreditCapReached, DomainError
from backend.extensions import db
from backend.i18n import format_amount, format_number
from backend.unit_of_work import Actor
from backend.web.auth import client_ip

PAGE_SIZE = 25
MAX_PAGE = 100_000


def fetch_page(statement, number: int, size: int, *, scalars: bool = True) -> tuple[list, int]:
    """Rows of page `number` (from 1) of `size` rows, and the total row count.

    Each audience wraps the result in its own page shape (the panel's `Page`, the API's)."""
    total = db.session.scalar(select(func.count()).select_from(statement.order_by(None).subquery()))
    query = statement.limit(size).offset((number - 1) * size)
    rows = db.session.scalars(query).all() if scalars else db.session.execute(query).all()
    return list(rows), total


def clock() -> datetime:
    """Now, in UTC; tests pin it with the `CLOCK` config value."""
    fixed = current_app.config.get("CLOCK")
    return fixed() if fixed else datetime.now(UTC)


def new_request_key() -> str:
    return secrets.token_urlsafe(18)


@dataclass
class Page:
    rows: list
    total: int
    number: int
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1


def page_number(value) -> int:
    try:
        number = int(value or 1)
    except (TypeError, ValueError):
        return 1
    return min(max(number, 1), MAX_PAGE)


def paginate(statement, number: int, size: int = PAGE_SIZE, scalars: bool = True) -> Page:
    rows, total = fetch_page(statement, number, size, scalars=scalars)
    return Page(rows, total, number, size)


# Errors whose message carries numbers are shown by their code (the numbers that matter
# are added back), so the catalogue needs one sentence per code, not per amount.
CODE_MESSAGES = {
    "LIMIT": "This is above the credit or transfer limit.",
    "CARD_BLOCKED": "This card is blocked.",
    "CARD_UNKNOWN": "No member has this card.",
    "REF_UNKNOWN": "This purchase cannot be refunded any more.",
    "UNAVAILABLE": "The service is busy; try again.",
    "BROKER_UNAVAILABLE": "The message broker cannot be reached; nothing was sent. Try again.",
}


def _shown_value(name: str, value):
    """A number of an error message in the reader's digits; `…_rials` as money."""
    language = g.get("language", "fa")
    if not isinstance(value, int):
        return value
    if name.endswith("_rials"):
        return format_amount(value, language, g.get("currency_unit", "rial"))
    return format_number(value, language)


def translate_error(error: DomainError) -> str:
    """Domain messages are English sentences; the Persian catalogue translates them."""
    if error.code == "INSUFFICIENT_CREDIT" and hasattr(error, "balance_rials"):
        return gettext("Not enough credit: the balance is %(amount)s.",
                       amount=_shown_value("balance_rials", error.balance_rials))
    if isinstance(error, CreditCapReached):
        amount = _shown_value("allowed_rials", error.allowed_rials)
        if error.cap == "daily":
            return gettext("The daily credit cap allows %(amount)s more today.", amount=amount)
        return gettext("The per-invoice credit cap allows at most %(amount)s on one purchase.",
                       amount=amount)
    if isinstance(error, BadRequest) and error.params:
        return gettext(error.template, **{name: _shown_value(name, value)
                                          for name, value in error.params.items()})
    if error.code in CODE_MESSAGES and not isinstance(error, BadRequest):
        return gettext(CODE_MESSAGES[error.code])
    text = error.message.split(": ", 1)[-1] if isinstance(error, BadRequest) else error.message
    return gettext(text[:1].upper() + text[1:] if text else error.code)


def apply_error(form, error: DomainError, field_map: dict | None = None) -> None:
    """Show a service's error next to its field, or at the top of the form."""
    message = translate_error(error)
    field_name = getattr(error, "field", None)
    field_name = (field_map or {}).get(field_name, field_name)
    field = getattr(form, field_name, None) if field_name and form is not None else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, message] if isinstance(field.errors, list) else [message]
    else:
        flash(message, "error")


def staff_actor(user=None) -> Actor:
    """The signed-in staff user (or `user`) at the panel, from this request's address: the
    actor a panel view passes to the service it calls."""
    who = user if user is not None else current_user
    staff_user_id = getattr(who, "id", None) if getattr(who, "is_authenticated", True) else None
    return Actor(staff_user_id, client_ip(), "panel")


def api_actor(principal) -> Actor:
    """The API caller as an actor: its staff user (none for a member's token), via "api"."""
    staff = getattr(principal, "staff", None)
    return Actor(staff.id if staff is not None else None, client_ip(), "api")


def member_actor(via: str = "portal") -> Actor:
    """A member acting for themselves through the portal or the member app."""
    return Actor(None, client_ip(), via)
