"""The one pagination helper shared by the panel, the portal and the API."""

from sqlalchemy import select

from backend.models import Member
from backend.web.common import fetch_page
from tests import factories


def test_fetch_page_cuts_rows_and_counts_all(db):
    ids = [factories.member(db).id for _ in range(5)]
    statement = select(Member).where(Member.id.in_(ids)).order_by(Member.id)

    first, total = fetch_page(statement, 1, 2)
    last, _ = fetch_page(statement, 3, 2)
    beyond, _ = fetch_page(statement, 4, 2)
    pairs, _ = fetch_page(select(Member.id, Member.id).where(Member.id.in_(ids))
                          .order_by(Member.id), 2, 2, scalars=False)

    assert total == 5
    assert [row.id for row in first] == ids[:2]
    assert [row.id for row in last] == ids[4:]
    assert beyond == []
    assert [tuple(row) for row in pairs] == [(ids[2], ids[2]), (ids[3], ids[3])]

