"""The club row's one accessor."""

from backend.models import the_club
from tests import factories


def test_the_club_is_none_until_set_up_then_the_one_row(db):
    assert the_club(db) is None
    club = factories.club(db)
    assert the_club(db) is club
