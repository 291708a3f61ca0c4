"""Cheques and instalments in the panel and the portal (L13, issue 18 item 4): Persian
digits typed, Jalali dates shown, status changes with their history, branch scoping."""

import functools
import re

import jdatetime
from sqlalchemy import func, select

from backend.models import AuditLog, InstrumentEvent, PaymentInstrument
from backend.services import instruments, member_auth
from backend.unit_of_work import SYSTEM
from tests import factories
from tests.conftest import NOW


def text(response) -> str:
    return response.get_data(as_text=True)


def jalali(year, month, day):
    return jdatetime.date(year, month, day).togregorian()


def shop(db, client, clock, username="admin", role="admin"):
    factories.club(db)
    branch, other = factories.branch(db, name="مرکزی"), factories.branch(db, name="غرب")
    factories.staff_user(db, username=username, role=role, full_name="مریم کریمی",
                         branch_id=branch.id if role == "operator" else None)
    member = factories.member(db, home_branch_id=branch.id, first_name="سارا",
                              last_name="احمدی")
    db.commit()
    assert client.post("/login", data={"username": username,
                                       "password": "admin-password"}).status_code == 302
    return branch, other, member


def test_a_cheque_is_recorded_with_persian_digits_and_cleared(client, db, clock):
    branch, _other, member = shop(db, client, clock)
    page = text(client.get(f"/members/{member.id}"))
    assert f"/members/{member.id}/cheques/new" in page and "چک‌ها و اقساط" in page
    form = text(client.get(f"/members/{member.id}/cheques/new"))
    assert "بانک ملت" in form and 'type="number"' not in form
    response = client.post(f"/members/{member.id}/cheques/new", data={
        "bank": "mellat", "number": "۱۲۳۴۵۶۷۸۹۰۱۲۳۴۵۶", "due_date": "۱۴۰۵/۰۹/۱۵",
        "amount": "۲۵٬۰۰۰٬۰۰۰", "branch_id": str(branch.id), "note": "خرید مبلمان"})
    assert response.status_code == 302
    row = db.scalars(select(PaymentInstrument)).one()
    assert (row.amount_rials, row.due_date, row.reference, row.branch_id) == (
        25_000_000, jalali(1405, 9, 15), "1234567890123456", branch.id)
    detail = text(client.get(response.headers["Location"]))
    assert "۱۴۰۵/۰۹/۱۵" in detail and "۲۵٬۰۰۰٬۰۰۰" in detail and "در انتظار" in detail
    assert "وصول شد" in detail and "برگشت خورد" in detail  # the two buttons
    assert client.post(f"/instruments/{row.id}/status", data={
        "status": "bounced", "note": "کسری موجودی"}).status_code == 302
    assert client.post(f"/instruments/{row.id}/status", data={
        "status": "cleared"}).status_code == 302
    detail = text(client.get(f"/instruments/{row.id}"))
    history = detail[detail.index('id="instrument-history"'):]
    assert history.count("<tr>") == 4  # the header, recorded, bounced, cleared
    assert "کسری موجودی" in history and "مریم کریمی" in history
    # cleared is final: no buttons, and a forged change is refused without a trace
    assert 'id="status-form"' not in detail
    response = client.post(f"/instruments/{row.id}/status", data={"status": "bounced"})
    assert response.status_code == 400 and "از وضعیت کنونی ممکن نیست" in text(response)
    assert db.scalar(select(func.count(InstrumentEvent.id))) == 3
    assert db.scalar(select(func.count(AuditLog.id)).where(
        AuditLog.action == "change_instrument_status")) == 2


def test_a_bad_cheque_shows_its_error_and_writes_nothing(client, db, clock):
    branch, _other, member = shop(db, client, clock)
    response = client.post(f"/members/{member.id}/cheques/new", data={
        "bank": "", "number": "۱۲الف", "due_date": "۱۴۰۵/۱۳/۰۱", "amount": "۱۲,۳۴",
        "branch_id": str(branch.id)})
    assert response.status_code == 400
    page = text(response)
    assert "تاریخ را مانند ۱۴۰۵/۰۸/۳۰ وارد کنید." in page and "۱۲الف" in page
    response = client.post(f"/members/{member.id}/cheques/new", data={
        "bank": "melli", "number": "۱۲الف", "due_date": "۱۴۰۵/۰۹/۰۱", "amount": "۱۰۰۰",
        "branch_id": str(branch.id)})
    assert response.status_code == 400 and "شمارهٔ چک" in text(response)
    assert db.scalar(select(func.count(PaymentInstrument.id))) == 0


def test_an_instalment_plan_splits_to_the_rial_on_jalali_months(client, db, clock):
    branch, _other, member = shop(db, client, clock)
    form = text(client.get(f"/members/{member.id}/instalment-plans/new"))
    key = re.search(r'name="request_key" type="hidden" value="([^"]+)"', form).group(1)
    sent = {"total": "۱۰٬۰۰۰٬۰۰۰", "count": "۳", "schedule": "monthly",
            "first_due": "۱۴۰۵/۰۶/۳۱", "branch_id": str(branch.id), "request_key": key}
    response = client.post(f"/members/{member.id}/instalment-plans/new", data=sent)
    assert response.status_code == 302
    # a double tap sends the same form again: the same plan, nothing more
    again = client.post(f"/members/{member.id}/instalment-plans/new", data=sent)
    assert again.headers["Location"] == response.headers["Location"]
    rows = db.scalars(select(PaymentInstrument).order_by(PaymentInstrument.sequence)).all()
    assert [row.amount_rials for row in rows] == [3_333_333, 3_333_333, 3_333_334]
    assert [row.due_date for row in rows] == [jalali(1405, 6, 31), jalali(1405, 7, 30),
                                              jalali(1405, 8, 30)]
    page = text(client.get(response.headers["Location"]))
    for day in ("۱۴۰۵/۰۶/۳۱", "۱۴۰۵/۰۷/۳۰", "۱۴۰۵/۰۸/۳۰"):
        assert day in page
    assert "قسط ۱ از ۳" in page and "۳٬۳۳۳٬۳۳۴" in page
    assert client.post(f"/instruments/{rows[0].id}/status",
                       data={"status": "paid"}).status_code == 302
    listed = text(client.get("/instruments?state=open"))
    assert "قسط ۲ از ۳" in listed and "قسط ۱ از ۳" not in listed
    assert "۶٬۶۶۶٬۶۶۷" in listed  # the total still owed, to the rial
    # every K days needs its K
    response = client.post(f"/members/{member.id}/instalment-plans/new", data={
        "total": "۹۰۰", "count": "۳", "schedule": "days", "first_due": "۱۴۰۵/۰۹/۰۱",
        "branch_id": str(branch.id)})
    assert response.status_code == 400
    assert db.scalar(select(func.count(PaymentInstrument.id))) == 3


def test_an_operator_records_at_their_branch_and_sees_only_its_rows(client, db, clock):
    branch, other, member = shop(db, client, clock, username="cashier", role="operator")
    form = text(client.get(f"/members/{member.id}/cheques/new"))
    assert 'name="branch_id"' not in form
    assert client.post(f"/members/{member.id}/cheques/new", data={
        "bank": "saman", "number": "555", "due_date": "1405/09/01", "amount": "1000",
        "branch_id": str(other.id)}).status_code == 302
    mine = db.scalars(select(PaymentInstrument)).one()
    assert mine.branch_id == branch.id
    elsewhere = instruments.record_cheque(db,
                                          actor=SYSTEM, member_id=member.id, bank="dey", number="9",
                                          due_date=jalali(1405, 9, 2), amount_rials=7, now=NOW,
                                          branch_id=other.id)
    listed = text(client.get("/instruments"))
    assert "555" in listed.translate(str.maketrans("۰۱۲۳۴۵۶۷۸۹", "0123456789"))
    assert f"/instruments/{elsewhere.id}\"" not in listed
    assert client.get(f"/instruments/{elsewhere.id}").status_code == 403
    assert client.post(f"/instruments/{elsewhere.id}/status",
                       data={"status": "cleared"}).status_code == 403
    db.refresh(elsewhere)
    assert elsewhere.status == "pending"


def test_the_member_sees_their_own_cheques_and_instalments_in_the_portal(client, db, app,
                                                                          clock):
    factories.club(db)
    member = factories.member(db)
    stranger = factories.member(db)
    member_auth.set_password(db, member.id, "member-pass-1")
    instruments.record_cheque(db, actor=SYSTEM, member_id=member.id, bank="tejarat", number="4321",
                              due_date=jalali(1405, 9, 10), amount_rials=12_500_000, now=NOW)
    instruments.create_plan(db, actor=SYSTEM, member_id=member.id, total_rials=1_000, count=2,
                            schedule="days", interval_days=30, first_due=jalali(1405, 9, 1),
                            now=NOW)
    instruments.record_cheque(db,
                              actor=SYSTEM, member_id=stranger.id, bank="melli", number="999999",
                              due_date=jalali(1405, 9, 10), amount_rials=1, now=NOW)
    assert client.post("/portal/sign-in", data={"mobile": member.mobile,
                                                "password": "member-pass-1"}).status_code == 302
    page = text(client.get("/portal/instruments"))
    assert "بانک تجارت" in page and "۴۳۲۱" in page and "۱۲٬۵۰۰٬۰۰۰" in page
    assert "۱۴۰۵/۰۹/۱۰" in page and "قسط ۲ از ۲" in page
    assert "۹۹۹۹۹۹" not in page
    assert "<form" not in page[page.index("<main"):]  # read-only
    assert re.search(r'href="/portal/instruments"', text(client.get("/portal/")))


def test_the_due_report_totals_to_the_rial_by_branch_and_exports(client, db, clock):
    import io

    from openpyxl import load_workbook

    branch, other, member = shop(db, client, clock)
    # today is Saturday 30 Aban 1405: the week runs to Friday 6 Azar, the month ends today
    record = functools.partial(instruments.record_cheque, actor=SYSTEM)
    record(db, member_id=member.id, bank="mellat", number="11", due_date=jalali(1405, 8, 20),
           amount_rials=1_000_001, now=NOW, branch_id=branch.id)          # overdue
    record(db, member_id=member.id, bank="saman", number="12", due_date=jalali(1405, 8, 30),
           amount_rials=2_000_000, now=NOW, branch_id=branch.id)          # today: week, month
    bounced = record(db, member_id=member.id, bank="sepah", number="13",
                     due_date=jalali(1405, 8, 1), amount_rials=500, now=NOW, branch_id=other.id)
    instruments.change_status(db, actor=SYSTEM, instrument_id=bounced.id, status="bounced", now=NOW)
    instruments.create_plan(db, actor=SYSTEM, member_id=member.id, total_rials=3_000_001, count=3,
                            schedule="days", interval_days=3, first_due=jalali(1405, 9, 3),
                            now=NOW, branch_id=other.id)  # 3 Azar (week), 6 Azar (week), 9 Azar
    cleared = record(db, member_id=member.id, bank="dey", number="14",
                     due_date=jalali(1405, 8, 25), amount_rials=999, now=NOW, branch_id=branch.id)
    instruments.change_status(db, actor=SYSTEM, instrument_id=cleared.id, status="cleared", now=NOW)
    page = text(client.get("/reports/due"))
    summary = page[page.index('data-table="due_summary"') if 'data-table="due_summary"' in page
                   else page.index("due_summary"):]
    # مرکزی: overdue 1,000,001; week and month 2,000,000; owed 3,000,001
    # غرب: week 2,000,000 (1,000,000 + 1,000,000), month 0 (Azar is next month), bounced 500
    for figure in ("۱٬۰۰۰٬۰۰۱", "۲٬۰۰۰٬۰۰۰", "۳٬۰۰۰٬۰۰۱", "۳٬۰۰۰٬۵۰۱", "۶٬۰۰۰٬۵۰۲"):
        assert figure in summary, figure
    assert "۱۴۰۵/۰۸/۲۰" in page and "بانک ملت" in page
    response = client.get("/reports/due/excel")
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.data))
    values = [[cell for cell in row] for sheet in book.worksheets[1:]
              for row in sheet.iter_rows(values_only=True)]
    totals = [row for row in values if row and row[0] == "همهٔ شعبه‌ها"]
    assert totals and list(totals[0][1:]) == [1, 1_000_001, 4_000_000, 2_000_000, 500, 6_000_502]


def test_the_owner_edits_the_reminder_texts_and_days_like_the_others(client, db, clock):
    from backend.models import MessageTemplate
    from backend.notifications import admin as messages_admin
    from backend.notifications import dispatcher

    shop(db, client, clock)
    page = text(client.get("/messages/texts"))
    assert "سررسید نزدیک چک" in page and "سررسید نزدیک قسط" in page
    # the sample: a cheque on Bank Mellat, Jalali date, amount in rials
    assert "چک شماره 1234567890123456 بانک ملت به مبلغ ۲۵۰٬۰۰۰ ریال" in page
    data = {f"text_{kind}_{language}": body for (kind, language), body
            in messages_admin.template_texts(db).items()}
    data.update({f"enabled_{kind}": "1" for kind in ("purchase", "credit_increase",
                                                       "tier_upgrade", "credit_expiring",
                                                       "points_expiring", "cheque_due",
                                                       "instalment_due", "welcome",
                                                       "birthday", "anniversary")})
    data["text_cheque_due_fa"] = ("{first_name} جان، چک {number} به مبلغ {amount} در {date} "
                                  "سررسید است.")
    response = client.post("/messages/texts", data={**data, "text_cheque_due_fa": "{balance}"})
    assert response.status_code == 400
    assert client.post("/messages/texts", data=data).status_code == 302
    [row] = db.scalars(select(MessageTemplate)).all()
    assert (row.key, row.language) == ("cheque_due", "fa")
    form = text(client.get("/messages/settings"))
    assert 'name="instrument_reminder_days"' in form and 'value="3"' in form
    assert dispatcher.settings(db).instrument_reminder_days == 3


def test_the_pages_read_in_english_with_gregorian_dates(client, db, clock):
    _branch, _other, member = shop(db, client, clock)
    row = instruments.record_cheque(db,
                                    actor=SYSTEM, member_id=member.id, bank="mellat", number="42",
                                    due_date=jalali(1405, 9, 15), amount_rials=1_250_000,
                                    now=NOW)
    assert client.post("/language/en").status_code == 302
    page = text(client.get(f"/instruments/{row.id}"))
    assert "Bank Mellat" in page and "2026-12-06" in page and "1,250,000" in page
    assert "Cheque cleared" in page and "Cheque bounced" in page
    assert "Bank Mellat" in text(client.get(f"/members/{member.id}/cheques/new"))
    assert "Cheques and instalments due" in text(client.get("/reports/due"))
