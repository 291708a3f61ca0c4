"""Member import pages (M3): template download, upload, preview with per-row errors in
Persian, commit (good rows) or discard (none), idempotent re-posts, the result file."""

import io
import re

import openpyxl
import pytest
from sqlalchemy import func, select

from backend.models import AuditLog, Member, MemberImport, StaffUser
from backend.services import member_import as mi
from tests import factories
from tests.conftest import NOW

GOOD = {"first_name": "سارا", "last_name": "احمدی", "mobile": "09121234567"}


@pytest.fixture
def admin(client, db, app):
    app.config["CLOCK"] = lambda: NOW
    factories.club(db, welcome_credit_rials=50_000)
    factories.tier(db, code="bronze", name="bronze", name_fa="برنزی", rank=1)
    factories.staff_user(db, username="admin", role="admin")
    assert client.post("/login", data={"username": "admin",
                                       "password": "admin-password"}).status_code == 302
    return client


def upload(client, tmp_path, rows, name="members.xlsx", **options):
    path = factories.import_workbook(tmp_path / name, rows, **options)
    return client.post("/import", data={"file": (io.BytesIO(path.read_bytes()), name)},
                       content_type="multipart/form-data")


def token_of(response) -> str:
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    return response.headers["Location"].rsplit("/", 1)[-1]


def digest_of(page: str) -> str:
    return re.search(r'name="digest" type="hidden" value="([^"]*)"', page).group(1)


MIXED = [GOOD, {**GOOD, "mobile": "0912"},
         {**GOOD, "first_name": "Reza", "mobile": "09120000002",
          "card_number": factories.card_number(8001)},
         {**GOOD, "mobile": "۰۹۱۲۱۲۳۴۵۶۷"}]


def test_template_download_is_the_published_xlsx(admin):
    response = admin.get("/import/template.xlsx")
    assert response.status_code == 200
    assert response.mimetype == ("application/vnd.openxmlformats-officedocument"
                                 ".spreadsheetml.sheet")
    assert "vafa-members-template.xlsx" in response.headers["Content-Disposition"]
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    assert book[mi.SHEET_TITLE]["A1"].value == "نام (first_name)"


def test_upload_preview_commit_and_result(admin, db, tmp_path):
    token = token_of(upload(admin, tmp_path, MIXED))
    page = admin.get(f"/import/{token}").get_data(as_text=True)
    # Per-row errors, in Persian, with the rows' numbers as Excel shows them.
    assert "موبایل: شمارهٔ موبایل باید مانند ۰۹۱۲۱۲۳۴۵۶۷ باشد." in page
    assert "موبایل: ردیف ۵ فایل هم همین مقدار را دارد." in page
    assert 'data-row="3"' in page and 'data-row="5"' in page and 'data-row="2"' in page
    assert db.scalar(select(func.count(Member.id))) == 0  # nothing imported by a preview

    # The filter narrows the list to one column's errors; the search finds a row.
    assert 'data-row="3"' not in admin.get(f"/import/{token}?column=first_name").get_data(
        as_text=True)
    filtered = admin.get(f"/import/{token}?q=۳").get_data(as_text=True)  # a row number
    assert 'data-row="3"' in filtered and 'data-row="5"' not in filtered
    filtered = admin.get(f"/import/{token}?q=09121234567").get_data(as_text=True)
    assert 'data-row="2"' in filtered and 'data-row="5"' in filtered  # Persian digits too
    assert 'data-row="3"' not in filtered

    result = admin.get(f"/import/{token}/rejected.xlsx")
    book = openpyxl.load_workbook(io.BytesIO(result.data))
    rows = list(book[mi.SHEET_TITLE].iter_rows(values_only=True))
    assert [row[0] for row in rows[1:]] == [2, 3, 5]
    assert rows[2][-1] == "موبایل: شمارهٔ موبایل باید مانند ۰۹۱۲۱۲۳۴۵۶۷ باشد."

    response = admin.post(f"/import/{token}/commit", data={
        "digest": digest_of(page), "give_welcome_credit": "y"})
    assert response.status_code == 302
    reza = db.scalars(select(Member)).one()
    assert (reza.first_name, reza.credit_balance_rials) == ("Reza", 50_000)
    assert reza.cards[0].number == factories.card_number(8001)
    record = db.scalars(select(MemberImport)).one()
    assert (record.rows_imported, record.rows_rejected, record.staff_user.username) == (
        1, 3, "admin")
    assert mi.upload_path(admin.application.config["INSTANCE_DIR"] / "imports", token) is None
    audit = db.scalars(select(AuditLog).where(AuditLog.action == "import_members")).one()
    assert audit.ip == "127.0.0.1" and audit.staff_user_id == record.staff_user_id

    # A re-posted commit imports nothing twice.
    again = admin.post(f"/import/{token}/commit", data={"digest": digest_of(page)},
                       follow_redirects=True)
    assert "این فایل پیش‌تر وارد شده است." in again.get_data(as_text=True)
    assert db.scalar(select(func.count(Member.id))) == 1
    # The result page and the history.
    result_page = admin.get(f"/import/{token}").get_data(as_text=True)
    assert "نتیجهٔ ورود اعضا" in result_page and 'data-row="5"' in result_page
    history = admin.get("/import").get_data(as_text=True)
    assert "members.xlsx" in history and f"/import/{token}" in history
    assert "members.xlsx" not in admin.get("/import?status=discarded").get_data(as_text=True)
    # The result file stays downloadable after the commit.
    book = openpyxl.load_workbook(io.BytesIO(admin.get(f"/import/{token}/rejected.xlsx").data))
    assert book[mi.SHEET_TITLE].max_row == 4


def test_welcome_credit_is_given_only_when_ticked(admin, db, tmp_path):
    token = token_of(upload(admin, tmp_path, [GOOD]))
    page = admin.get(f"/import/{token}").get_data(as_text=True)
    assert "۵۰٬۰۰۰ ریال" in page  # the amount is shown next to the choice
    admin.post(f"/import/{token}/commit", data={"digest": digest_of(page)})
    assert db.scalars(select(Member)).one().credit_balance_rials == 0


def test_discard_imports_nothing(admin, db, tmp_path):
    token = token_of(upload(admin, tmp_path, MIXED))
    response = admin.post(f"/import/{token}/discard", follow_redirects=True)
    assert "هیچ عضوی وارد نشد." in response.get_data(as_text=True)
    assert db.scalar(select(func.count(Member.id))) == 0
    assert db.scalars(select(MemberImport)).one().status == "discarded"
    # The decision is final: a late commit of the same upload imports nothing.
    admin.post(f"/import/{token}/commit", data={"digest": "x"})
    assert db.scalar(select(func.count(Member.id))) == 0


def test_a_change_in_the_club_since_the_preview_stops_the_commit(admin, db, tmp_path):
    token = token_of(upload(admin, tmp_path, [GOOD, {**GOOD, "mobile": "09120000002"}]))
    page = admin.get(f"/import/{token}").get_data(as_text=True)
    factories.member(db, mobile="09120000002")  # joined at a counter meanwhile
    db.commit()
    response = admin.post(f"/import/{token}/commit", data={"digest": digest_of(page)},
                          follow_redirects=True)
    text = response.get_data(as_text=True)
    assert "از زمان پیش‌نمایش تغییر کرده" in text
    assert "عضوی با این شمارهٔ موبایل وجود دارد" in text  # the new preview says why
    assert db.scalar(select(func.count(Member.id))) == 1
    # Committing what the new preview shows imports the one good row.
    admin.post(f"/import/{token}/commit", data={"digest": digest_of(text)})
    assert db.scalar(select(func.count(Member.id))) == 2


@pytest.mark.parametrize(("data", "name", "message"), [
    (b"name,mobile\n", "members.csv", "یک فایل ‎.xlsx‎ (اکسل ۲۰۰۷ یا تازه‌تر) بارگذاری کنید."),
    (b"not a zip", "members.xlsx", "این فایل ‎.xlsx‎ نیست."),
])
def test_bad_files_are_refused_next_to_the_field(admin, tmp_path, data, name, message):
    response = admin.post("/import", data={"file": (io.BytesIO(data), name)},
                          content_type="multipart/form-data")
    assert response.status_code == 400
    assert f'data-error-for="file">{message}' in response.get_data(as_text=True)
    assert list((admin.application.config["INSTANCE_DIR"] / "imports").glob("*")) == []


def test_a_file_without_required_columns_is_explained(admin, tmp_path):
    response = upload(admin, tmp_path, [{"first_name": "a", "mobile": "09121234567"}])
    assert response.status_code == 400
    assert "ستون‌های لازم در فایل نیستند: نام خانوادگی (last_name)." in response.get_data(
        as_text=True)


def test_no_file_is_a_field_error(admin):
    response = admin.post("/import", data={}, content_type="multipart/form-data")
    assert response.status_code == 400
    assert 'data-error-for="file"' in response.get_data(as_text=True)


def test_an_upload_is_seen_only_by_its_uploader(admin, client, db, tmp_path):
    token = token_of(upload(admin, tmp_path, [GOOD]))
    factories.staff_user(db, username="second", role="admin")
    client.post("/logout")
    client.post("/login", data={"username": "second", "password": "admin-password"})
    assert client.get(f"/import/{token}").status_code == 404
    assert client.get(f"/import/{token}/rejected.xlsx").status_code == 404
    assert client.post(f"/import/{token}/commit", data={"digest": "x"}).status_code == 404
    assert db.scalar(select(func.count(Member.id))) == 0


def test_an_operator_with_the_settings_right_imports_into_their_branch(client, db, app,
                                                                       tmp_path):
    app.config["CLOCK"] = lambda: NOW
    factories.club(db)
    factories.tier(db, rank=1)
    own, other = factories.branch(db, code="own"), factories.branch(db, code="other")
    factories.staff_user(db, username="op", role="operator", branch_id=own.id,
                         permissions=["settings"])
    client.post("/login", data={"username": "op", "password": "admin-password"})
    token = token_of(upload(client, tmp_path, [GOOD, {**GOOD, "mobile": "09120000002",
                                                      "branch": "other"}]))
    page = client.get(f"/import/{token}").get_data(as_text=True)
    assert "فقط اعضای شعبهٔ خودتان را می‌توانید وارد کنید." in page
    client.post(f"/import/{token}/commit", data={"digest": digest_of(page)})
    member = db.scalars(select(Member)).one()
    assert member.home_branch_id == own.id and other.id != own.id


def test_english_users_see_english_errors(admin, db, tmp_path):
    db.scalars(select(StaffUser)).one().locale = "en"
    db.commit()
    token = token_of(upload(admin, tmp_path, [{**GOOD, "mobile": "0912"}]))
    page = admin.get(f"/import/{token}").get_data(as_text=True)
    assert "mobile: A mobile number looks like 09121234567." in page
    assert "Import nothing" in page
