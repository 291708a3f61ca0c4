"""The members' portal: sign-in, every rial and point with its reason, transfers,
messages, and above all: a member sees only their own data."""

import re

import pytest
from sqlalchemy import select

from backend.models import MemberRequest
from backend.services import counter, member_auth, member_requests
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW


def member_with_password(db, password="member-pass-1", **fields):
    member = factories.member(db, **fields)
    member_auth.set_password(db, member.id, password)
    return member


def sign_in(client, member, password="member-pass-1"):
    response = client.post("/portal/sign-in", data={"mobile": member.mobile,
                                                    "password": password})
    assert response.status_code == 302, response.get_data(as_text=True)


def buy(db, member, amount=100_000, key=None):
    branch = factories.branch(db)
    return counter.record_purchase(db, actor=SYSTEM, member_id=member.id, branch_id=branch.id,
                                   amount_rials=amount, use_credit_rials=0,
                                   request_key=key or f"portal-test-{member.id}-{amount}",
                                   now=NOW).purchase


def test_sign_in_with_persian_digits_and_see_balances(client, db):
    factories.club(db)
    member = member_with_password(db, credit_rials=25_000, points=7)
    persian = member.mobile.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert client.post("/portal/sign-in", data={"mobile": persian,
                                                "password": "member-pass-1"}).status_code == 302
    page = client.get("/portal/").get_data(as_text=True)
    assert re.search(r'id="credit-balance">۲۵٬۰۰۰ ریال<', page)
    assert 'id="points-balance">۷<' in page
    assert "<svg" in page  # the card's QR code


def test_wrong_password_and_anonymous_access(client, db):
    member = member_with_password(db)
    response = client.post("/portal/sign-in", data={"mobile": member.mobile, "password": "no"})
    assert response.status_code == 401
    assert client.get("/portal/").headers["Location"].startswith("/portal/sign-in")
    assert client.get("/portal/history").headers["Location"].startswith("/portal/sign-in")


def test_history_shows_every_change_with_its_reason(client, db):
    factories.club(db)
    member = member_with_password(db, credit_rials=10_000)
    purchase = buy(db, member, 200_000)
    sign_in(client, member)
    page = client.get("/portal/history").get_data(as_text=True)
    assert "خرید ۲۰۰٬۰۰۰ ریالی" in page
    assert f"/portal/purchases/{purchase.id}" in page
    detail = client.get(f"/portal/purchases/{purchase.id}").get_data(as_text=True)
    assert "۱۹۰٬۰۰۰ ریال" in detail  # paid after the silver discount


def test_a_purchase_that_spent_credit_shows_spend_and_earn_as_two_lines(client, db):
    factories.club(db)
    member = member_with_password(db, credit_rials=10_000)
    counter.record_purchase(db, actor=SYSTEM,
                            member_id=member.id, branch_id=factories.branch(db).id,
                            amount_rials=200_000, use_credit_rials=5_000,
                            request_key="portal-test-spend-and-earn", now=NOW)
    sign_in(client, member)
    page = client.get("/portal/history").get_data(as_text=True)
    rows = [row for row in re.findall(r'<li data-direction="(\w+)">(.*?)</li>', page, re.S)
            if "خرید ۲۰۰٬۰۰۰ ریالی" in row[1]]
    # Silver: 190,000 after the 5 % discount, 5,000 of it credit; 5 % of 185,000 back.
    assert [direction for direction, _ in rows] == ["out", "in"]
    assert "اعتبار مصرفی" in rows[0][1] and "−۵٬۰۰۰ ریال" in rows[0][1]
    assert "کسب‌شده" in rows[1][1] and "+۹٬۲۵۰ ریال" in rows[1][1] and "+۲۰" in rows[1][1]


def test_a_member_sees_only_their_own_rows(client, db):
    factories.club(db)
    sara = member_with_password(db)
    kaveh = member_with_password(db)
    kavehs_purchase = buy(db, kaveh, 50_000)
    kavehs_request = member_requests.submit_request(db, actor=SYSTEM,
                                                    member_id=kaveh.id, subject="private",
                                                    body="my secret", now=NOW)
    sign_in(client, sara)
    for url in (f"/portal/purchases/{kavehs_purchase.id}",
                f"/portal/requests/{kavehs_request.id}",
                "/portal/purchases/999999", "/portal/requests/999999"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "my secret" not in response.get_data(as_text=True)
    # Ids in the query string are not how the portal chooses whose data to show.
    page = client.get("/portal/history", query_string={"member": kaveh.id,
                                                       "member_id": kaveh.id})
    assert "۵۰٬۰۰۰" not in page.get_data(as_text=True)


def test_transfer_to_a_friend_by_mobile_once_per_form(client, db):
    factories.club(db, max_transfer_rials=1_000_000, max_transfer_per_day_rials=1_000_000)
    sara = member_with_password(db, credit_rials=50_000)
    kaveh = factories.member(db)
    sign_in(client, sara)
    page = client.get("/portal/transfer").get_data(as_text=True)
    key = re.search(r'name="request_key"[^>]*value="([^"]+)"', page).group(1)
    form = {"request_key": key, "to_member": kaveh.mobile, "amount": "۲۰٬۰۰۰"}
    assert client.post("/portal/transfer", data=form).status_code == 302
    assert client.post("/portal/transfer", data=form).status_code == 302
    db.refresh(sara)
    db.refresh(kaveh)
    assert (sara.credit_balance_rials, kaveh.credit_balance_rials) == (30_000, 20_000)


def test_transfer_above_the_balance_is_refused_with_a_message(client, db):
    factories.club(db, max_transfer_rials=1_000_000, max_transfer_per_day_rials=1_000_000)
    sara = member_with_password(db, credit_rials=5_000)
    kaveh = factories.member(db)
    sign_in(client, sara)
    response = client.post("/portal/transfer", data={
        "request_key": "k" * 20, "to_member": kaveh.mobile, "amount": "9000"})
    assert response.status_code == 400
    db.refresh(kaveh)
    assert kaveh.credit_balance_rials == 0


def test_messages_to_the_club_and_the_answer(client, db):
    member = member_with_password(db)
    sign_in(client, member)
    assert client.post("/portal/requests", data={"subject": "ساعت کاری",
                                                 "body": "جمعه باز هستید؟"}).status_code == 302
    row = db.scalars(select(MemberRequest).where(MemberRequest.member_id == member.id)).one()
    member_requests.answer_request(db, actor=SYSTEM, request_id=row.id, staff_user_id=None,
                                   answer="بله، تا ساعت ۲۰.", now=NOW)
    assert "بله، تا ساعت ۲۰." in client.get(f"/portal/requests/{row.id}").get_data(as_text=True)


def test_password_change_ends_other_portal_sessions(app, client, db):
    member = member_with_password(db)
    other = app.test_client()
    sign_in(client, member)
    sign_in(other, member)
    response = client.post("/portal/profile", data={"current_password": "member-pass-1",
                                                    "new_password": "member-pass-2",
                                                    "email": ""})
    assert response.status_code == 302
    assert client.get("/portal/").status_code == 200
    assert other.get("/portal/").status_code == 302


def test_referral_link_names_no_mobile_and_round_trips(client, db, app):
    member = member_with_password(db, first_name="Nasrin")
    sign_in(client, member)
    page = client.get("/portal/refer").get_data(as_text=True)
    link = re.search(r'value="(http[^"]+/portal/join\?ref=[^"]+)"', page).group(1)
    assert member.mobile not in link and factories.card_of(member) not in link
    joined = client.get(link.split("localhost", 1)[-1]).get_data(as_text=True)
    assert "Nasrin" in joined
    assert "Nasrin" not in client.get("/portal/join?ref=forged").get_data(as_text=True)


def test_installable_manifest_and_service_worker(client, db):
    factories.club(db)
    manifest = client.get("/portal/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    assert manifest.get_json()["display"] == "standalone"
    worker = client.get("/portal/sw.js")
    assert worker.status_code == 200 and b"addEventListener" in worker.data
    assert worker.headers["Service-Worker-Allowed"] == "/portal/"


@pytest.mark.parametrize("path", ["/portal/", "/portal/offers", "/portal/refer",
                                  "/portal/requests", "/portal/profile", "/portal/club"])
def test_every_portal_page_renders_for_a_member(client, db, path):
    factories.club(db)
    member = member_with_password(db)
    sign_in(client, member)
    assert client.get(path).status_code == 200

