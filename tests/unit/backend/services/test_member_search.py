"""Finding members (backend/services/member_search.py): the cashier's exact lookup by card
or mobile in any digit script, a printed card still in stock, and the browsing search
limited to an operator's branch."""

import pytest

from backend.models import Card
from backend.services import member_search
from tests import factories

PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


@pytest.fixture
def people(db):
    home, other = factories.branch(db), factories.branch(db)
    sara = factories.member(db, first_name="Sara", last_name="Ahmadi", home_branch_id=home.id,
                            national_code="0012345679")
    reza = factories.member(db, first_name="Reza", last_name="Karimi", home_branch_id=other.id)
    gift = factories.member(db, first_name="Gift", last_name="Card", home_branch_id=home.id,
                            is_gift_account=True)
    return home, other, sara, reza, gift


def found(db, **criteria) -> set[str]:
    return {member.first_name for member in
            db.scalars(member_search.search_statement(**criteria)).all()}


def test_exact_lookup_by_card_or_mobile_in_persian_digits(db, people):
    _, _, sara, reza, _ = people
    assert member_search.exact_lookup(db, factories.card_of(sara)) == sara
    assert member_search.exact_lookup(db, reza.mobile.translate(PERSIAN_DIGITS)) == reza
    assert member_search.exact_lookup(db, "+98" + reza.mobile[1:]) == reza


def test_exact_lookup_finds_nobody_for_a_name_or_an_unknown_number(db, people):
    assert member_search.exact_lookup(db, "Sara") is None
    assert member_search.exact_lookup(db, "09120000000") is None
    assert member_search.exact_lookup(db, factories.card_number(999_999)) is None


def test_a_card_in_stock_is_recognised_and_an_issued_members_card_is_not(db, people):
    _, _, sara, _, _ = people
    stock = factories.card_number(888_888)
    db.add(Card(number=stock, status="issued"))
    db.flush()
    assert member_search.card_in_stock(db, stock) == stock
    assert member_search.card_in_stock(db, factories.card_of(sara)) is None
    assert member_search.card_in_stock(db, "not a card") is None


def test_browsing_matches_names_numbers_and_leaves_out_gift_accounts(db, people):
    _, _, sara, reza, _ = people
    assert found(db, scope_branch_id=None) == {"Sara", "Reza"}
    assert found(db, scope_branch_id=None, query="Sara Ahmadi") == {"Sara"}
    assert found(db, scope_branch_id=None, query="karimi") == {"Reza"}
    assert found(db, scope_branch_id=None, query="0012345679") == {"Sara"}
    assert found(db, scope_branch_id=None,
                 query=factories.card_of(reza)[-6:].translate(PERSIAN_DIGITS)) == {"Reza"}
    assert found(db, scope_branch_id=None, query="Card") == set()


def test_an_operators_scope_wins_over_a_branch_filter(db, people):
    home, other, *_ = people
    assert found(db, scope_branch_id=home.id) == {"Sara"}
    # An operator cannot widen the search to another branch by asking for it.
    assert found(db, scope_branch_id=home.id, branch_id=other.id) == {"Sara"}
    assert found(db, scope_branch_id=None, branch_id=other.id) == {"Reza"}
