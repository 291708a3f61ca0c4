"""The public API (O5): tokens (staff, member, integration; expiry and revocation),
member isolation, idempotent purchases, validation that names the field, branch limits,
and the member's own news, surveys and messages."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from backend.models import ApiToken, CallTask, NewsPost, Purchase, StaffUser, Survey
from backend.services import api_tokens, surveys
from backend.unit_of_work import SYSTEM, Actor
from tests import factories
from tests.unit.backend.web.conftest import member_headers, staff_headers

API = "/api/v1"
KEY = {"Idempotency-Key": "0f7c2a9e-4d1b-4c55-9a0e-3b1f2c4d5e6f"}


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_staff_token_is_stored_hashed_and_revocable(client, db, api_world):
    response = client.post(f"{API}/tokens", json={"username": "admin",
                                                  "password": "admin-password"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["role"] == "admin" and body["expires_in"] == 3600
    token = body["token"]
    row = db.scalars(select(ApiToken).where(ApiToken.kind == "staff")).one()
    assert row.token_hash == api_tokens.digest(token) and token not in row.token_hash
    assert client.get(f"{API}/members", headers=bearer(token)).status_code == 200
    assert client.delete(f"{API}/tokens/current", headers=bearer(token)).status_code == 204
    response = client.get(f"{API}/members", headers=bearer(token))
    assert response.status_code == 401 and "revoked" in response.get_json()["message"]


def test_expired_and_wrong_tokens_are_refused(app, client, db, api_world):
    headers = staff_headers(client, "admin")
    app.config["CLOCK"] = lambda: datetime.now(UTC) + timedelta(hours=1, seconds=1)
    try:
        response = client.get(f"{API}/members", headers=headers)
    finally:
        app.config.pop("CLOCK")
    assert response.status_code == 401 and "expired" in response.get_json()["message"]
    for value in ("Bearer vafa_forged", "Basic abc", ""):
        response = client.get(f"{API}/members", headers={"Authorization": value})
        assert response.status_code == 401
        assert response.get_json()["error"] == "UNAUTHORIZED"
    wrong = client.post(f"{API}/tokens", json={"username": "admin", "password": "nope"})
    assert wrong.status_code == 401


def test_a_disabled_user_s_tokens_stop_working(client, db, api_world):
    headers = staff_headers(client, "operator")
    db.scalars(select(StaffUser).where(StaffUser.username == "operator")).one().is_active = False
    db.flush()
    assert client.get(f"{API}/members", headers=headers).status_code == 401


def test_integration_tokens_act_as_their_user_until_revoked_or_expired(client, db, api_world):
    operator = db.scalars(select(StaffUser).where(StaffUser.username == "operator")).one()
    now = datetime.now(UTC)
    issued = api_tokens.issue_integration(db, actor=Actor(operator.id), name="Accounting",
                                          valid_days=None, now=now)
    assert issued.row.expires_at is None and issued.row.prefix == issued.token[:12]
    listed = client.get(f"{API}/members", headers=bearer(issued.token)).get_json()
    assert {row["id"] for row in listed["items"]} == {api_world.own.id}  # the branch only
    assert client.post(f"{API}/members/{api_world.own.id}/credit-grants",
                       headers=bearer(issued.token), json={}).status_code == 403
    api_tokens.revoke_integration(db, issued.row.id, now, actor=Actor(operator.id))
    assert client.get(f"{API}/members", headers=bearer(issued.token)).status_code == 401
    short = api_tokens.issue_integration(db, actor=Actor(operator.id), name="CRM",
                                         valid_days=1, now=now - timedelta(days=2))
    assert client.get(f"{API}/members", headers=bearer(short.token)).status_code == 401
    try:
        api_tokens.issue_integration(db, actor=Actor(operator.id), name=" ", valid_days=1,
                                     now=now)
    except Exception as error:
        assert error.field == "name"
    else:
        raise AssertionError("a token without a name was issued")


def test_member_sign_in_with_persian_digits(client, db, api_world):
    persian = api_world.own.mobile.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    response = client.post(f"{API}/member-tokens", json={"mobile": persian,
                                                         "password": "member-pass-1"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["member_id"] == api_world.own.id and body["role"] is None
    me = client.get(f"{API}/me", headers=bearer(body["token"])).get_json()
    assert me["id"] == api_world.own.id and "notes" not in me
    assert me["credit_balance_rials"] == api_world.own.credit_balance_rials
    wrong = client.post(f"{API}/member-tokens", json={"mobile": persian, "password": "x"})
    assert wrong.status_code == 401


def test_a_new_password_signs_the_member_out_of_every_app(client, db, api_world):
    from backend.services import member_auth

    headers = member_headers(client, api_world.own)
    assert client.get(f"{API}/me", headers=headers).status_code == 200
    member_auth.set_password(db, api_world.own.id, "a-new-password-2",
                             current_password="member-pass-1")
    response = client.get(f"{API}/me", headers=headers)
    assert response.status_code == 401 and "revoked" in response.get_json()["message"]
    assert client.get(f"{API}/me", headers=member_headers(
        client, api_world.own, "a-new-password-2")).status_code == 200


def test_a_member_token_never_reads_another_member_s_data(client, db, api_world):
    headers = member_headers(client, api_world.other)
    own = api_world.own
    for path in (f"/me/purchases/{api_world.purchase.id}", f"/me/requests/{api_world.request.id}",
                 f"/members/{own.id}", f"/members/{own.id}/balance",
                 f"/members/{own.id}/transactions", f"/members/{own.id}/purchases", "/members"):
        response = client.get(API + path, headers=headers)
        assert response.status_code == 404, path
        assert str(own.mobile) not in response.get_data(as_text=True)
    history = client.get(f"{API}/me/transactions", headers=headers).get_json()
    assert history["total"] == 1 and history["items"][0]["credit_rials"] == 20_000
    assert client.get(f"{API}/me/purchases", headers=headers).get_json()["total"] == 0
    assert client.get(f"{API}/me/requests", headers=headers).get_json()["items"] == []


def test_purchase_is_idempotent_by_key(client, db, api_world):
    headers = {**staff_headers(client, "operator"), **KEY}
    member = api_world.own
    url = f"{API}/members/{member.id}/purchases"
    first = client.post(url, headers=headers, json={"amount_rials": "۲۰۰٬۰۰۰".replace("٬", "")})
    assert first.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["purchase"]["amount_rials"] == 200_000
    assert body["purchase"]["branch_id"] == api_world.own_branch.id
    again = client.post(url, headers=headers, json={"amount_rials": 200_000})
    assert again.status_code == 200 and again.get_json() == body
    count = db.scalar(select(func.count()).select_from(Purchase)
                      .where(Purchase.member_id == member.id))
    assert count == 2  # the world's purchase and this one, once
    other = client.post(url, headers=headers, json={"amount_rials": 300_000})
    assert other.status_code == 400 and other.get_json()["field"] == "Idempotency-Key"
    missing = client.post(url, headers=staff_headers(client, "operator"),
                          json={"amount_rials": 1000})
    assert missing.status_code == 400 and missing.get_json()["field"] == "Idempotency-Key"
    assert client.get(f"{API}/members/{member.id}/balance", headers=headers).get_json()[
        "credit_rials"] == body["credit_balance_rials"]
    # The purchase queued its happy call, due within 24 hours, at the sale's branch.
    task = db.scalars(select(CallTask).where(CallTask.purchase_id == body["purchase"]["id"])
                      ).one()
    assert task.branch_id == api_world.own_branch.id and task.status == "open"
    assert task.due_at == db.get(
        Purchase, body["purchase"]["id"]).created_at + timedelta(hours=24)


def test_validation_errors_name_the_field(client, db, api_world):
    headers = {**staff_headers(client, "admin"), **KEY}
    url = f"{API}/members/{api_world.own.id}/purchases"
    for body, field in (({}, "amount_rials"), ({"amount_rials": 0}, "amount_rials"),
                        ({"amount_rials": "12a"}, "amount_rials"),
                        ({"amount_rials": 1.5}, "amount_rials"),
                        ({"amount_rials": 1000, "use_credit_rials": -2}, "use_credit_rials"),
                        ({"amount_rials": 1000, "colour": "red"}, "colour")):
        response = client.post(url, headers=headers, json=body)
        assert response.status_code == 400, body
        assert response.get_json()["error"] == "BAD_REQUEST"
        assert response.get_json()["field"] == field, response.get_json()
    response = client.post(url, headers=headers, data="not json")
    assert response.status_code == 400 and response.get_json()["field"] == "body"
    response = client.post(f"{API}/members", headers=headers, json={
        "first_name": "Ali", "last_name": "Rezaei", "mobile": "0912", "card_number": "1"})
    assert response.get_json()["field"] == "mobile"
    assert client.get(f"{API}/nowhere").get_json()["error"] == "NOT_FOUND"
    assert client.put(f"{API}/members").get_json()["error"] == "METHOD_NOT_ALLOWED"


def test_create_update_search_and_page_members(client, db, api_world):
    headers = staff_headers(client, "operator")
    card = factories.card_number(990_001)
    response = client.post(f"{API}/members", headers=headers, json={
        "first_name": "Ali", "last_name": "Rezaei", "mobile": "۰۹۱۲۹۹۹۸۸۷۷",
        "card_number": card, "birth_date": "۱۳۷۰/۰۵/۱۲", "home_branch_id": 999})
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["mobile"] == "09129998877" and created["birth_date"] == "1991-08-03"
    assert created["home_branch_id"] == api_world.own_branch.id  # operators: their branch
    response = client.patch(f"{API}/members/{created['id']}", headers=headers,
                            json={"city": "Shiraz", "weight_kg": "۷۰"})
    assert response.status_code == 200 and response.get_json()["city"] == "Shiraz"
    assert response.get_json()["first_name"] == "Ali" and response.get_json()["weight_kg"] == 70
    found = client.get(f"{API}/members", headers=headers, query_string={"q": "Rezaei"})
    assert [row["id"] for row in found.get_json()["items"]] == [created["id"]]
    # An exact card finds a member of another branch (the counter, C5)…
    exact = client.get(f"{API}/members", headers=headers,
                       query_string={"card": factories.card_of(api_world.other)}).get_json()
    assert [row["id"] for row in exact["items"]] == [api_world.other.id]
    # …whom the operator may read but not edit.
    assert client.patch(f"{API}/members/{api_world.other.id}", headers=headers,
                        json={"city": "Yazd"}).status_code == 403
    page = client.get(f"{API}/members", headers=headers,
                      query_string={"per_page": 1, "page": 2}).get_json()
    assert page["total"] == 2 and page["per_page"] == 1 and len(page["items"]) == 1


def test_refund_top_up_grant_and_transfer(client, db, api_world):
    headers = staff_headers(client, "granted")
    own, other = api_world.own, api_world.other
    refund = client.post(f"{API}/purchases/{api_world.purchase.id}/refunds",
                         headers={**headers, **KEY}, json={"amount_rials": 40_000})
    assert refund.status_code == 201 and refund.get_json()["amount_rials"] == 40_000
    topped = client.post(f"{API}/members/{own.id}/top-ups",
                         headers={**headers, "Idempotency-Key": "topup-key-000000001"},
                         json={"amount_rials": 5_000})
    assert topped.status_code == 201 and topped.get_json()["kind"] == "topup"
    grant = client.post(f"{API}/members/{own.id}/credit-grants",
                        headers={**headers, "Idempotency-Key": "grant-key-000000001"},
                        json={"amount_rials": 7_000, "reason": "Sorry for the wait"})
    assert grant.status_code == 201 and grant.get_json()["reason"] == "Sorry for the wait"
    before = client.get(f"{API}/members/{other.id}/balance", headers=headers).get_json()
    moved = client.post(f"{API}/members/{own.id}/transfers",
                        headers={**headers, "Idempotency-Key": "transfer-key-0000001"},
                        json={"to": other.mobile, "amount_rials": 3_000})
    assert moved.status_code == 201, moved.get_json()
    after = client.get(f"{API}/members/{other.id}/balance", headers=headers).get_json()
    assert after["credit_rials"] == before["credit_rials"] + 3_000
    history = client.get(f"{API}/members/{own.id}/transactions", headers=headers).get_json()
    assert [row["kind"] for row in history["items"][:4]] == ["transfer-out", "grant", "topup",
                                                             "refund"]
    # An operator refunds only their own branch's purchases.
    foreign = factories.member(db, home_branch_id=api_world.other_branch.id)
    from backend.services import counter
    sale = counter.record_purchase(db, actor=SYSTEM,
                                   member_id=foreign.id, branch_id=api_world.other_branch.id,
                                   amount_rials=10_000, use_credit_rials=0,
                                   request_key="foreign-branch-sale-1",
                                   now=datetime.now(UTC)).purchase
    response = client.post(f"{API}/purchases/{sale.id}/refunds",
                           headers={**headers, **KEY}, json={})
    assert response.status_code == 404


def test_member_self_service_news_surveys_and_requests(client, db, api_world):
    headers = member_headers(client, api_world.own)
    now = datetime.now(UTC)
    db.add_all([
        NewsPost(title="For silver", body="…", tier_codes="silver",
                 publish_from=now - timedelta(days=1)),
        NewsPost(title="For gold", body="…", tier_codes="gold",
                 publish_from=now - timedelta(days=1)),
        NewsPost(title="Tomorrow", body="…", publish_from=now + timedelta(days=1)),
    ])
    survey = surveys.save_survey(db, None, actor=SYSTEM,
                                 title="Service", description="", is_active=True,
                                 questions=surveys.parse_questions(
                                     "rating: Staff?\nchoice: Branch? | North, South\n"
                                     "text: More?"), now=now)
    news = client.get(f"{API}/me/news", headers=headers).get_json()
    assert [post["title"] for post in news["items"]] == ["For silver"]
    open_surveys = client.get(f"{API}/me/surveys", headers=headers).get_json()["items"]
    assert [row["id"] for row in open_surveys] == [survey.id]
    rating, choice, _ = (question["id"] for question in open_surveys[0]["questions"])
    url = f"{API}/me/surveys/{survey.id}/responses"
    bad = client.post(url, headers=headers, json={"answers": {str(rating): "6",
                                                              str(choice): "North"}})
    assert bad.status_code == 400 and bad.get_json()["field"] == f"q{rating}"
    ok = client.post(url, headers=headers, json={"answers": {str(rating): "۵",
                                                             str(choice): "North"}})
    assert ok.status_code == 201
    assert client.post(url, headers=headers, json={"answers": {}}).status_code == 404
    assert client.get(f"{API}/me/surveys", headers=headers).get_json()["items"] == []
    sent = client.post(f"{API}/me/requests", headers=headers,
                       json={"subject": "Hours", "body": "When do you open?"})
    assert sent.status_code == 201
    assert client.get(f"{API}/me/requests/{sent.get_json()['id']}",
                      headers=headers).get_json()["answer"] == ""
    assert client.get(f"{API}/faq").get_json()["items"][0]["question"] == "Hours?"
    assert db.scalar(select(func.count()).select_from(Survey)) == 1
