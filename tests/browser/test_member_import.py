"""An admin imports members from Excel (M3) in a real browser: template, upload, per-row
errors, commit of the good rows, and the members list."""

import openpyxl
from sqlalchemy import select

from backend.extensions import db
from backend.models import Member
from tests.browser.conftest import screenshot, sign_in
from tests.factories import card_number

PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def fill_template(template, path, rows: list[dict]) -> None:
    book = openpyxl.load_workbook(template)
    sheet = book["اعضا"]
    keys = [cell.value.rsplit("(", 1)[-1].rstrip(")") for cell in sheet[1]]
    for values in rows:
        sheet.append([values.get(key) for key in keys])
    book.save(path)


def test_admin_imports_an_xlsx_with_good_and_bad_rows(page, live_server, tmp_path):
    sign_in(page, live_server, "admin", "admin1234")
    page.click("nav.side >> text=ورود اعضا از اکسل")
    page.wait_for_selector("#upload-form")
    with page.expect_download() as download:
        page.click("#download-template")
    template = tmp_path / "template.xlsx"
    download.value.save_as(template)
    wrong_card = card_number(778002)[:-1] + str((int(card_number(778002)[-1]) + 1) % 10)
    fill_template(template, tmp_path / "members.xlsx", [
        {"first_name": "نگار", "last_name": "وفایی", "mobile": "۰۹۳۶۱۱۱۲۲۳۳",
         "card_number": card_number(778001).translate(PERSIAN), "birth_date": "۱۳۷۲/۰۵/۱۴",
         "tier": "نقره‌ای", "gender": "زن"},
        {"first_name": "Kian", "last_name": "Vafaei", "mobile": "+98 936 222 3344",
         "national_code": "0012345679", "birth_date": "1990-01-31"},
        {"first_name": "بهار", "last_name": "بی‌موبایل", "mobile": "۰۹۳۶"},
        {"first_name": "سینا", "last_name": "کارتی", "mobile": "09364445566",
         "card_number": wrong_card, "birth_date": "۱۴۰۵/۱۲/۳۰"},
    ])
    page.set_input_files("#file", str(tmp_path / "members.xlsx"))
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#rejected-rows")
    assert page.inner_text("#rows-good strong") == "۲"
    assert page.inner_text("#rows-rejected strong") == "۲"
    assert page.inner_text('[data-row="4"] [data-column="mobile"]') == \
        "موبایل: شمارهٔ موبایل باید مانند ۰۹۱۲۱۲۳۴۵۶۷ باشد."
    assert page.inner_text('[data-row="5"] [data-column="card_number"]') == \
        "شماره کارت: شمارهٔ کارت ۱۶ رقم با رقم کنترل درست است."
    assert page.inner_text('[data-row="5"] [data-column="birth_date"]') == \
        "تاریخ تولد: تاریخ را مانند ۱۴۰۵/۰۸/۳۰ وارد کنید."
    assert "نگار" in page.inner_text("#good-rows")
    screenshot(page, "import-preview-fa")

    page.check("#give_welcome_credit")
    with page.expect_navigation():  # not the previous page's message
        page.click("#commit-form button[type=submit]")
    page.wait_for_selector(".flash.success")
    assert page.inner_text(".flash.success") == "۲ عضو وارد شد."
    assert page.inner_text("#rows-imported strong") == "۲"

    page.click("#see-members")
    page.fill("input[name=q]", "وفایی")
    page.click("form.filters button")
    page.wait_for_selector("table.list")
    listed = page.inner_text("table.list")
    assert "نگار وفایی" in listed and "۰۹۳۶۱۱۱۲۲۳۳" in listed
    assert "۵۰٬۰۰۰" in listed  # the welcome credit the admin chose to give
    with live_server.app.app_context():
        negar = db.session.scalars(select(Member).where(Member.mobile == "09361112233")).one()
        assert (negar.tier.code, negar.cards[0].number) == ("silver", card_number(778001))
        kian = db.session.scalars(select(Member).where(Member.mobile == "09362223344")).one()
        assert kian.national_code == "0012345679"
        assert db.session.scalars(select(Member).where(
            Member.mobile == "09364445566")).first() is None
