"""Issue 18 items 9 and 10 through the panel: owners type and read percentages (basis
points stay inside); a date typed is a whole day in Tehran, inclusive, and lists show
the Tehran date of what is stored in UTC."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from backend.models import NewsPost, Offer, OfferRedemption, Tier, the_club
from backend.services import counter
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.unit.backend.web.admin.test_panel_lists import sign_in_admin


def test_tier_percentages_are_typed_as_percent_and_stored_in_basis_points(client, db, app):
    sign_in_admin(client, db, app)
    response = client.post("/catalogue/tiers/new", data={
        "code": "gold", "name": "gold", "rank": "۳", "credit_percent": "۵٫۵",
        "discount_percent": "۱۰", "points_per_step": "۲", "point_step": "۱۰٬۰۰۰",
        "min_spend": "", "min_purchases": "", "qualify_mode": "all"})
    assert response.status_code == 302, response.get_data(as_text=True)
    tier = db.scalars(select(Tier).where(Tier.code == "gold")).one()
    assert (tier.credit_percent_bp, tier.discount_percent_bp, tier.rank) == (550, 1000, 3)
    assert tier.point_step_rials == 10_000
    listed = client.get("/catalogue/tiers").get_data(as_text=True)
    assert ">۵٫۵٪<" in listed and ">۱۰٪<" in listed and "۱۰۰۰" not in listed
    edit = client.get(f"/catalogue/tiers/{tier.id}").get_data(as_text=True)
    assert 'name="credit_percent" type="text" value="5.5"' in edit
    assert 'inputmode="decimal"' in edit


def test_a_percentage_above_100_is_refused_by_its_field(client, db, app):
    sign_in_admin(client, db, app)
    response = client.post("/catalogue/products/new", data={
        "sku": "tea", "name": "Tea", "discount_percent": "۱۵۰"})
    assert response.status_code == 400
    assert "tea" not in client.get("/catalogue/products").get_data(as_text=True)


def test_offer_values_are_typed_as_their_kind_reads(client, db, app):
    sign_in_admin(client, db, app)
    the_club(db).currency_display = "toman"
    db.flush()
    for name, kind, typed in (("Ten off", "percent_discount", "۱۰"),
                              ("Fixed", "fixed_discount", "۵٬۰۰۰"),
                              ("Points", "bonus_points", "۵۰")):
        response = client.post("/catalogue/offers/new", data={
            "name": name, "is_active": "y", "reward_kind": kind, "reward_value": typed})
        assert response.status_code == 302, response.get_data(as_text=True)
    values = {offer.name: offer.reward_value for offer in db.scalars(select(Offer))}
    # 10 % is 1000 basis points; 5,000 toman are 50,000 rials; points are points.
    assert values == {"Ten off": 1000, "Fixed": 50_000, "Points": 50}
    listed = client.get("/catalogue/offers").get_data(as_text=True)
    assert ">۱۰٪<" in listed and "۵٬۰۰۰ تومان" in listed and ">۵۰<" in listed
    assert ">۱٬۰۰۰<" not in listed and ">۱۰۰۰<" not in listed
    response = client.post("/catalogue/offers/new", data={
        "name": "Too much", "is_active": "y", "reward_kind": "percent_discount",
        "reward_value": "۱۲۰"})
    assert response.status_code == 400 and "حداکثر ۱۰۰٪." in response.get_data(as_text=True)


def test_an_offer_runs_through_the_end_date_typed_in_tehran(client, db, app):
    sign_in_admin(client, db, app)
    response = client.post("/catalogue/offers/new", data={
        "name": "Autumn", "is_active": "y", "reward_kind": "bonus_points", "reward_value": "۵",
        "starts_on": "۱۴۰۵/۰۸/۳۰", "ends_on": "۱۴۰۵/۰۸/۳۰"})  # one day: 21 November
    assert response.status_code == 302, response.get_data(as_text=True)
    offer = db.scalars(select(Offer)).one()
    branch = factories.branch(db)
    tier = factories.tier(db)

    def bonus_at(moment, key):
        member = factories.member(db, tier_id=tier.id)
        counter.record_purchase(db, actor=SYSTEM, member_id=member.id, branch_id=branch.id,
                                amount_rials=100_000, use_credit_rials=0,
                                request_key=f"offer-end-day-{key}", now=moment)
        return db.scalar(select(func.count()).select_from(OfferRedemption).where(
            OfferRedemption.offer_id == offer.id, OfferRedemption.member_id == member.id))

    # Tehran is UTC+3:30: 30 Aban runs from 20:30 UTC the day before to 20:29:59 UTC.
    assert bonus_at(datetime(2026, 11, 20, 20, 29, 59, tzinfo=UTC), "k1") == 0  # 29 Aban
    assert bonus_at(datetime(2026, 11, 20, 20, 30, tzinfo=UTC), "k2") == 1      # 00:00
    assert bonus_at(datetime(2026, 11, 21, 20, 29, 59, tzinfo=UTC), "k3") == 1  # 23:59:59
    assert bonus_at(datetime(2026, 11, 21, 20, 30, tzinfo=UTC), "k4") == 0      # 1 Azar
    listed = client.get("/catalogue/offers").get_data(as_text=True)
    assert listed.count(">۱۴۰۵/۰۸/۳۰<") == 2  # starts and ends on the day typed
    edit = client.get(f"/catalogue/offers/{offer.id}").get_data(as_text=True)
    assert 'value="1405/08/30"' in edit.split('name="ends_on"')[1].split(">")[0]


def test_lists_show_the_tehran_date_of_an_instant_after_local_midnight(client, db, app):
    """00:30 on 1 Azar in Tehran is still 30 Aban in UTC: the list says 1 Azar."""
    sign_in_admin(client, db, app)
    just_after_midnight = datetime(2026, 11, 21, 21, 0, tzinfo=UTC)
    db.add(NewsPost(kind="event", title="Yalda", body="", event_at=just_after_midnight,
                    publish_from=just_after_midnight - timedelta(days=1),
                    publish_until=None, tier_codes="", is_active=True))
    db.flush()
    listed = client.get("/news").get_data(as_text=True)
    assert "۱۴۰۵/۰۹/۰۱" in listed, listed
    assert listed.count("۱۴۰۵/۰۸/۳۰") == 1  # only publish_from, a day before


def test_news_shown_until_a_day_is_shown_all_of_that_day(client, db, app):
    sign_in_admin(client, db, app)
    response = client.post("/news/new", data={
        "kind": "news", "title": "Hours", "body": "", "publish_on": "۱۴۰۵/۰۸/۳۰",
        "publish_until_on": "۱۴۰۵/۰۸/۳۰", "is_active": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)
    post = db.scalars(select(NewsPost)).one()
    last_instant_in_tehran = datetime(2026, 11, 21, 20, 29, 59, tzinfo=UTC)
    assert post.publish_from <= last_instant_in_tehran < post.publish_until
    assert post.publish_until < datetime(2026, 11, 21, 20, 30, tzinfo=UTC)


def test_api_credit_granted_until_a_day_is_spendable_all_of_that_day(client, db, api_world):
    """The API's typed date is the panel's: the whole day in Tehran, inclusive."""
    from backend.models import CreditLot
    from tests.unit.backend.web.conftest import staff_headers

    headers = staff_headers(client, "admin")
    grant = client.post(f"/api/v1/members/{api_world.own.id}/credit-grants",
                        headers={**headers, "Idempotency-Key": "grant-until-day-0001"},
                        json={"amount_rials": 7_000, "reason": "Yalda",
                              "expires_on": "۱۴۰۵/۰۹/۳۰"})  # 21 December 2026
    assert grant.status_code == 201, grant.get_json()
    lot = db.scalars(select(CreditLot).where(CreditLot.member_id == api_world.own.id,
                                             CreditLot.amount_rials == 7_000)).one()
    assert datetime(2026, 12, 21, 20, 29, 59, tzinfo=UTC) < lot.expires_at \
        <= datetime(2026, 12, 21, 20, 30, tzinfo=UTC)
    both = client.post(f"/api/v1/members/{api_world.own.id}/credit-grants",
                       headers={**headers, "Idempotency-Key": "grant-until-day-0002"},
                       json={"amount_rials": 1_000, "reason": "x", "expires_on": "1405/09/30",
                             "expires_at": "2026-12-21T00:00:00+00:00"})
    assert both.status_code == 400
