"""Member import (M3): the template, reading and validating a file row by row, committing
the good rows or none in one transaction, idempotency, and the result file."""

import io
import os
import zipfile
from datetime import date, datetime, timedelta

import openpyxl
import openpyxl.xml
import pytest
from sqlalchemy import func, select

from backend import ledger
from backend.errors import BadRequest
from backend.models import AuditLog, Card, LedgerTransaction, Member, MemberField, MemberImport
from backend.services import member_import as mi
from backend.unit_of_work import Actor
from tests import factories
from tests.conftest import NOW

PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
GOOD = {"first_name": "سارا", "last_name": "احمدی", "mobile": "09121234567"}


@pytest.fixture
def club(db):
    club = factories.club(db, welcome_credit_rials=50_000)
    bronze = factories.tier(db, code="bronze", name="bronze", name_fa="برنزی", rank=1)
    silver = factories.tier(db, code="silver", name="silver", name_fa="نقره‌ای", rank=2)
    central = factories.branch(db, code="central", name="شعبهٔ مرکزی")
    other = factories.branch(db, code="north", name="شمال")
    return type("Club", (), {"club": club, "bronze": bronze, "silver": silver,
                             "central": central, "other": other})


def check(db, tmp_path, rows, branch_id=None, **options):
    path = factories.import_workbook(tmp_path / "members.xlsx", rows, **options)
    return mi.check_file(db, path, branch_id=branch_id)


def errors_of(row) -> list[tuple[str, str]]:
    return [(error["column"], error["message"] % error["params"] if error["params"]
             else error["message"]) for error in row.errors]


def test_template_is_right_to_left_with_persian_headers_english_keys_and_notes(db, club):
    db.add(MemberField(key="shoe_size", label="Shoe size", label_fa="شمارهٔ کفش",
                       kind="number"))
    db.flush()
    book = openpyxl.load_workbook(io.BytesIO(mi.template_workbook(db)))
    assert book.sheetnames == [mi.SHEET_TITLE, mi.NOTES_TITLE]
    sheet, notes = book[mi.SHEET_TITLE], book[mi.NOTES_TITLE]
    assert sheet.sheet_view.rightToLeft and notes.sheet_view.rightToLeft
    headers = [cell.value for cell in sheet[1]]
    assert headers[:3] == ["نام (first_name)", "نام خانوادگی (last_name)", "موبایل (mobile)"]
    assert headers[-1] == "شمارهٔ کفش (custom_shoe_size)"
    assert sheet.max_row == 1  # no example row that could be imported by mistake
    # Identifiers stay text in Excel: leading zeros and all 16 card digits survive.
    assert sheet.column_dimensions["C"].number_format == "@"
    keys = [row[1] for row in notes.iter_rows(values_only=True)]
    assert {column.key for column in mi.BUILTIN_COLUMNS} <= set(keys)
    assert "custom_shoe_size" in keys
    required = {row[1] for row in notes.iter_rows(values_only=True) if row[2] == "بله"}
    assert required == {"first_name", "last_name", "mobile"}


def test_the_template_itself_reads_back_as_a_file_without_rows(db, club, tmp_path):
    path = tmp_path / "template.xlsx"
    path.write_bytes(mi.template_workbook(db))
    with pytest.raises(mi.ImportFileError) as error:
        mi.read_sheet(path, mi.import_columns(db))
    assert error.value.message == "The file has no member rows."


def test_persian_and_arabic_digits_jalali_and_gregorian_dates_are_read(db, club, tmp_path):
    card = factories.card_number(7001)
    checked = check(db, tmp_path, [
        {"first_name": " سارا ", "last_name": "احمدی", "mobile": "۰۹۱۲ ۱۲۳ ۴۵۶۷",
         "card_number": card.translate(PERSIAN), "national_code": "0084575948".translate(
             ARABIC_INDIC), "gender": "زن", "birth_date": "۱۳۷۰/۰۱/۱۵",
         "wedding_date": "2015-05-20", "tier": "نقره‌ای", "branch": "central",
         "weight_kg": "۶۵", "home_phone": "۰۳۱-۳۲۲۲۱۱۰۰", "email": "sara@example.com",
         "promotional_opt_out": "بله"},
        # An Excel date cell, a mobile typed as a number, a national code typed as a number
        # (its leading zeros lost), the Arabic-keyboard spelling of a tier's name.
        {"first_name": "Ali", "last_name": "Rahimi", "mobile": 9351112233,
         "national_code": 12345679, "birth_date": datetime(1989, 9, 22),
         "tier": "نقره‌اي", "gender": "M"},
    ])
    first, second = checked.sheet.rows
    assert first.errors == [] and second.errors == [], (errors_of(first), errors_of(second))
    assert first.number == 2 and second.number == 3
    values = first.values
    assert (values["first_name"], values["mobile"], values["card_number"]) == (
        "سارا", "09121234567", card)
    assert values["national_code"] == "0084575948"
    assert values["birth_date"] == date(1991, 4, 4)  # 15 Farvardin 1370
    assert values["wedding_date"] == date(2015, 5, 20)
    assert (values["gender"], values["tier"].code, values["branch"]) == (
        "f", "silver", club.central.id)
    assert (values["weight_kg"], values["home_phone"], values["promotional_opt_out"]) == (
        65, "03132221100", True)
    assert second.values["mobile"] == "09351112233"
    assert second.values["national_code"] == "0012345679"
    assert second.values["birth_date"] == date(1989, 9, 22)
    assert (second.values["tier"].code, second.values["gender"]) == ("silver", "m")


def test_empty_tier_and_branch_take_the_lowest_tier_and_no_branch(db, club, tmp_path):
    row, = check(db, tmp_path, [{**GOOD, "tier": None, "branch": None}]).sheet.rows
    assert row.errors == []
    assert (row.values["tier"].code, row.values["branch"]) == ("bronze", None)


@pytest.mark.parametrize(("cells", "column", "message"), [
    ({"first_name": ""}, "first_name", "This field is required."),
    ({"mobile": None}, "mobile", "This field is required."),
    ({"last_name": "ب" * 65}, "last_name", "At most 64 characters."),
    ({"mobile": "0912123"}, "mobile", "A mobile number looks like 09121234567."),
    ({"mobile": "۰۸۱۲۱۲۳۴۵۶۷"}, "mobile", "A mobile number looks like 09121234567."),
    ({"national_code": "0084575949"}, "national_code", "This national code is not valid."),
    ({"national_code": "1111111111"}, "national_code", "This national code is not valid."),
    ({"card_number": "9900010000050015"}, "card_number",
     "A card number has 16 digits and a valid check digit."),
    ({"card_number": 9900010000050014.0}, "card_number",
     "Store card numbers as text: a number cell keeps only 15 digits."),
    ({"birth_date": "۱۴۰۵/۱۲/۳۰"}, "birth_date", "Enter a date like 1405/08/30."),
    ({"wedding_date": "2026-02-30"}, "wedding_date", "Enter a date like 1405/08/30."),
    ({"birth_date": "yesterday"}, "birth_date", "Enter a date like 1405/08/30."),
    ({"gender": "x"}, "gender", "Choose a gender."),
    ({"weight_kg": "۶۰۰"}, "weight_kg", "Enter a weight between 1 and 500."),
    ({"weight_kg": "0"}, "weight_kg", "Enter a weight between 1 and 500."),
    ({"weight_kg": "62.5"}, "weight_kg", "Enter a weight between 1 and 500."),
    ({"weight_kg": "²"}, "weight_kg", "Enter a weight between 1 and 500."),
    ({"email": "sara@"}, "email", "Enter an email address."),
    ({"work_phone": "call me"}, "work_phone", "Enter a phone number."),
    ({"promotional_opt_out": "maybe"}, "promotional_opt_out", "Write yes or no."),
    ({"tier": "platinum"}, "tier", "No tier has this code or name."),
    ({"branch": "south"}, "branch", "No active branch has this code or name."),
])
def test_each_kind_of_bad_cell_is_reported_on_its_row_and_column(
        db, club, tmp_path, cells, column, message):
    good, bad = check(db, tmp_path, [{**GOOD, "mobile": "09120000001"},
                                     {**GOOD, **cells}]).sheet.rows
    assert good.errors == []
    assert errors_of(bad) == [(column, message)]
    assert bad.number == 3


def test_every_column_kind_has_a_cleaner():
    assert {column.kind for column in mi.BUILTIN_COLUMNS} | {"custom"} == set(mi._CLEANERS)


@pytest.mark.parametrize(("cells", "values"), [
    ({"gender": "مرد", "weight_kg": "٧٠"}, {"gender": "m", "weight_kg": 70}),
    ({"gender": "Female", "weight_kg": "500"}, {"gender": "f", "weight_kg": 500}),
    ({"gender": "خانم", "weight_kg": "۱"}, {"gender": "f", "weight_kg": 1}),
])
def test_gender_words_and_weights_in_any_digits_are_read(db, club, tmp_path, cells, values):
    row, = check(db, tmp_path, [{**GOOD, **cells}]).sheet.rows
    assert row.errors == []
    assert {key: row.values[key] for key in values} == values


def test_every_error_of_a_row_is_reported_at_once(db, club, tmp_path):
    row, = check(db, tmp_path, [{"first_name": "", "last_name": "احمدی", "mobile": "123",
                                 "national_code": "123", "gender": "?"}]).sheet.rows
    assert [column for column, _ in errors_of(row)] == [
        "first_name", "mobile", "national_code", "gender"]


def test_custom_fields_are_columns_validated_like_the_form(db, club, tmp_path):
    db.add_all([MemberField(key="shoe_size", label="Shoe size", kind="number"),
                MemberField(key="source", label="Source", label_fa="منبع", kind="choice",
                            choices=["instagram", "friend"], required=True)])
    db.flush()
    good, bad, missing = check(db, tmp_path, [
        {**GOOD, "custom_shoe_size": "۴۰", "custom_source": "friend"},
        {**GOOD, "mobile": "09120000002", "custom_shoe_size": "big",
         "custom_source": "radio"},
        {**GOOD, "mobile": "09120000003"},
    ], keys=("first_name", "last_name", "mobile", "custom_shoe_size", "custom_source"),
        ).sheet.rows
    assert good.errors == [] and good.values["custom_shoe_size"] == "40"
    assert errors_of(bad) == [("custom_shoe_size", "Enter a whole number."),
                              ("custom_source", "Choose one of the options.")]
    assert errors_of(missing) == [("custom_source", "This field is required.")]


def test_a_required_custom_field_is_a_required_column(db, club, tmp_path):
    db.add(MemberField(key="source", label="Source", kind="text", required=True))
    db.flush()
    with pytest.raises(mi.ImportFileError) as error:
        check(db, tmp_path, [GOOD])
    assert str(error.value) == "Required columns are missing: Source (custom_source)."


def test_duplicates_within_the_file_reject_every_copy(db, club, tmp_path):
    card = factories.card_number(7002)
    rows = check(db, tmp_path, [
        {**GOOD, "mobile": "09121234567", "card_number": card},
        {**GOOD, "mobile": "۰۹۱۲۱۲۳۴۵۶۷"},  # the same number in Persian digits
        {**GOOD, "mobile": "09120000009", "national_code": "0084575948",
         "card_number": card.translate(PERSIAN)},
        {**GOOD, "mobile": "09120000010", "national_code": "٠٠٨٤٥٧٥٩٤٨"},
        {**GOOD, "mobile": "09120000011"},
    ]).sheet.rows
    assert errors_of(rows[0]) == [("mobile", "Row 3 of the file has the same value."),
                                  ("card_number", "Row 4 of the file has the same value.")]
    assert errors_of(rows[1]) == [("mobile", "Row 2 of the file has the same value.")]
    assert errors_of(rows[2]) == [
        ("national_code", "Row 5 of the file has the same value."),
        ("card_number", "Row 2 of the file has the same value.")]
    assert errors_of(rows[3]) == [("national_code", "Row 4 of the file has the same value.")]
    assert rows[4].errors == []


def test_duplicates_against_the_club_are_rejected_and_printed_cards_are_free(
        db, club, tmp_path):
    existing = factories.member(db, mobile="09121234567", national_code="0084575948",
                                tier_id=club.bronze.id)
    taken_card = factories.card_of(existing)
    printed = factories.card_number(7003)  # printed in a batch, not yet given to anyone
    db.add(Card(number=printed, member_id=None))
    db.flush()
    rows = check(db, tmp_path, [
        {**GOOD, "mobile": "۰۹۱۲۱۲۳۴۵۶۷"},
        {**GOOD, "mobile": "09120000001", "national_code": "0084575948"},
        {**GOOD, "mobile": "09120000002", "card_number": taken_card},
        {**GOOD, "mobile": "09120000003", "card_number": printed},
    ]).sheet.rows
    assert errors_of(rows[0]) == [("mobile", "A member with this mobile number exists")]
    assert errors_of(rows[1]) == [("national_code", "A member with this national code exists")]
    assert errors_of(rows[2]) == [("card_number", "This card already belongs to a member")]
    assert rows[3].errors == []


def test_an_operator_imports_into_their_own_branch_only(db, club, tmp_path):
    rows = check(db, tmp_path, [
        {**GOOD, "branch": None}, {**GOOD, "mobile": "09120000001", "branch": "north"},
        {**GOOD, "mobile": "09120000002", "branch": "شعبه مرکزی"},
    ], branch_id=club.central.id).sheet.rows
    assert rows[0].values["branch"] == club.central.id
    assert errors_of(rows[1]) == [("branch", "You import members of your own branch only.")]
    # Persian names match with or without the ezafe's hamza (شعبهٔ / شعبه).
    assert rows[2].errors == [] and rows[2].values["branch"] == club.central.id


def test_headers_may_be_keys_alone_or_persian_labels_alone(db, club, tmp_path):
    checked = check(db, tmp_path, [GOOD], keys=("first_name", "last_name", "mobile"),
                    headers=["first_name", "نام خانوادگی", "Mobile *"])
    assert checked.sheet.rows[0].errors == []
    assert [column.key for column in checked.sheet.columns] == [
        "first_name", "last_name", "mobile"]


def zip_with(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(("data", "filename", "message"), [
    (b"first_name,last_name\n", "members.xlsx", "This is not an .xlsx file."),
    (b"\xd0\xcf\x11\xe0" + bytes(100), "members.xlsx",
     "This is an old .xls file or has a password: save it as .xlsx without a password."),
    (zip_with({"word/document.xml": b"<w/>"}), "members.xlsx", "This is not an .xlsx file."),
    # A zip bomb: 70 MB of zeros packs into about 70 KB.
    (zip_with({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x/>",
               "xl/worksheets/sheet1.xml": bytes(70 * 1024 * 1024)}), "members.xlsx",
     "The file unpacks to too much data."),
    (zip_with({f"part{index}": b"" for index in range(mi.MAX_ZIP_ENTRIES + 1)}),
     "members.xlsx", "The file unpacks to too much data."),
    (b"PK", "members.csv", "Upload an .xlsx file (Excel 2007 or later)."),
])
def test_uploads_that_are_not_a_bounded_xlsx_are_refused_before_opening(
        tmp_path, data, filename, message):
    with pytest.raises(mi.ImportFileError) as error:
        mi.store_upload(data, tmp_path, filename=filename, staff_user_id=1, now=NOW)
    assert error.value.message == message
    assert list(tmp_path.iterdir()) == []  # nothing kept


def test_an_upload_over_the_size_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(mi, "MAX_FILE_BYTES", 1024 * 1024)
    with pytest.raises(mi.ImportFileError) as error:
        mi.check_upload_bytes(bytes(1024 * 1024 + 1), "members.xlsx")
    assert str(error.value) == "The file is larger than 1 MB."


def test_a_broken_xlsx_that_passes_the_zip_checks_is_refused_by_the_reader(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(zip_with({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x"}))
    with pytest.raises(mi.ImportFileError) as error:
        mi.read_sheet(path, list(mi.BUILTIN_COLUMNS))
    assert error.value.message == "This is not an .xlsx file."


@pytest.mark.parametrize(("headers", "rows", "message"), [
    (["نام (first_name)", "موبایل (mobile)"], [["Sara", "09121234567"]],
     "Required columns are missing: نام خانوادگی (last_name)."),
    (["first_name", "last_name", "mobile", "favourite_food"], [["a", "b", "09121234567", "x"]],
     "Unknown column “favourite_food”: use the template's headings."),
    (["first_name", "last_name", "mobile", "mobile"], [["a", "b", "09121234567", "x"]],
     "The column “mobile” appears twice."),
    (["first_name", None, "last_name", "mobile"], [["a", None, "b", "09121234567"]],
     "Column B has no heading."),
    (["first_name", "last_name", "mobile"], [["a", "b", "09121234567", "surprise"]],
     "Row 2 has a value in column D, which has no heading."),
    (["first_name", "last_name", "mobile"], [], "The file has no member rows."),
    (["first_name", "last_name", "mobile"], [[None, " ", None]],
     "The file has no member rows."),
    ([f"column{index}" for index in range(mi.MAX_COLUMNS + 1)], [],
     f"The file has more than {mi.MAX_COLUMNS} columns."),
])
def test_files_that_cannot_be_imported_at_all_are_refused_whole(
        tmp_path, headers, rows, message):
    book = openpyxl.Workbook()
    book.active.append(headers)
    for row in rows:
        book.active.append(row)
    book.save(tmp_path / "file.xlsx")
    with pytest.raises(mi.ImportFileError) as error:
        mi.read_sheet(tmp_path / "file.xlsx", list(mi.BUILTIN_COLUMNS))
    assert str(error.value) == message


def test_row_count_is_bounded_and_blank_rows_do_not_count(tmp_path, monkeypatch):
    monkeypatch.setattr(mi, "MAX_ROWS", 2)
    rows = [GOOD, {}, {}, {**GOOD, "mobile": "09120000001"}]
    path = factories.import_workbook(tmp_path / "two.xlsx", rows,
                                     keys=("first_name", "last_name", "mobile"))
    sheet = mi.read_sheet(path, list(mi.BUILTIN_COLUMNS))
    assert [row.number for row in sheet.rows] == [2, 5]  # row numbers as Excel shows them
    path = factories.import_workbook(tmp_path / "three.xlsx", [*rows, GOOD],
                                     keys=("first_name", "last_name", "mobile"))
    with pytest.raises(mi.ImportFileError) as error:
        mi.read_sheet(path, list(mi.BUILTIN_COLUMNS))
    assert str(error.value) == "The file has more than 2 rows."


def mixed_file(db, tmp_path):
    """Three good rows (one with a printed card) and two bad ones."""
    printed = factories.card_number(7010)
    db.add(Card(number=printed, member_id=None))
    db.flush()
    return check(db, tmp_path, [
        {**GOOD, "card_number": factories.card_number(7011), "tier": "silver",
         "branch": "central", "birth_date": "۱۳۷۰/۰۱/۱۵", "city": "تهران"},
        {**GOOD, "mobile": "09120000001", "first_name": ""},
        {**GOOD, "mobile": "09120000002", "card_number": printed, "national_code": "0084575948"},
        {**GOOD, "mobile": "0912"},
        {**GOOD, "mobile": "09120000003"},
    ]), printed


def test_commit_imports_the_good_rows_only_with_cards_in_one_transaction(db, club, tmp_path):
    checked, printed = mixed_file(db, tmp_path)
    assert [row.number for row in checked.good] == [2, 4, 6]
    record = mi.import_rows(db, checked, token="t" * 32, filename="members.xlsx",
                       actor=Actor(None, "10.1.2.3"),
                       uploaded_at=NOW, give_welcome_credit=False, now=NOW)
    assert (record.status, record.rows_total, record.rows_imported, record.rows_rejected) == (
        "committed", 5, 3, 2)
    imported = db.scalars(select(Member).order_by(Member.id)).all()
    assert [member.mobile for member in imported] == ["09121234567", "09120000002",
                                                      "09120000003"]
    sara = imported[0]
    assert (sara.first_name, sara.tier.code, sara.home_branch_id, sara.city) == (
        "سارا", "silver", club.central.id, "تهران")
    assert sara.birth_date == date(1991, 4, 4) and sara.joined_at == NOW
    assert [card.number for card in sara.cards] == [factories.card_number(7011)]
    assert sara.cards[0].status == "active"
    # The printed card is now the member's; no second card row was made for it.
    card = db.scalars(select(Card).where(Card.number == printed)).one()
    assert (card.member_id, card.status) == (imported[1].id, "active")
    assert imported[1].national_code == "0084575948" and imported[1].tier.code == "bronze"
    assert imported[2].cards == []
    # No welcome credit unless the admin chose it.
    assert all(member.credit_balance_rials == 0 for member in imported)
    assert db.scalar(select(func.count(LedgerTransaction.id))) == 0
    entry = db.scalars(select(AuditLog).where(AuditLog.action == "import_members")).one()
    assert (entry.ip, entry.entity_id) == ("10.1.2.3", str(record.id))
    assert entry.details == {"file": "members.xlsx", "rows": 5, "imported": 3, "rejected": 2,
                             "welcome_credit_rials": 0}
    stored = db.get(MemberImport, record.id).rejected
    assert [row["row"] for row in stored["rows"]] == [3, 5]


def test_welcome_credit_goes_through_the_ledger_when_chosen(db, club, tmp_path):
    checked, _ = mixed_file(db, tmp_path)
    mi.import_rows(db, checked, token="w" * 32, filename="members.xlsx", actor=Actor(None, ""),
              uploaded_at=NOW, give_welcome_credit=True, now=NOW)
    imported = db.scalars(select(Member)).all()
    assert len(imported) == 3
    for member in imported:
        assert member.credit_balance_rials == 50_000
        assert ledger.balance_from_entries(db, member.id, "credit") == 50_000
        assert ledger.credit_in_lots(db, member.id) == 50_000
        transaction = ledger.find_transaction(db, f"welcome:{member.id}")
        assert (transaction.kind, transaction.reason) == ("welcome", "welcome bonus")
    # Spending it works like any credit: the lots are real.
    sara = imported[0]
    ledger.post(db, member=ledger.lock_member(db, sara.id), idempotency_key="spend-1",
                kind="purchase", movements=[ledger.Movement("credit", -20_000)],
                reason="test", now=NOW)
    assert ledger.credit_in_lots(db, sara.id) == 30_000


def test_a_commit_posted_twice_imports_once(db, club, tmp_path):
    checked, _ = mixed_file(db, tmp_path)
    first = mi.import_rows(db, checked, token="x" * 32, filename="a.xlsx",
                      actor=Actor(None, ""),
                      uploaded_at=NOW, give_welcome_credit=True, now=NOW)
    again = mi.check_file(db, tmp_path / "members.xlsx")
    second = mi.import_rows(db, again, token="x" * 32, filename="a.xlsx",
                       actor=Actor(None, ""),
                       uploaded_at=NOW, give_welcome_credit=True, now=NOW)
    assert second.id == first.id
    assert db.scalar(select(func.count(Member.id))) == 3
    assert db.scalar(select(func.count(MemberImport.id))) == 1
    assert db.scalar(select(func.count(AuditLog.id))) == 1


def test_a_member_created_after_the_check_makes_the_commit_write_nothing(db, club, tmp_path):
    checked, _ = mixed_file(db, tmp_path)
    factories.member(db, mobile="09120000003", tier_id=club.bronze.id)  # meanwhile, at a counter
    db.commit()
    with pytest.raises(BadRequest) as error:
        mi.import_rows(db, checked, token="r" * 32, filename="a.xlsx", actor=Actor(None, ""),
                  uploaded_at=NOW, give_welcome_credit=True, now=NOW)
    assert error.value.field == "file"
    assert db.scalar(select(func.count(Member.id))) == 1
    assert db.scalar(select(func.count(MemberImport.id))) == 0
    assert db.scalar(select(func.count(LedgerTransaction.id))) == 0
    assert db.scalar(select(func.count(AuditLog.id))) == 0


def test_discard_imports_nothing_and_is_recorded(db, club, tmp_path):
    checked, _ = mixed_file(db, tmp_path)
    token = mi.store_upload((tmp_path / "members.xlsx").read_bytes(), tmp_path / "uploads",
                            filename="members.xlsx", staff_user_id=None, now=NOW)
    meta = mi.save_preview(tmp_path / "uploads", token, checked)
    record = mi.discard(db, meta, token=token, actor=Actor(None, "10.0.0.9"), now=NOW)
    assert (record.status, record.rows_total, record.rows_imported, record.rows_rejected) == (
        "discarded", 5, 0, 2)
    assert db.scalar(select(func.count(Member.id))) == 0
    entry = db.scalars(select(AuditLog)).one()
    assert (entry.action, entry.ip) == ("discard_member_import", "10.0.0.9")
    assert mi.discard(db, meta, token=token, actor=Actor(None, ""), now=NOW).id == record.id


def test_result_file_lists_the_rejected_rows_with_reasons_cell_by_cell(db, club, tmp_path):
    checked, _ = mixed_file(db, tmp_path)
    meta = mi.save_preview(tmp_path, "p" * 32, checked)
    data = mi.rejected_workbook(meta["columns"], meta["rejected"])
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book[mi.SHEET_TITLE]
    assert sheet.sheet_view.rightToLeft
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == ["ردیف (source_row)", "نام (first_name)", "نام خانوادگی (last_name)",
                       "موبایل (mobile)", "شماره کارت (card_number)", "کد ملی (national_code)",
                       "تاریخ تولد (birth_date)", "سطح (tier)", "شعبه (branch)", "شهر (city)",
                       "خطاها (errors)"]
    assert rows[1] == [3, None, "احمدی", "09120000001", None, None, None, None, None, None,
                       "first_name: This field is required."]
    assert rows[2] == [5, "سارا", "احمدی", "0912", None, None, None, None, None, None,
                       "mobile: A mobile number looks like 09121234567."]
    assert len(rows) == 3


def test_a_fixed_result_file_uploads_again(db, club, tmp_path):
    checked, _ = mixed_file(db, tmp_path)
    meta = mi.save_preview(tmp_path, "q" * 32, checked)
    book = openpyxl.load_workbook(io.BytesIO(mi.rejected_workbook(meta["columns"],
                                                                  meta["rejected"])))
    sheet = book[mi.SHEET_TITLE]
    sheet["B2"], sheet["D3"] = "Reza", "09120000005"  # the admin fixes both rows
    book.save(tmp_path / "fixed.xlsx")
    fixed = mi.check_file(db, tmp_path / "fixed.xlsx")
    assert [(row.number, row.errors) for row in fixed.sheet.rows] == [(2, []), (3, [])]
    assert fixed.sheet.rows[0].values["first_name"] == "Reza"


def test_uploads_are_stored_privately_under_a_random_token_and_expire(tmp_path):
    data = zip_with({"[Content_Types].xml": b"<x/>", "xl/workbook.xml": b"<x/>"})
    token = mi.store_upload(data, tmp_path, filename="../../etc/members.xlsx",
                            staff_user_id=7, now=NOW)
    assert mi.TOKEN.fullmatch(token)
    path = mi.upload_path(tmp_path, token)
    assert path.read_bytes() == data and (path.stat().st_mode & 0o777) == 0o600
    assert mi.load_meta(tmp_path, token) == {"filename": "members.xlsx", "staff_user_id": 7,
                                             "uploaded_at": NOW.isoformat()}
    assert mi.upload_path(tmp_path, "../" + token) is None
    assert mi.load_meta(tmp_path, "not-a-token") is None
    old = (NOW - timedelta(days=2)).timestamp()
    for stale in tmp_path.iterdir():
        os.utime(stale, (old, old))
    mi.store_upload(data, tmp_path, filename="new.xlsx", staff_user_id=7, now=NOW)
    assert mi.upload_path(tmp_path, token) is None and len(list(tmp_path.iterdir())) == 2
    mi.delete_upload(tmp_path, token)  # already gone: no error


def test_generated_benchmark_file_imports_whole(db, club, tmp_path):
    path = mi.generate_workbook(tmp_path / "bench.xlsx", 40, bad_rows=frozenset({3}))
    checked = mi.check_file(db, path)
    assert (len(checked.good), [row.number for row in checked.rejected]) == (39, [5])
    timings = mi.benchmark(db, tmp_path / "bench", rows=30, now=NOW)
    assert timings["imported"] == 30
    assert db.scalar(select(func.count(Member.id))) == 30


def test_xml_entity_bombs_inside_the_workbook_are_refused(tmp_path):
    """openpyxl parses with defusedxml (a dependency), which refuses entity declarations;
    a billion laughs is refused as a broken file, quickly."""
    assert openpyxl.xml.DEFUSEDXML
    path = factories.import_workbook(tmp_path / "good.xlsx", [GOOD])
    bomb = ('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            + "".join(f'<!ENTITY lol{n} "{"&lol%s;" % (n - 1 or "") * 10}">'
                      for n in range(1, 10))
            + ']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row>'
            '</sheetData></worksheet>')
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(tmp_path / "bomb.xlsx", "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = bomb.encode()
            target.writestr(item, data)
    mi.check_upload_bytes((tmp_path / "bomb.xlsx").read_bytes(), "bomb.xlsx")  # small: passes
    with pytest.raises(mi.ImportFileError) as error:
        mi.read_sheet(tmp_path / "bomb.xlsx", list(mi.BUILTIN_COLUMNS))
    assert error.value.message == "This is not an .xlsx file."
