"""Issue 18 item 11: no English in the Persian UI — tier-change reasons, cohort headers,
survey keywords and Persian commas, digits in flash messages, the audit log's actions
and details, the demo club's names."""

import re
from datetime import timedelta

from flask import g
from sqlalchemy import select

from backend import i18n
from backend.models import AuditLog, MemberField, Survey, TierChange
from backend.services import demo
from backend.services.reports.tables import Column
from backend.web.admin.reports import column_title
from tests import factories
from tests.conftest import NOW
from tests.unit.backend.web.admin.test_panel_lists import sign_in_admin


def test_tier_change_reasons_read_in_persian(client, db, app):
    sign_in_admin(client, db, app)
    bronze, silver = factories.tier(db, name="bronze", rank=1), factories.tier(db, rank=2)
    member = factories.member(db, tier_id=silver.id)
    db.add(TierChange(member_id=member.id, from_tier_id=bronze.id, to_tier_id=silver.id,
                      reason="upgrade: 6,194,567 rials in 12 purchases over 365 days",
                      created_at=NOW))
    db.flush()
    page = client.get(f"/members/{member.id}").get_data(as_text=True)
    assert "ارتقا: ۶٬۱۹۴٬۵۶۷ ریال در ۱۲ خرید طی ۳۶۵ روز" in page
    assert "upgrade" not in page and "rials in" not in page
    assert i18n.explain_reason("downgrade: 0 rials in 0 purchases over 90 days", "fa") == \
        "تنزل: ۰ ریال در ۰ خرید طی ۹۰ روز"
    assert i18n.explain_reason("segment at_risk: rule 3 (بازگرداندن)", "fa") == \
        "قاعدهٔ بخش‌بندی شمارهٔ ۳ (بازگرداندن)"


def test_cohort_headers_have_persian_digits(app):
    with app.test_request_context():
        g.language = "fa"
        assert column_title(Column("m0", "Month %(number)s", "percent", number=0)) == "ماه ۰"
        assert column_title(Column("m12", "Month %(number)s", "percent",
                                   number=12)) == "ماه ۱۲"


def test_surveys_are_written_with_persian_keywords_and_commas(client, db, app):
    sign_in_admin(client, db, app)
    response = client.post("/surveys/new", data={
        "title": "خدمات ما", "is_active": "y",
        "questions": "امتیاز: از ما راضی بودید؟\nگزینه: کدام شعبه؟ | شمال، جنوب, مرکز\n"
                     "متن: حرف دیگری دارید؟"})
    assert response.status_code == 302, response.get_data(as_text=True)
    survey = db.scalars(select(Survey)).one()
    assert [(q.kind, q.prompt, list(q.choices or [])) for q in survey.questions] == [
        ("rating", "از ما راضی بودید؟", []),
        ("choice", "کدام شعبه؟", ["شمال", "جنوب", "مرکز"]),
        ("text", "حرف دیگری دارید؟", [])]
    edit = client.get(f"/surveys/{survey.id}").get_data(as_text=True)
    assert "گزینه: کدام شعبه؟ | شمال، جنوب، مرکز" in edit
    assert "rating:" not in edit.split('name="questions"')[1].split("</textarea>")[0]


def test_custom_field_choices_split_on_the_persian_comma(client, db, app):
    sign_in_admin(client, db, app)
    response = client.post("/catalogue/member-fields/new", data={
        "key": "size", "label": "Size", "label_fa": "سایز", "kind": "choice",
        "choices": "کوچک، متوسط، بزرگ", "position": "۱"})
    assert response.status_code == 302, response.get_data(as_text=True)
    field = db.scalars(select(MemberField)).one()
    assert field.choices == ["کوچک", "متوسط", "بزرگ"] and field.position == 1


def test_flash_messages_carry_persian_digits(client, db, app):
    sign_in_admin(client, db, app)
    tier = factories.tier(db)
    for _ in range(12):
        factories.member(db, tier_id=tier.id)
    page = client.get("/credit-grants").get_data(as_text=True)
    key = re.search(r'name="request_key" type="hidden" value="([^"]+)"', page).group(1)
    response = client.post("/credit-grants", data={
        "request_key": key, "tier_id": str(tier.id), "amount": "۱۰٬۰۰۰",
        "reason": "یلدا"}, follow_redirects=True)
    text = response.get_data(as_text=True)
    flash = re.search(r'<p class="flash success"[^>]*>([^<]*)</p>', text).group(1)
    assert "۱۲" in flash and not re.search(r"[0-9]", flash), flash


def test_audit_log_shows_actions_and_details_in_persian(client, db, app):
    sign_in_admin(client, db, app)
    db.add(AuditLog(staff_user_id=None, ip="10.0.0.2", action="edit_offer", entity="offer",
                    entity_id="7", at=NOW - timedelta(hours=1),
                    details={"values": {"name": "جشنوارهٔ پاییز", "reward_value": 1000,
                                        "is_active": True}}))
    db.flush()
    page = client.get("/audit").get_data(as_text=True)
    table = page[page.index('id="audit"'):]
    assert "ویرایش پیشنهاد" in table and ">edit_offer<" not in table
    assert re.search(r'data-entity="offer">[^<]*۷', table) and ">offer 7<" not in table
    assert "\\u062c" not in table and "جشنوارهٔ پاییز" in table
    assert "values.reward_value</bdi>: <bdi>۱٬۰۰۰" in table
    assert "values.is_active</bdi>: <bdi>بله" in table
    # The filter lists the actions by their Persian names too.
    assert '<option value="edit_offer" >ویرایش پیشنهاد</option>' in page or \
        re.search(r'<option value="edit_offer"[^>]*>ویرایش پیشنهاد</option>', page)


def test_demo_members_have_persian_names():
    for name in demo.FIRST_NAMES + demo.LAST_NAMES:
        assert re.fullmatch(r"[\u0600-\u06FF\u200c ]+", name), name


def test_report_cells_read_reasons_kinds_and_percentages_in_persian(app):
    from backend.services.reports.lists import LEDGER_KIND_TITLES
    from backend.web.admin.reports import format_cell

    with app.test_request_context():
        g.language = "fa"
        assert format_cell("purchase of 250,000 rials", "text") == "خرید ۲۵۰٬۰۰۰ ریالی"
        assert format_cell("Nowruz gift 2", "text") == "Nowruz gift ۲"  # typed by staff
        assert format_cell(LEDGER_KIND_TITLES["welcome"], "msgid") == "هدیهٔ خوش‌آمد"
        assert format_cell(0.571, "percent") == "۵۷٫۱٪"
