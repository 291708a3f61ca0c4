"""A small club for the API tests: two branches, an admin, a plain operator and one
granted every permission (both at the first branch), two members with passwords, a
purchase and a request of the first member, and the catalogue's rows."""

from dataclasses import dataclass

import pytest

from backend.models import FaqEntry, Offer, Product, Reward
from backend.services import counter, member_requests
from backend.services.permissions import PERMISSIONS
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW

MEMBER_PASSWORD = "member-pass-1"


@dataclass
class ApiWorld:
    own_branch: object
    other_branch: object
    own: object        # a member of the operators' branch, with a password
    other: object      # a member of the other branch, with a password
    purchase: object   # a purchase of `own` at the operators' branch
    request: object    # a message from `own`
    tier: object
    product: object
    offer: object


@pytest.fixture
def api_world(db):
    return make_api_world(db)


def make_api_world(db) -> ApiWorld:
    factories.club(db, max_transfer_rials=1_000_000, max_transfer_per_day_rials=5_000_000)
    own_branch, other_branch = factories.branch(db), factories.branch(db)
    tier = factories.tier(db, code="silver")
    factories.staff_user(db, username="admin", role="admin")
    factories.staff_user(db, username="operator", role="operator", branch_id=own_branch.id,
                         full_name="Op")
    factories.staff_user(db, username="granted", role="operator", branch_id=own_branch.id,
                         full_name="Granted", permissions=list(PERMISSIONS))
    # Points enough for any conversion the API accepts, so the fuzzer's reach the service.
    own = factories.member(db, home_branch_id=own_branch.id, tier_id=tier.id,
                           credit_rials=50_000, points=10**12)
    other = factories.member(db, home_branch_id=other_branch.id, tier_id=tier.id,
                             credit_rials=20_000)
    for member in (own, other):
        member.password_hash = factories.cheap_password_hash(MEMBER_PASSWORD)
    purchase = counter.record_purchase(db, actor=SYSTEM, member_id=own.id, branch_id=own_branch.id,
                                       amount_rials=100_000, use_credit_rials=0,
                                       request_key="api-world-purchase-1", now=NOW).purchase
    request = member_requests.submit_request(db, actor=SYSTEM, member_id=own.id, subject="Card",
                                             body="Where is my card?", now=NOW)
    product = Product(sku="tea", name="Tea", price_rials=50_000)
    offer = Offer(name="Autumn", reward_kind="bonus_points", reward_value=5)
    # A cheap unlimited reward, so the fuzzer's redemptions reach the service.
    reward = Reward(name="Coffee", kind="discount", points_cost=1, value_rials=1_000)
    db.add_all([product, offer, reward, FaqEntry(question="Hours?", answer="9 to 21")])
    db.flush()
    return ApiWorld(own_branch, other_branch, own, other, purchase, request, tier, product,
                    offer)


def staff_headers(client, username: str, password: str = "admin-password") -> dict:
    response = client.post("/api/v1/tokens", json={"username": username, "password": password})
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


def member_headers(client, member, password: str = MEMBER_PASSWORD) -> dict:
    response = client.post("/api/v1/member-tokens", json={"mobile": member.mobile,
                                                          "password": password})
    assert response.status_code == 201, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


class MovingClock:
    """The app's clock (config CLOCK), pinned at NOW; a test moves it by setting `now`."""

    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def clock(app, monkeypatch):
    moving = MovingClock()
    monkeypatch.setitem(app.config, "CLOCK", moving)
    return moving
