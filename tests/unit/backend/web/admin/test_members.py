"""Members in the panel: Persian input, validation next to the field, counter actions
through the same services as the terminal, and the member page's history."""

import re
from datetime import date

from sqlalchemy import func, select

from backend.models import (
    AuditLog,
    Card,
    LedgerTransaction,
    Member,
    MemberField,
    Purchase,
    StaffUser,
)
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW


def sign_in(client, db, *, role="admin", branch_id=None, perms=()):
    factories.club(db)
    factories.staff_user(db, username=role, role=role, branch_id=branch_id,
                         permissions=list(perms))
    response = client.post("/login", data={"username": role, "password": "admin-password"})
    assert response.status_code == 302


def form_key(page: str, prefix: str = "") -> str:
    name = f"{prefix}-request_key" if prefix else "request_key"
    match = re.search(rf'name="{name}" type="hidden" value="([^"]+)"', page) or re.search(
        rf'id="{name}" name="{name}" type="hidden" value="([^"]+)"', page)
    assert match, f"no {name} in page"
    return match.group(1)


def test_create_member_with_persian_digits_and_jalali_date(client, db, app):
    app.config["CLOCK"] = lambda: NOW
    branch = factories.branch(db)
    factories.tier(db, rank=1)
    sign_in(client, db)
    card = factories.card_number(5001)
    persian_card = card.translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    response = client.post("/members/new", data={
        "first_name": "سارا", "last_name": "احمدی", "mobile": "۰۹۱۲ ۱۲۳ ۴۵۶۷",
        "card_number": persian_card, "national_code": "٠٠٨٤٥٧٥٩٤٨",
        "birth_date": "۱۳۷۰/۰۱/۱۵", "gender": "f", "home_branch_id": str(branch.id),
        "weight_kg": "۶۵", "city": "تهران"})
    assert response.status_code == 302, response.get_data(as_text=True)
    member = db.scalars(select(Member).where(Member.mobile == "09121234567")).one()
    assert (member.first_name, member.national_code, member.weight_kg) == ("سارا", "0084575948", 65)
    assert member.birth_date == date(1991, 4, 4)  # 15 Farvardin 1370
    assert member.cards[0].number == card
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "create_member")).one()
    assert audit.details["mobile"] == "09121234567" and audit.ip == "127.0.0.1"
    page = client.get(f"/members/{member.id}").get_data(as_text=True)
    assert "۱۳۷۰/۰۱/۱۵" in page and "سارا احمدی" in page


def test_bad_member_input_is_shown_next_to_each_field_and_nothing_is_stored(client, db):
    factories.tier(db)
    sign_in(client, db)
    response = client.post("/members/new", data={
        "first_name": "", "last_name": "X", "mobile": "12345", "card_number": "1234567812345678",
        "national_code": "1234567890", "birth_date": "1405/13/40", "gender": "m"})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    errors = dict(re.findall(r'data-error-for="([a-z_]+)">([^<]+)<', page))
    assert errors["first_name"] == "پر کردن این فیلد لازم است."
    assert errors["mobile"] == "شمارهٔ موبایل باید مانند ۰۹۱۲۱۲۳۴۵۶۷ باشد."
    assert errors["card_number"] == "شمارهٔ کارت ۱۶ رقم با رقم کنترل درست است."
    assert errors["national_code"] == "این کد ملی معتبر نیست."
    assert errors["birth_date"] == "تاریخ را مانند ۱۴۰۵/۰۸/۳۰ وارد کنید."
    assert db.scalar(select(func.count(Member.id))) == 0


def test_duplicate_mobile_is_refused_by_the_service_next_to_the_field(client, db):
    existing = factories.member(db)
    sign_in(client, db)
    response = client.post("/members/new", data={
        "first_name": "A", "last_name": "B", "mobile": existing.mobile,
        "card_number": factories.card_number(5002), "gender": ""})
    assert response.status_code == 400
    assert 'data-error-for="mobile">عضوی با این شمارهٔ موبایل وجود دارد<' in response.get_data(
        as_text=True)


def test_script_in_a_name_renders_as_text(client, db):
    member = factories.member(db, first_name="<script>alert(1)</script>")
    sign_in(client, db)
    for url in ("/members", f"/members/{member.id}"):
        page = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_counter_purchase_matches_the_terminal_and_is_recorded_once(client, db, app):
    app.config["CLOCK"] = lambda: NOW
    branch = factories.branch(db)
    member = factories.member(db, credit_rials=50_000, home_branch_id=branch.id)
    sign_in(client, db, role="operator", branch_id=branch.id)
    page = client.get(f"/members/{member.id}").get_data(as_text=True)
    key = form_key(page)
    form = {"request_key": key, "amount": "۲۵۰٬۰۰۰", "use_credit": "0"}
    assert client.post(f"/members/{member.id}/purchase", data=form).status_code == 302
    # The same form sent twice (a double click) changes nothing the second time.
    assert client.post(f"/members/{member.id}/purchase", data=form).status_code == 302
    purchase = db.scalars(select(Purchase).where(Purchase.member_id == member.id)).one()
    # silver in the factory: 5 % discount, 5 % credit back, 1 point per 10,000 rials
    assert (purchase.amount_rials, purchase.discount_rials, purchase.payable_rials) == (
        250_000, 12_500, 237_500)
    assert (purchase.credit_earned_rials, purchase.points_earned, purchase.branch_id) == (
        11_875, 25, branch.id)
    db.refresh(member)
    assert member.credit_balance_rials == 61_875
    page = client.get(f"/members/{member.id}").get_data(as_text=True)
    assert 'data-rials="61875">۶۱٬۸۷۵ ریال<' in page
    assert "خرید ۲۵۰٬۰۰۰ ریالی" in page  # the ledger entry's reason, in Persian


def test_spending_more_credit_than_the_balance_says_how_much_there_is(client, db):
    member = factories.member(db, credit_rials=1_000)
    factories.branch(db)
    sign_in(client, db)
    key = form_key(client.get(f"/members/{member.id}").get_data(as_text=True))
    response = client.post(f"/members/{member.id}/purchase", data={
        "request_key": key, "amount": "100000", "use_credit": "5000"})
    assert response.status_code == 400
    assert "اعتبار کافی نیست: موجودی ۱٬۰۰۰ ریال است." in response.get_data(as_text=True)
    assert db.scalar(select(func.count(Purchase.id))) == 0


def test_top_up_grant_transfer_and_refund(client, db, app):
    app.config["CLOCK"] = lambda: NOW
    factories.club(db, max_transfer_rials=1_000_000, max_transfer_per_day_rials=1_000_000)
    factories.branch(db)
    sara, kaveh = factories.member(db), factories.member(db)
    sign_in(client, db)
    page = client.get(f"/members/{sara.id}").get_data(as_text=True)
    assert client.post(f"/members/{sara.id}/topup", data={
        "topup-request_key": form_key(page, "topup"), "topup-amount": "100000"}).status_code == 302
    assert client.post(f"/members/{sara.id}/grant", data={
        "grant-request_key": form_key(page, "grant"), "grant-amount": "20000",
        "grant-reason": "Nowruz gift"}).status_code == 302
    assert client.post(f"/members/{sara.id}/transfer", data={
        "transfer-request_key": form_key(page, "transfer"), "transfer-amount": "30000",
        "transfer-to_member": kaveh.mobile}).status_code == 302
    db.refresh(sara)
    db.refresh(kaveh)
    assert (sara.credit_balance_rials, kaveh.credit_balance_rials) == (90_000, 30_000)
    key = form_key(client.get(f"/members/{sara.id}").get_data(as_text=True))
    client.post(f"/members/{sara.id}/purchase", data={"request_key": key, "amount": "200000",
                                                       "use_credit": "0"})
    purchase = db.scalars(select(Purchase).where(Purchase.member_id == sara.id)).one()
    page = client.get(f"/members/{sara.id}").get_data(as_text=True)
    prefix = f"refund{purchase.id}"
    refund_form = {f"{prefix}-request_key": form_key(page, prefix), f"{prefix}-amount": ""}
    # The row's button asks first (issue 18 item 6); the confirmation refunds.
    asked = client.post(f"/members/{sara.id}/refund/{purchase.id}", data=refund_form)
    assert asked.status_code == 200 and 'id="confirm-refund"' in asked.get_data(as_text=True)
    db.refresh(purchase)
    assert purchase.refunded_amount_rials == 0
    assert client.post(f"/members/{sara.id}/refund/{purchase.id}",
                       data={**refund_form, "confirm": "1"}).status_code == 302
    db.refresh(purchase)
    db.refresh(sara)
    assert purchase.refunded_amount_rials == 200_000
    assert sara.credit_balance_rials == 90_000 and sara.points_balance == 0
    kinds = set(db.scalars(select(LedgerTransaction.kind).where(
        LedgerTransaction.member_id == sara.id)))
    assert {"topup", "grant", "transfer-out", "purchase", "refund"} <= kinds
    actions = set(db.scalars(select(AuditLog.action)))
    assert {"top_up", "grant_credit", "transfer_credit", "record_purchase",
            "refund_purchase"} <= actions


def test_lost_card_replacement_carries_the_balance(client, db):
    member = factories.member(db, credit_rials=70_000, points=12)
    old = factories.card_of(member)
    sign_in(client, db)
    new = factories.card_number(5003)
    response = client.post(f"/members/{member.id}/replace-card", data={
        "replace-lost_card": old, "replace-new_card_number": new})
    assert response.status_code == 302
    cards = {card.number: card.status for card in db.scalars(
        select(Card).where(Card.member_id == member.id))}
    assert cards == {old: "blocked", new: "active"}
    db.refresh(member)
    assert (member.credit_balance_rials, member.points_balance) == (70_000, 12)


def test_operator_cannot_edit_another_branchs_member_and_lists_only_their_own(client, db):
    own_branch, other_branch = factories.branch(db), factories.branch(db)
    mine = factories.member(db, first_name="Mine", home_branch_id=own_branch.id)
    theirs = factories.member(db, first_name="Theirs", home_branch_id=other_branch.id)
    sign_in(client, db, role="operator", branch_id=own_branch.id)
    listing = client.get("/members").get_data(as_text=True)
    assert "Mine" in listing and "Theirs" not in listing
    assert client.post(f"/members/{theirs.id}/edit", data={"first_name": "X"}).status_code == 403
    assert client.get(f"/members/{mine.id}/edit").status_code == 200


def test_custom_fields_are_validated_and_shown(client, db):
    factories.tier(db)
    db.add(MemberField(key="shoe_size", label="Shoe size", label_fa="سایز کفش", kind="number",
                       required=True))
    db.flush()
    sign_in(client, db)
    data = {"first_name": "A", "last_name": "B", "mobile": "09120000001",
            "card_number": factories.card_number(5004), "gender": ""}
    response = client.post("/members/new", data=data)
    assert response.status_code == 400
    assert 'data-error-for="custom_shoe_size">پر کردن این فیلد لازم است.<' in response.get_data(
        as_text=True)
    assert client.post("/members/new", data={**data, "custom_shoe_size": "۴۲"}).status_code == 302
    member = db.scalars(select(Member).where(Member.mobile == "09120000001")).one()
    assert member.custom_fields == {"shoe_size": "42"}


def test_english_switch_and_toman_display(client, db):
    factories.club(db, currency_display="toman")
    member = factories.member(db, credit_rials=1_234_560)
    sign_in(client, db)
    assert "۱۲۳٬۴۵۶ تومان" in client.get(f"/members/{member.id}").get_data(as_text=True)
    client.post("/language/en", data={"next": f"/members/{member.id}"})
    page = client.get(f"/members/{member.id}").get_data(as_text=True)
    assert 'dir="ltr"' in page and "123,456 toman" in page and "Record a purchase" in page
    user = db.scalars(select(StaffUser).where(StaffUser.username == "admin")).one()
    assert user.locale == "en"  # kept per user, not per browser



def test_credit_for_a_whole_tier_is_granted_once_per_form(client, db, app):
    app.config["CLOCK"] = lambda: NOW
    gold = factories.tier(db, code="gold", rank=3)
    first, second = factories.member(db, tier_id=gold.id), factories.member(db, tier_id=gold.id)
    outsider = factories.member(db)
    sign_in(client, db)
    page = client.get("/credit-grants").get_data(as_text=True)
    form = {"request_key": form_key(page), "tier_id": str(gold.id), "amount": "۱۰۰۰۰",
            "reason": "یلدا", "expires_on": "1405/10/30"}
    assert client.post("/credit-grants", data=form).status_code == 302
    assert client.post("/credit-grants", data=form).status_code == 302  # resubmitted
    for member, expected in ((first, 10_000), (second, 10_000), (outsider, 0)):
        db.refresh(member)
        assert member.credit_balance_rials == expected
    assert "یلدا" in client.get("/credit-grants").get_data(as_text=True)


def test_operator_answers_a_members_request(client, db, app):
    from backend.models import MemberRequest
    from backend.services import member_requests

    branch = factories.branch(db)
    member = factories.member(db, home_branch_id=branch.id)
    question = member_requests.submit_request(db, actor=SYSTEM, member_id=member.id, subject="کارت",
                                              body="کارتم کی می‌رسد؟", now=NOW)
    sign_in(client, db, role="operator", branch_id=branch.id)
    assert "کارتم کی می‌رسد؟" in client.get("/requests").get_data(as_text=True)
    response = client.post(f"/requests/{question.id}",
                           data={f"answer{question.id}-answer": "فردا آماده است."})
    assert response.status_code == 302
    db.refresh(question)
    assert question.answer == "فردا آماده است." and question.answered_at is not None
    assert isinstance(question, MemberRequest)
    assert "کارتم" not in client.get("/requests").get_data(as_text=True)  # no longer open


def test_an_empty_answer_is_refused_next_to_its_field(client, db):
    from backend.services import member_requests

    member = factories.member(db)
    older = member_requests.submit_request(db, actor=SYSTEM, member_id=member.id, subject="Hours",
                                           body="When do you open?", now=NOW)
    question = member_requests.submit_request(db, actor=SYSTEM, member_id=member.id, subject="کارت",
                                              body="کارتم کی می‌رسد؟", now=NOW)
    sign_in(client, db)
    response = client.post(f"/requests/{question.id}?state=all&q=%DA%A9%D8%A7%D8%B1%D8%AA",
                           data={f"answer{question.id}-answer": "   "})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    # The message sits by this request's answer box, on the list it was sent from.
    assert f'data-error-for="answer{question.id}-answer">پر کردن این فیلد لازم است.<' in page
    assert f'data-error-for="answer{older.id}-answer"' not in page
    assert 'name="q" value="کارت"' in page and "When do you open?" not in page
    db.refresh(question)
    assert question.answered_at is None
    # A good answer goes back to the same list.
    sent = client.post(f"/requests/{question.id}?state=all",
                       data={f"answer{question.id}-answer": "فردا."})
    assert sent.status_code == 302 and sent.headers["Location"].endswith("/requests?state=all")


def test_the_member_page_pages_its_side_lists(client, db):
    from backend.models import MemberRequest, TierChange

    bronze = factories.tier(db, code="bronze", name="bronze", rank=1)
    silver = factories.tier(db, code="silver", name="silver", rank=2)
    member = factories.member(db, tier_id=bronze.id)
    for index in range(23):
        factories.member(db, first_name=f"Friend{index:02d}", referrer_id=member.id)
        db.add(MemberRequest(member_id=member.id, subject=f"Question {index:02d}", body="…",
                             created_at=NOW))
        db.add(TierChange(member_id=member.id, from_tier_id=bronze.id, to_tier_id=silver.id,
                          reason=f"change {index:02d}", created_at=NOW))
    db.flush()
    sign_in(client, db)
    first = client.get(f"/members/{member.id}").get_data(as_text=True)
    # Newest requests and tier changes first, referrals by when they joined; 20 a page.
    assert "Question 22" in first and "Question 02" not in first
    assert "change 22" in first and "change 02" not in first
    assert "Friend00" in first and "Friend22" not in first
    for pager in ("requests-pager", "tier-changes-pager", "referrals-pager"):
        assert f'id="{pager}"' in first
    second = client.get(f"/members/{member.id}?requests_page=2&referrals_page=2"
                        ).get_data(as_text=True)
    assert "Question 02" in second and "Question 22" not in second
    assert "Friend22" in second and "Friend00" not in second
    assert "change 22" in second  # tier changes stay on their first page
    # Each pager keeps the other lists where they are and lands on its own list.
    assert (f'href="/members/{member.id}?requests_page=1&amp;referrals_page=2#requests-pager"'
            in second)
