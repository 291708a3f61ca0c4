"""backend/services/catalogue.py: which offers a member is shown (the portal's offers page
and the API's /me/offers both ask it)."""

from datetime import timedelta

from backend.models import Offer
from backend.services import catalogue
from tests import factories
from tests.conftest import NOW


def offer(db, name, **fields) -> Offer:
    row = Offer(name=name, reward_kind="percent_discount", reward_value=10, **fields)
    db.add(row)
    db.flush()
    return row


def test_a_member_sees_the_active_offers_of_their_tier_or_of_every_tier_by_priority(db):
    member = factories.member(db)
    other_tier = factories.tier(db, rank=3)
    offer(db, "everyone, later", priority=20)
    offer(db, "everyone, first", priority=10)
    offer(db, "my tier", priority=30, tier_codes=f"x,{member.tier.code}")
    offer(db, "another tier", tier_codes=other_tier.code)
    offer(db, "switched off", is_active=False)
    offer(db, "not yet", starts_at=NOW + timedelta(minutes=1))
    offer(db, "over", ends_at=NOW)
    offer(db, "ends later", priority=40, starts_at=NOW, ends_at=NOW + timedelta(days=1))
    names = [row.name for row in catalogue.offers_for(db, member, NOW)]
    assert names == ["everyone, first", "everyone, later", "my tier", "ends later"]
