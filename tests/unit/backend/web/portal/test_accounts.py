"""Joining from the portal with an SMS code, signing in with a code and a forgotten
password — end to end through the Flask client, the code read from the outbox."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.models import Card, Member, Message, VerificationCode
from backend.services import member_auth
from backend.web.portal.home import referral_code
from tests import factories
from tests.conftest import NOW


@pytest.fixture
def club(db):
    row = factories.club(db, welcome_credit_rials=50_000, referral_join_bonus_rials=20_000)
    factories.tier(db, code="bronze", name="bronze", rank=1)
    return row


def last_code(db, mobile):
    message = db.scalars(select(Message).where(Message.kind == "otp",
                                               Message.recipient == mobile)
                         .order_by(Message.id.desc())).first()
    return message.params["code"] if message else None


def text(response):
    return response.get_data(as_text=True)


def test_join_from_a_referral_link_end_to_end(app, client, db, club, clock):
    friend = factories.member(db, first_name="Kaveh")
    page = client.get(f"/portal/join?ref={referral_code(friend.id)}")
    assert "Kaveh" in text(page)
    response = client.post("/portal/join", data={
        "ref": referral_code(friend.id), "first_name": "نگار", "last_name": "رضایی",
        "mobile": "۰۹۳۵ ۱۲۳ ۴۵۶۷"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/portal/join/verify"
    code = last_code(db, "09351234567")
    assert code is not None and len(code) == 6
    # The stored code is a keyed hash, not the code.
    [stored] = db.scalars(select(VerificationCode)).all()
    assert code not in stored.code_hash and stored.purpose == "join"
    wrong = "000000" if code != "000000" else "111111"
    response = client.post("/portal/join/verify", data={"code": wrong,
                                                        "password": "negar-pass-1"})
    assert response.status_code == 400 and "کد درست نیست" in text(response)
    persian_code = code.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    response = client.post("/portal/join/verify", data={"code": persian_code,
                                                        "password": "negar-pass-1"})
    assert response.status_code == 302 and response.headers["Location"] == "/portal/"
    member = db.scalars(select(Member).where(Member.mobile == "09351234567")).one()
    assert (member.first_name, member.referrer_id) == ("نگار", friend.id)
    assert member.credit_balance_rials == 50_000
    assert db.get(Member, friend.id).credit_balance_rials == 20_000
    [card] = db.scalars(select(Card).where(Card.member_id == member.id)).all()
    assert card.number.startswith(app.config["DIGITAL_CARD_PREFIX"])
    home = text(client.get("/portal/"))
    assert "۵۰٬۰۰۰ ریال" in home and "<svg" in home
    kinds = [m.kind for m in db.scalars(select(Message).where(
        Message.member_id == member.id).order_by(Message.id))]
    assert "welcome" in kinds
    # The password chosen works, and the code cannot be used twice.
    assert member_auth.authenticate(db, "09351234567", "negar-pass-1", ip="1.2.3.4",
                                    now=NOW) is not None
    client.post("/portal/sign-out")
    assert client.get("/portal/join/verify").headers["Location"] == "/portal/join"


def test_join_refuses_a_mobile_that_is_already_a_member(client, db, club, clock):
    member = factories.member(db)
    response = client.post("/portal/join", data={"first_name": "A", "last_name": "B",
                                                  "mobile": member.mobile})
    assert response.status_code == 400 and "عضو باشگاه است" in text(response)
    assert last_code(db, member.mobile) is None


def test_a_code_expires_after_two_minutes(client, db, club, clock):
    client.post("/portal/join", data={"first_name": "A", "last_name": "B",
                                      "mobile": "09351234568"})
    code = last_code(db, "09351234568")
    clock.now = NOW + timedelta(minutes=2, seconds=1)
    response = client.post("/portal/join/verify", data={"code": code,
                                                        "password": "long-enough-1"})
    assert response.status_code == 400 and "منقضی" in text(response)
    assert db.scalars(select(Member).where(Member.mobile == "09351234568")).first() is None


def test_five_wrong_codes_use_the_code_up(client, db, club, clock):
    client.post("/portal/join", data={"first_name": "A", "last_name": "B",
                                      "mobile": "09351234569"})
    code = last_code(db, "09351234569")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        response = client.post("/portal/join/verify", data={"code": wrong,
                                                            "password": "long-enough-1"})
        assert "کد درست نیست" in text(response)
    response = client.post("/portal/join/verify", data={"code": code,
                                                        "password": "long-enough-1"})
    assert response.status_code == 400 and "نادرست زیاد" in text(response)


def test_a_short_password_keeps_the_code_usable(client, db, club, clock):
    client.post("/portal/join", data={"first_name": "A", "last_name": "B",
                                      "mobile": "09351234570"})
    code = last_code(db, "09351234570")
    response = client.post("/portal/join/verify", data={"code": code, "password": "short"})
    assert response.status_code == 400
    response = client.post("/portal/join/verify", data={"code": code,
                                                        "password": "long-enough-1"})
    assert response.status_code == 302


def test_codes_are_rate_limited_per_mobile_and_address(client, db, club, clock):
    data = {"first_name": "A", "last_name": "B", "mobile": "09351234571"}
    assert client.post("/portal/join", data=data).status_code == 302
    again = client.post("/portal/join/verify", data={"resend": "1"})
    assert again.status_code == 302
    assert "یک دقیقه" in text(client.get("/portal/join/verify"))
    assert client.post("/portal/join", data=data).status_code == 429
    for minute in range(1, 5):  # one a minute is fine, up to five an hour
        clock.now = NOW + timedelta(minutes=minute)
        assert client.post("/portal/join", data=data).status_code == 302
    clock.now = NOW + timedelta(minutes=6)
    response = client.post("/portal/join", data=data)
    assert response.status_code == 429 and "یک ساعت" in text(response)
    # Twenty codes an hour from one address, whatever the numbers.
    for index in range(15):
        client.post("/portal/join", data={**data, "mobile": f"0935200{index:04d}"})
    response = client.post("/portal/join", data={**data, "mobile": "09352009999"})
    assert response.status_code == 429


def test_sign_in_with_a_code(client, db, club, clock):
    member = factories.member(db)
    response = client.post("/portal/sign-in/code", data={"mobile": member.mobile})
    assert response.headers["Location"] == "/portal/sign-in/code/verify"
    code = last_code(db, member.mobile)
    response = client.post("/portal/sign-in/code/verify", data={"code": code})
    assert response.status_code == 302 and response.headers["Location"] == "/portal/"
    assert client.get("/portal/").status_code == 200


def test_a_number_that_is_no_members_gets_the_same_answer_and_no_sms(client, db, club,
                                                                     clock):
    member_page = client.post("/portal/sign-in/code", data={"mobile": "09351230000"},
                              follow_redirects=True)
    assert "اگر این شماره" in text(member_page)
    assert last_code(db, "09351230000") is None
    response = client.post("/portal/sign-in/code/verify", data={"code": "123456"})
    assert response.status_code == 400


def test_forgotten_password(client, db, club, clock):
    member = factories.member(db)
    member_auth.set_password(db, member.id, "old-password-1")
    client.post("/portal/forgot", data={"mobile": member.mobile})
    code = last_code(db, member.mobile)
    response = client.post("/portal/forgot/verify", data={"code": code,
                                                          "password": "new-password-1"})
    assert response.status_code == 302
    assert member_auth.authenticate(db, member.mobile, "old-password-1", ip="1.1.1.1",
                                    now=NOW) is None
    assert member_auth.authenticate(db, member.mobile, "new-password-1", ip="1.1.1.1",
                                    now=NOW) is not None


def test_message_language_in_the_profile(client, db, club, clock):
    member = factories.member(db)
    member_auth.set_password(db, member.id, "member-pass-1")
    client.post("/portal/sign-in", data={"mobile": member.mobile, "password": "member-pass-1"})
    response = client.post("/portal/profile", data={"email": "", "message_language": "en"})
    assert response.status_code == 302
    assert db.get(Member, member.id).message_language == "en"


@pytest.mark.parametrize("path", ["/portal/join", "/portal/sign-in/code", "/portal/forgot"])
def test_account_pages_render(client, db, club, path):
    assert client.get(path).status_code == 200
