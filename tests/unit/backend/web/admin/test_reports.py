"""Report pages and their Excel files, on the paper club
(tests/unit/backend/services/reports/conftest.py)."""

import io
import json
import re
from datetime import date

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from backend.models import SegmentRule
from tests import factories
from tests.unit.backend.services.reports.conftest import paper  # noqa: F401  (fixture)
from tests.unit.backend.services.reports.test_campaign_effects import (  # noqa: F401
    AFTER_ABAN,
    campaign,
)

ABAN = {"from": "۱۴۰۵/۰۸/۰۱", "to": "1405/08/30"}  # any digits are accepted


@pytest.fixture
def admin(client, paper):  # noqa: F811
    factories.staff_user(paper.db, username="admin", role="admin")
    assert client.post("/login", data={"username": "admin", "password": "admin-password"}
                       ).status_code == 302
    return client


def test_catalogue_lists_every_report(admin):
    page = admin.get("/reports/").get_data(as_text=True)
    for name in ("kpis", "sales", "cohorts", "segments", "segment-rules"):
        assert f'id="report-{name}"' in page
    assert "شاخص‌های کلیدی" in page


def test_kpi_page_shows_values_and_definitions(admin):
    response = admin.get("/reports/kpis", query_string=ABAN)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "نرخ نگهداشت" in page and "سهمی از اعضای فعالِ دورهٔ قبل" in page
    # Sales 11,800,000 against 10,800,000, in Persian digits.
    assert 'data-value="11800000">۱۱٬۸۰۰٬۰۰۰<' in page
    assert 'data-value="10800000">۱۰٬۸۰۰٬۰۰۰<' in page
    # Retention 4/7 = 57.1 %.
    assert "۵۷٫۱٪" in page


def test_trend_page_draws_charts_from_data_attributes(admin):
    page = admin.get("/reports/sales", query_string={**ABAN, "step": "week", "compare": "1"}
                     ).get_data(as_text=True)
    specs = [json.loads(raw.replace("&#39;", "'")) for raw in
             re.findall(r"data-chart='([^']*)'", page)]
    assert specs and specs[0]["type"] == "line" and specs[0]["rtl"] is True
    # Aban's second week against Mehr's: each series with its compared one.
    sales, before = specs[0]["datasets"][:2]
    assert sales["data"][1] == 6_200_000
    assert len(sales["data"]) == len(before["data"]) == len(specs[0]["labels"])
    assert specs[0]["labels"][1] == "۱۴۰۵/۰۸/۰۲"
    assert "<script>" not in page  # the Content-Security-Policy allows none inline


def test_bad_dates_are_refused_with_a_message(admin):
    response = admin.get("/reports/sales", query_string={"from": "1405/13/01"})
    assert response.status_code == 400
    assert "دوره‌ای حداکثر پنج‌ساله" in response.get_data(as_text=True)
    assert admin.get("/reports/sales/excel", query_string={"to": "x"}).status_code == 400


def test_operators_see_their_own_branch(client, paper):  # noqa: F811
    factories.staff_user(paper.db, username="op", role="operator",
                         branch_id=paper.branch_y.id, permissions=["reports"])
    client.post("/login", data={"username": "op", "password": "admin-password"})
    page = client.get("/reports/kpis", query_string={**ABAN, "branch": paper.branch_x.id}
                      ).get_data(as_text=True)
    # Branch Y's Aban: m10 alone, 1,500,000 (branch X's choice is ignored).
    assert 'data-value="1500000">۱٬۵۰۰٬۰۰۰<' in page
    assert 'name="branch"' not in page


def open_workbook(response):
    assert response.status_code == 200
    assert response.mimetype == ("application/vnd.openxmlformats-officedocument."
                                 "spreadsheetml.sheet")
    return load_workbook(io.BytesIO(response.data))


def test_sales_workbook_cell_by_cell(admin):
    book = open_workbook(admin.get("/reports/sales/excel",
                                   query_string={**ABAN, "step": "week"}))
    assert book.sheetnames == ["گزارش", "فروش و مراجعه"]
    about, sheet = book["گزارش"], book["فروش و مراجعه"]
    assert about.sheet_view.rightToLeft and sheet.sheet_view.rightToLeft
    assert [about.cell(row, 1).value for row in range(1, 3)] == ["گزارش", "دوره"]
    assert about["B2"].value == "1405/08/01 – 1405/08/30"
    assert [cell.value for cell in sheet[1]][:5] == [
        "دوره", "فروش", "مبلغ پرداختی", "خریدها", "اعضای مراجعه‌کننده"]
    # Row 2: the one-day week of Friday 1405/08/01 — nothing sold. Row 3: the week of
    # 1405/08/02: 6,200,000 in 5 purchases by 5 members (test_trends.py).
    assert [cell.value for cell in sheet[2]][:5] == ["1405/08/01", 0, 0, 0, 0]
    assert [cell.value for cell in sheet[3]][:5] == ["1405/08/02", 6_200_000, 6_050_000, 5, 5]
    assert sheet["B3"].number_format == "#,##0" and isinstance(sheet["B3"].value, int)
    assert sum(sheet.cell(row, 2).value for row in range(2, sheet.max_row + 1)) == 11_800_000
    assert sheet._charts, "the report's charts come along as Excel charts"


def test_kpi_workbook_has_percentages_as_numbers(admin):
    book = open_workbook(admin.get("/reports/kpis/excel", query_string=ABAN))
    sheet = book["شاخص‌های کلیدی"]
    rows = {sheet.cell(row, 1).value: row for row in range(2, sheet.max_row + 1)}
    retention = rows["نرخ نگهداشت"]
    assert sheet.cell(retention, 2).value == pytest.approx(4 / 7)
    assert sheet.cell(retention, 2).number_format == "0.0%"
    assert sheet.cell(rows["فروش"], 2).value == 11_800_000
    assert sheet.cell(rows["فروش"], 3).value == 10_800_000
    assert "اثربخشی پیشنهادها" in book.sheetnames


def test_workbook_in_english_has_real_dates_left_to_right(admin, paper):  # noqa: F811
    admin.post("/language/en", data={"next": "/reports/"})
    book = open_workbook(admin.get("/reports/joined/excel", query_string=ABAN))
    sheet = book["New members"]
    assert not sheet.sheet_view.rightToLeft
    assert [cell.value for cell in sheet[1]] == ["Name", "Mobile", "Tier", "Branch", "Joined",
                                                 "Purchases", "Total spend"]
    # Newest first: m7 joined 1405/08/15 = 2026-11-06, noon Tehran.
    assert sheet["A2"].value.startswith("m7")
    assert sheet["E2"].value.date() == date(2026, 11, 6)
    assert sheet.max_row == 3  # m7, m6: the gift card's holder is no member


def test_segment_rules_page(admin, paper):  # noqa: F811
    response = admin.post("/reports/segment-rules", data={
        "name": "Win back", "segment": "at_risk", "action": "move_tier",
        "tier_id": paper.tier_b.id})
    assert response.status_code == 302
    rule = paper.db.scalars(select(SegmentRule)).one()
    assert (rule.segment, rule.tier_id, rule.is_active) == ("at_risk", paper.tier_b.id, True)
    assert "Win back" in admin.get("/reports/segment-rules").get_data(as_text=True)
    admin.post(f"/reports/segment-rules/{rule.id}/active", data={"active": "0"})
    paper.db.expire_all()
    assert paper.db.get(SegmentRule, rule.id).is_active is False
    refused = admin.post("/reports/segment-rules", data={"name": "x", "segment": "at_risk",
                                                         "action": "move_tier"})
    assert refused.status_code == 400


def test_campaign_effectiveness_page_workbook_and_campaign_page(admin, app, campaign):  # noqa: F811
    app.config["CLOCK"] = lambda: AFTER_ABAN
    try:
        page = admin.get("/reports/campaigns", query_string=ABAN).get_data(as_text=True)
        # The campaign links to its own page; numbers as in test_campaign_effects.py.
        assert f'href="/messages/campaigns/{campaign.id}">Autumn<' in page
        for value in (1_700_000, 1_889_026, 10_200_000, 145_000):
            assert f'data-value="{value}"' in page
        assert "اعضا برای داوری کم‌اند" in page and 'id="campaigns-definition"' in page
        book = open_workbook(admin.get("/reports/campaigns/excel", query_string=ABAN))
        sheet = book["اثربخشی کمپین‌ها"]
        headers = [cell.value for cell in sheet[1]]
        row = dict(zip(headers, [cell.value for cell in sheet[2]], strict=True))
        assert (row["کمپین"], row["گیرندگان"], row["گروه کنترل"]) == ("Autumn", 6, 6)
        assert (row["فروش افزوده"], row["هزینه"]) == (10_200_000, 145_000)
        assert row["بازگشت سرمایه"] == pytest.approx(10_055_000 / 145_000)
        assert sheet.max_row == 2
        detail = admin.get(f"/messages/campaigns/{campaign.id}").get_data(as_text=True)
        assert re.search(r'id="effect-incremental">\s*۱۰٬۲۰۰٬۰۰۰', detail)
        assert re.search(r'id="effect-per-member">\s*۱٬۷۰۰٬۰۰۰ ± ۱٬۸۸۹٬۰۲۶', detail)
        assert re.search(r'id="effect-cost">\s*۱۴۵٬۰۰۰', detail)
        assert 'data-verdict="too_few"' in detail
    finally:
        app.config.pop("CLOCK", None)
