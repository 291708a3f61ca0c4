"""Finding members: the exact lookup a cashier uses (card or mobile, any branch, C5) and
the browsing search (names, numbers; an operator's own branch). Shared by the panel's
member list and the API."""

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.models import Card, Member
from backend.validators import normalize_mobile
from card_spec import CardNumberError, normalize_digits, parse_card_number


def exact_lookup(session: Session, query: str) -> Member | None:
    """A member by exact card number or mobile, or None."""
    try:
        number = parse_card_number(query)
    except CardNumberError:
        try:
            mobile = normalize_mobile(query)
        except ValueError:
            return None
        return session.scalars(select(Member).where(Member.mobile == mobile)).first()
    return session.scalars(select(Member).join(Card, Card.member_id == Member.id)
                           .where(Card.number == number)).first()


def card_in_stock(session: Session, query: str) -> str | None:
    """The number typed, when it is a printed card in stock (issued, no member yet: C3)."""
    try:
        number = parse_card_number(query)
    except CardNumberError:
        return None
    return session.scalars(select(Card.number).where(Card.number == number,
                                                     Card.status == "issued")).first()


def search_statement(*, scope_branch_id: int | None, query: str = "", tier_id: int | None = None,
                     branch_id: int | None = None):
    """People (not gift-card accounts) matching `query` in names, mobile, national code or
    card number; limited to `scope_branch_id` when given (an operator's branch)."""
    statement = select(Member).where(Member.is_gift_account.is_(False))
    if scope_branch_id is not None:
        statement = statement.where(Member.home_branch_id == scope_branch_id)
    if query:
        digits = normalize_digits(query)
        pattern = f"%{query}%"
        statement = statement.where(or_(
            Member.first_name.ilike(pattern), Member.last_name.ilike(pattern),
            (Member.first_name + " " + Member.last_name).ilike(pattern),
            Member.mobile.like(f"%{digits}%"), Member.national_code.like(f"%{digits}%"),
            Member.id.in_(select(Card.member_id).where(Card.number.like(f"%{digits}%"))),
        ))
    if tier_id:
        statement = statement.where(Member.tier_id == tier_id)
    if branch_id and scope_branch_id is None:
        statement = statement.where(Member.home_branch_id == branch_id)
    return statement
