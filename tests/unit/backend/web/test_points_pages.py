"""Issue 18 items 1, 3 and 5 through the pages and the API: points converted and rewards
taken in the portal, at the counter and through the API; the settings for points,
weekday multipliers and the profile reward; offers limited to weekdays and hours; the
portal profile's birth date, city and gender."""

import re
from datetime import date

from sqlalchemy import func, select

from backend.models import (
    AuditLog,
    LedgerTransaction,
    Offer,
    Reward,
    RewardRedemption,
    the_club,
)
from backend.services import member_auth
from tests import factories
from tests.conftest import NOW
from tests.unit.backend.web.conftest import member_headers, staff_headers

PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def fa(value) -> str:
    return str(value).translate(PERSIAN)


def portal_member(client, db, app, **fields):
    app.config["CLOCK"] = lambda: NOW
    factories.club(db, point_value_rials=100, **fields)
    member = factories.member(db, points=1_000)
    member_auth.set_password(db, member.id, "member-pass-1")
    response = client.post("/portal/sign-in", data={"mobile": member.mobile,
                                                    "password": "member-pass-1"})
    assert response.status_code == 302
    return member


def request_key(page: str, form_id: str) -> str:
    form = page[page.index(f'id="{form_id}"'):]
    return re.search(r'name="(?:\w+-)?request_key" type="hidden" value="([^"]+)"', form).group(1)


def test_a_member_converts_points_in_the_portal_once_per_form(client, db, app):
    member = portal_member(client, db, app, points_min_convert=100)
    page = client.get("/portal/points").get_data(as_text=True)
    assert 'id="spendable-points">۱٬۰۰۰<' in page and 'type="number"' not in page
    key = request_key(page, "convert-form")
    assert client.post("/portal/points/convert", data={"request_key": key,
                                                       "points": "۹۹"}).status_code == 400
    for _ in range(2):  # the same form twice (a double tap)
        response = client.post("/portal/points/convert", data={"request_key": key,
                                                               "points": "۴۰۰"})
        assert response.status_code == 302
    db.refresh(member)
    assert (member.points_balance, member.credit_balance_rials) == (600, 40_000)
    assert db.scalar(select(func.count()).select_from(LedgerTransaction).where(
        LedgerTransaction.kind == "conversion")) == 1


def test_a_member_takes_a_reward_in_the_portal(client, db, app):
    member = portal_member(client, db, app)
    db.add_all([Reward(name="Coffee", kind="discount", points_cost=300, value_rials=30_000,
                       stock=2),
                Reward(name="Big gift", kind="discount", points_cost=5_000, value_rials=1)])
    db.commit()
    coffee = db.scalars(select(Reward).where(Reward.name == "Coffee")).one()
    page = client.get("/portal/points").get_data(as_text=True)
    assert "Coffee" in page and "۲ عدد مانده" in page
    assert re.search(r'Big gift.*?disabled', page, re.S)  # more points than the member has
    response = client.post("/portal/points/rewards", data={
        "request_key": "k1-1", "reward_id": str(coffee.id)}, follow_redirects=True)
    assert "جایزه گرفته شد" in response.get_data(as_text=True)
    db.refresh(member)
    db.refresh(coffee)
    assert (member.points_balance, member.credit_balance_rials, coffee.stock) == (700, 30_000, 1)


def test_the_profile_collects_birth_date_city_and_gender_and_rewards_once(client, db, app):
    member = portal_member(client, db, app, profile_reward_kind="points",
                           profile_reward_value=250)
    page = client.get("/portal/profile").get_data(as_text=True)
    assert 'id="profile-reward"' in page and "۲۵۰ امتیاز" in page
    data = {"birth_date": "۱۳۷۰/۰۸/۳۰", "gender": "f", "city": "شیراز", "email": "",
            "message_language": ""}
    for _ in range(2):
        assert client.post("/portal/profile", data=data).status_code == 302
    db.refresh(member)
    assert (member.birth_date, member.city, member.gender) == (date(1991, 11, 21), "شیراز", "f")
    assert member.points_balance == 1_250
    assert 'id="profile-reward"' not in client.get("/portal/profile").get_data(as_text=True)


def sign_in_admin(client, db, app):
    app.config["CLOCK"] = lambda: NOW
    factories.club(db, point_value_rials=100)
    factories.branch(db)
    factories.staff_user(db, username="admin", role="admin")
    assert client.post("/login", data={"username": "admin",
                                       "password": "admin-password"}).status_code == 302


def test_the_counter_converts_points_and_gives_rewards_with_an_audit_trail(client, db, app):
    sign_in_admin(client, db, app)
    member = factories.member(db, points=1_000)
    reward = Reward(name="Tea", kind="discount", points_cost=200, value_rials=25_000)
    db.add(reward)
    db.commit()
    page = client.get(f"/members/{member.id}").get_data(as_text=True)
    assert "امتیاز قابل استفادهٔ عضو: ۱٬۰۰۰" in page and 'type="number"' not in page
    response = client.post(f"/members/{member.id}/convert-points", data={
        "convert-request_key": request_key(page, "convert-form"), "convert-points": "۳۰۰"})
    assert response.status_code == 302
    response = client.post(f"/members/{member.id}/redeem-reward", data={
        "redeem-request_key": request_key(page, "redeem-form"),
        "redeem-reward_id": str(reward.id)})
    assert response.status_code == 302
    db.refresh(member)
    assert (member.points_balance, member.credit_balance_rials) == (500, 55_000)
    actions = set(db.scalars(select(AuditLog.action)))
    assert {"convert_points", "redeem_reward"} <= actions
    assert db.scalars(select(RewardRedemption.channel)).one() == "counter"


def test_settings_set_points_weekdays_and_the_profile_reward(client, db, app):
    sign_in_admin(client, db, app)
    page = client.get("/settings").get_data(as_text=True)
    assert "امتیاز شنبه" in page and 'type="number"' not in page
    data = {"name": "Club", "currency_display": "rial", "offline_window_days": "۷",
            "tier_window_days": "۳۶۵", "points_min_convert": "۱۰۰",
            "points_expiry_days": "۹۰", "profile_reward_kind": "credit",
            "profile_reward_credit": "۵۰٬۰۰۰", "weekday_0": "۲۰۰", "weekday_6": "۱۵۰"}
    response = client.post("/settings", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    club = the_club(db)
    db.refresh(club)
    assert club.weekday_points_percent == [200, 100, 100, 100, 100, 100, 150]
    assert (club.points_min_convert, club.points_expiry_days) == (100, 90)
    assert (club.profile_reward_kind, club.profile_reward_value) == ("credit", 50_000)
    bad = client.post("/settings", data={**data, "weekday_3": "۱۰۰۱"})
    assert bad.status_code == 400
    db.refresh(club)
    assert club.weekday_points_percent[3] == 100


def test_an_offer_is_limited_to_weekdays_and_a_happy_hour(client, db, app):
    sign_in_admin(client, db, app)
    page = client.get("/catalogue/offers/new").get_data(as_text=True)
    assert "پنجشنبه" in page and 'type="number"' not in page
    data = {"name": "Happy hour", "is_active": "y", "reward_kind": "fixed_discount",
            "reward_value": "۱۰٬۰۰۰", "weekdays": ["5", "6"], "from_time": "۱۷:۰۰",
            "until_time": "۱۹:۳۰"}
    response = client.post("/catalogue/offers/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)
    offer = db.scalars(select(Offer)).one()
    assert (offer.weekdays, offer.from_minute, offer.until_minute) == ([5, 6], 1020, 1170)
    edit = client.get(f"/catalogue/offers/{offer.id}").get_data(as_text=True)
    assert 'value="17:00"' in edit and 'value="19:30"' in edit
    half = client.post("/catalogue/offers/new", data={**data, "until_time": ""})
    assert half.status_code == 400
    wrong = client.post("/catalogue/offers/new", data={**data, "from_time": "۲۵:۰۰"})
    assert wrong.status_code == 400 and "۱۷:۳۰" in wrong.get_data(as_text=True)


def test_rewards_are_defined_in_the_catalogue(client, db, app):
    sign_in_admin(client, db, app)
    response = client.post("/catalogue/rewards/new", data={
        "name": "Coffee", "kind": "discount", "points_cost": "۵۰۰", "value": "۲۵٬۰۰۰",
        "stock": "۱۰", "is_active": "y"})
    assert response.status_code == 302, response.get_data(as_text=True)
    reward = db.scalars(select(Reward)).one()
    assert (reward.points_cost, reward.value_rials, reward.stock) == (500, 25_000, 10)
    assert client.post("/catalogue/rewards/new", data={
        "name": "Nothing", "kind": "discount", "points_cost": "۵۰۰"}).status_code == 400


def test_the_api_converts_and_redeems_for_staff_and_members(client, db, api_world):
    reward = db.scalars(select(Reward)).one()
    staff = staff_headers(client, "admin")
    own = api_world.own
    credit_before, points_before = own.credit_balance_rials, own.points_balance
    response = client.post(f"/api/v1/members/{own.id}/point-conversions", json={"points": 5},
                           headers={**staff, "Idempotency-Key": "conversion-key-0001"})
    assert response.status_code == 201, response.get_json()
    again = client.post(f"/api/v1/members/{own.id}/point-conversions", json={"points": 5},
                        headers={**staff, "Idempotency-Key": "conversion-key-0001"})
    assert again.get_json()["id"] == response.get_json()["id"]
    me = member_headers(client, own)
    listed = client.get("/api/v1/me/rewards", headers=me).get_json()
    assert [row["id"] for row in listed["items"]] == [reward.id]
    taken = client.post("/api/v1/me/reward-redemptions", json={"reward_id": reward.id},
                        headers={**me, "Idempotency-Key": "redemption-key-0001"})
    assert taken.status_code == 201, taken.get_json()
    assert taken.get_json()["points"] == 1
    pointless = member_headers(client, api_world.other)  # no points at all
    too_many = client.post("/api/v1/me/point-conversions", json={"points": 1},
                           headers={**pointless, "Idempotency-Key": "conversion-key-0002"})
    assert too_many.status_code == 409
    db.refresh(own)
    # 5 points at 100 rials, then the 1,000-rial reward for 1 point.
    assert own.credit_balance_rials == credit_before + 500 + 1_000
    assert own.points_balance == points_before - 5 - 1


def test_the_portal_lists_an_offer_with_its_days_and_hours(client, db, app):
    portal_member(client, db, app)
    db.add(Offer(name="Happy hour", reward_kind="fixed_discount", reward_value=10_000,
                 weekdays=[5], from_minute=17 * 60, until_minute=19 * 60 + 30))
    db.commit()
    page = client.get("/portal/offers").get_data(as_text=True)
    assert "پنجشنبه" in page and "از ۱۷:۰۰ تا ۱۹:۳۰" in page
