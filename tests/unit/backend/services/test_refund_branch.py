"""Issue 18 item 7: an operator refunds only purchases made at their own branch — in the
service, whatever calls it — and the panel shows the refund button by the same rule."""

import re

import pytest
from sqlalchemy import select

from backend.errors import RefUnknown
from backend.models import LedgerTransaction, Purchase
from backend.services import counter
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW


@pytest.fixture
def shop(db):
    factories.club(db)
    own, other = factories.branch(db), factories.branch(db)
    member = factories.member(db, home_branch_id=own.id, tier_id=factories.tier(db).id)
    sales = {}
    for branch, key in ((own, "own"), (other, "other")):
        sales[key] = counter.record_purchase(
            db, actor=SYSTEM, member_id=member.id, branch_id=branch.id, amount_rials=100_000,
            use_credit_rials=0, request_key=f"branch-refund-sale-{key}", now=NOW).purchase
    operator = factories.staff_user(db, username="cashier", role="operator",
                                    branch_id=own.id, permissions=["refunds"])
    drifter = factories.staff_user(db, username="drifter", role="operator", branch_id=None,
                                   permissions=["refunds"])
    admin = factories.staff_user(db, username="owner", role="admin")
    db.commit()  # a refused refund rolls its transaction back, not the shop
    return type("Shop", (), {"member": member, "sales": sales, "operator": operator,
                             "drifter": drifter, "admin": admin})


def refund(db, shop, who, sale, key):
    return counter.refund(db, actor=SYSTEM, purchase_id=shop.sales[sale].id, amount_rials=None,
                          request_key=f"branch-refund-{key}-000000", staff_user_id=who.id,
                          now=NOW)


def refunded(db, shop, sale) -> int:
    return db.get(Purchase, shop.sales[sale].id).refunded_amount_rials


def test_an_operator_cannot_refund_another_branchs_purchase(db, shop):
    before = db.scalars(select(LedgerTransaction.id)).all()
    with pytest.raises(RefUnknown):
        refund(db, shop, shop.operator, "other", "a")
    with pytest.raises(RefUnknown):  # no branch: no refunds, not every branch's
        refund(db, shop, shop.drifter, "own", "b")
    assert db.scalars(select(LedgerTransaction.id)).all() == before
    assert refunded(db, shop, "other") == 0 and refunded(db, shop, "own") == 0
    refund(db, shop, shop.operator, "own", "c")
    refund(db, shop, shop.admin, "other", "d")
    assert refunded(db, shop, "own") == 100_000 and refunded(db, shop, "other") == 100_000


def test_the_member_page_shows_refund_buttons_for_the_own_branch_only(client, auth, db, shop):
    assert auth.login("cashier").status_code == 302
    page = client.get(f"/members/{shop.member.id}").get_data(as_text=True)
    buttons = set(re.findall(r'/members/\d+/refund/(\d+)"', page))
    assert buttons == {str(shop.sales["own"].id)}
    response = client.post(f"/members/{shop.member.id}/refund/{shop.sales['other'].id}",
                           data={f"refund{shop.sales['other'].id}-request_key":
                                 "branch-refund-page-000000"})
    assert response.status_code == 400
    assert refunded(db, shop, "other") == 0
