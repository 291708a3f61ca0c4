"""Issue 5's page rules checked page by page: every list searches, filters and
paginates; the terminals page shows what the `state` topic said; the audit log records
the client's address, also behind a trusted proxy; the logo's error sits by its field."""

import io
from datetime import timedelta

from sqlalchemy import select

from backend.models import AuditLog, Card, CreditGrant, Member
from backend.services import card_lifecycle, devices, member_requests
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW, build_app


def sign_in_admin(client, db, app):
    app.config["CLOCK"] = lambda: NOW
    factories.club(db)
    factories.staff_user(db, username="admin", role="admin")
    assert client.post("/login", data={"username": "admin",
                                       "password": "admin-password"}).status_code == 302


def test_staff_list_searches_and_filters(client, db, app):
    sign_in_admin(client, db, app)
    branch = factories.branch(db)
    factories.staff_user(db, username="maryam", full_name="مریم کاظمی", role="operator",
                         branch_id=branch.id)
    factories.staff_user(db, username="old", full_name="Old Hand", role="operator",
                         branch_id=branch.id, is_active=False)

    def listed(query: str) -> str:
        return client.get(f"/staff?{query}").get_data(as_text=True)

    assert "maryam" in listed("q=کاظمی") and ">old<" not in listed("q=کاظمی")
    by_role = listed("role=admin")
    assert ">admin<" in by_role and "maryam" not in by_role
    inactive = listed("active=0")
    assert ">old<" in inactive and "maryam" not in inactive
    # The "offers" permission names everything it opens, news and surveys included.
    form = client.get("/staff/new").get_data(as_text=True)
    assert "سطح‌ها، پیشنهادها و کمپین‌ها، کالاها، کارت هدیه، اخبار، پرسش‌های پرتکرار، " \
           "نظرسنجی‌ها و قاعده‌های بخش‌بندی" in form


def test_requests_are_searched_by_text_name_and_mobile(client, db, app):
    sign_in_admin(client, db, app)
    sara = factories.member(db, first_name="Sara", mobile="09121110000")
    reza = factories.member(db, first_name="Reza", mobile="09122220000")
    member_requests.submit_request(db, actor=SYSTEM, member_id=sara.id, subject="Lost card",
                                   body="I lost it", now=NOW)
    member_requests.submit_request(db, actor=SYSTEM, member_id=reza.id, subject="Birthday",
                                   body="Any gift?", now=NOW)
    found = client.get("/requests?q=lost").get_data(as_text=True)
    assert "Lost card" in found and "Birthday" not in found
    found = client.get("/requests?q=۰۹۱۲۲۲۲").get_data(as_text=True)  # Persian digits
    assert "Birthday" in found and "Lost card" not in found


def test_credit_grants_are_filtered_by_tier_and_searched_by_reason(client, db, app):
    sign_in_admin(client, db, app)
    bronze, gold = factories.tier(db, name="bronze"), factories.tier(db, name="gold")
    db.add_all([CreditGrant(reason="Nowruz gift", tier_id=bronze.id, amount_rials=1000),
                CreditGrant(reason="Yalda night", tier_id=gold.id, amount_rials=2000)])
    db.flush()
    table = client.get(f"/credit-grants?tier={gold.id}").get_data(as_text=True)
    assert "Yalda night" in table and "Nowruz gift" not in table
    table = client.get("/credit-grants?q=nowruz").get_data(as_text=True)
    assert "Nowruz gift" in table and "Yalda night" not in table


def test_gift_cards_are_searched_and_filtered(client, db, app):
    sign_in_admin(client, db, app)
    factories.tier(db)
    first, second = factories.card_number(9101), factories.card_number(9102)
    for number in (first, second):
        card_lifecycle.issue_gift_card(db, actor=SYSTEM, card_number=number, value_rials=100_000,
                                       expires_at=NOW + timedelta(days=30), now=NOW)
    card_lifecycle.report_lost_card(db, actor=SYSTEM, card_number=second, now=NOW)
    found = client.get(f"/gift-cards?q={first[-6:]}").get_data(as_text=True)
    assert first in found and second not in found
    blocked = client.get("/gift-cards?status=blocked").get_data(as_text=True)
    assert second in blocked and first not in blocked
    holder = db.scalars(select(Member).join(Card).where(Card.number == first)).one()
    holder.credit_balance_rials = 0  # as if spent (the filter reads the balance)
    db.flush()
    with_credit = client.get("/gift-cards?credit=1").get_data(as_text=True)
    assert second in with_credit and first not in with_credit


def test_audit_log_filters_by_staff_day_and_what(client, db, app):
    sign_in_admin(client, db, app)
    other = factories.staff_user(db, username="second", role="admin")
    db.add_all([
        AuditLog(staff_user_id=other.id, ip="10.0.0.2", action="edit_member", entity="member",
                 entity_id="41", at=NOW - timedelta(days=3)),
        AuditLog(staff_user_id=other.id, ip="10.0.0.3", action="edit_settings",
                 entity="club", entity_id="1", at=NOW),
    ])
    db.flush()

    def rows(query: str) -> str:
        page = client.get(f"/audit?{query}").get_data(as_text=True)
        return page[page.index('id="audit"'):]

    by_staff = rows(f"staff={other.id}")
    assert "edit_member" in by_staff and "sign_in" not in by_staff
    # NOW is 30 Aban 1405 in Tehran: the older row was on 27 Aban.
    today = rows("from=۱۴۰۵/۰۸/۳۰&to=1405-08-30")
    assert "edit_settings" in today and "edit_member" not in today
    assert "edit_member" in rows("to=2026-11-18") and "edit_settings" not in rows(
        "to=2026-11-18")
    assert "10.0.0.2" in rows("q=۴۱") and "10.0.0.3" not in rows("q=41")
    assert "edit_settings" in rows("q=10.0.0.3") and "edit_member" not in rows("q=10.0.0.3")
    assert "تاریخ را مانند ۱۴۰۵/۰۸/۳۰ وارد کنید." in client.get(
        "/audit?from=someday").get_data(as_text=True)


def test_terminals_page_shows_what_the_state_topic_said(client, db, app):
    sign_in_admin(client, db, app)
    branch = factories.branch(db, name="Central")
    for device_id in ("t01", "t02", "t03", "t04"):
        factories.device(db, device_id=device_id, branch_id=branch.id)
    devices.record_state(db, "t01", b'{"online": true, "fw": "1.4.2", "queued": 3}', NOW)
    devices.record_state(db, "t02", b'{"online": false, "fw": "1.4.1", "queued": 7}', NOW)
    # Online by its last retained state, but silent for longer than the staleness bound.
    devices.record_state(db, "t03", b'{"online": true, "fw": "1.3.0"}',
                         NOW - timedelta(minutes=11))
    devices.revoke_device(db, "t04", actor=SYSTEM)
    page = client.get("/terminals").get_data(as_text=True)

    def row(device_id: str) -> str:
        start = page.index(f'data-device="{device_id}"')
        return page[start:page.index("</tr>", start)]

    # Online, last seen at NOW (13:00 in Tehran), firmware and queued sales as reported.
    assert '<span class="badge good">برخط</span>' in row("t01")
    assert ">۱۴۰۵/۰۸/۳۰ ۱۳:۰۰<" in row("t01") and ">1.4.2<" in row("t01")
    # Queued sales, then top-up (off by default), then the command link.
    assert ('<td class="num">۳</td><td><span class="badge">خاموش</span></td>'
            '<td><a href="/terminals/t01/command">') in row("t01")
    for offline in ("t02", "t03"):
        assert '<span class="badge">برون‌خط</span>' in row(offline)
    assert ">1.4.1<" in row("t02") and row("t02").endswith(
        '<td class="num">۷</td><td><span class="badge">خاموش</span></td>'
        '<td><a href="/terminals/t02/command">ارسال فرمان</a></td>')
    assert '<span class="badge bad">باطل‌شده</span>' in row("t04")
    assert "/command" not in row("t04")  # a revoked terminal no longer listens
    only_revoked = client.get("/terminals?status=revoked").get_data(as_text=True)
    assert 'data-device="t04"' in only_revoked and 'data-device="t01"' not in only_revoked


def test_a_bad_logo_is_explained_next_to_its_field(client, db, app):
    sign_in_admin(client, db, app)
    response = client.post("/settings", data={
        "name": "Club", "currency_display": "rial", "offline_window_days": "7",
        "tier_window_days": "365", "logo": (io.BytesIO(b"not an image"), "logo.png")},
        content_type="multipart/form-data")
    assert response.status_code == 400
    assert 'data-error-for="logo"' in response.get_data(as_text=True)


def test_audit_address_is_the_client_behind_a_trusted_proxy(tmp_path_factory, databases):
    from backend.extensions import db as flask_db

    def signed_in_address(app, forwarded: str) -> str:
        with app.app_context():
            factories.club(flask_db.session)
            factories.staff_user(flask_db.session, username="admin", role="admin")
            flask_db.session.commit()
            client = app.test_client()
            response = client.post("/login", data={"username": "admin",
                                                   "password": "admin-password"},
                                   headers={"X-Forwarded-For": forwarded})
            assert response.status_code == 302
            return flask_db.session.scalars(select(AuditLog.ip)).one()

    proxied = build_app(tmp_path_factory, databases, "sqlite", TRUSTED_PROXIES=1)
    assert signed_in_address(proxied, "198.51.100.7, 203.0.113.9") == "203.0.113.9"
    direct = build_app(tmp_path_factory, databases, "sqlite")
    assert signed_in_address(direct, "203.0.113.9") == "127.0.0.1"  # a header is not proof


def test_member_purchases_are_paginated_so_old_ones_can_be_refunded(client, db, app):
    from backend.services import counter

    sign_in_admin(client, db, app)
    branch = factories.branch(db)
    member = factories.member(db, home_branch_id=branch.id)
    purchases = [counter.record_purchase(
        db, actor=SYSTEM,
        member_id=member.id, branch_id=branch.id, amount_rials=10_000 * (number + 1),
        use_credit_rials=0, request_key=f"old-purchase-{number:08d}",
        now=NOW - timedelta(days=30 - number)).purchase for number in range(23)]
    first_page = client.get(f"/members/{member.id}").get_data(as_text=True)
    assert first_page.count('<tr data-purchase="') == 20
    assert f'data-purchase="{purchases[0].id}"' not in first_page
    second_page = client.get(f"/members/{member.id}?purchases_page=2").get_data(as_text=True)
    assert second_page.count('<tr data-purchase="') == 3
    assert f"/members/{member.id}/refund/{purchases[0].id}" in second_page
