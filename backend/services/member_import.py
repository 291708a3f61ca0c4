"""Member import (M3): the published .xlsx template, an uploaded file checked row by row,
and its good rows committed in one transaction.

The flow: the admin downloads `template_workbook()` and fills it in; `store_upload`
bounds the upload and keeps it in the instance dir under a random token; `check_file`
reads every row (`read_sheet`, openpyxl's streaming read-only mode) and validates it
(`validate`) with the validators the member form uses, against the other rows of the
file and against the database; the panel shows the preview (`save_preview`); `commit`
imports the good rows — or `discard` imports none — writing a `MemberImport` row (the
idempotency record and the history), the members, their cards, their welcome credit if
the admin chose it, and an audit row, all in one transaction; then the upload is deleted.
`rejected_workbook` writes the refused rows with their reasons, in the template's own
columns, so the admin can fix them and upload that file again.

Speed: the file is read in one pass, validated in memory with one batched query per
identifier kind, and written with executemany (`insert()` with lists of rows), never a
flush per row: 10,000 rows take seconds. `make bench` calls `benchmark()`.

Error messages are English message ids with parameters, translated where they are shown
(the panel, the result file), so a stored preview reads in the viewer's language.
"""

import hashlib
import io
import json
import os
import re
import secrets
import time as timer
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
from email_validator import EmailNotValidError, validate_email
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend import ledger, spreadsheets
from backend.errors import BadRequest
from backend.i18n import N_
from backend.models import Branch, Card, Member, MemberField, MemberImport, Tier, the_club
from backend.services.members import PROFILE_FIELDS, check_profile, clean_custom_value
from backend.unit_of_work import SYSTEM, Actor, unit_of_work
from backend.validators import (
    normalize_mobile,
    parse_gender,
    parse_jalali_or_gregorian_date,
    parse_national_code,
    parse_weight,
)
from card_spec import make_card_number, normalize_digits, parse_card_number

# Bounds on what an upload may be; each is checked before the next step reads more.
MAX_FILE_BYTES = 8 * 1024 * 1024            # 20,000 filled rows are about 2 MB
MAX_UNCOMPRESSED_BYTES = 64 * 1024 * 1024   # zip bombs: the parts' declared sizes
MAX_ZIP_ENTRIES = 500
MAX_ROWS = 20_000                           # data rows, blank rows not counted
MAX_COLUMNS = 60
MAX_CELL_CHARS = 2_000
EXCEL_MAX_ROWS = 1_048_576                  # bounds the scan of a sheet whose size lies
QUERY_CHUNK = 500                           # values per IN (…) when checking the database
INSERT_BATCH = 1_000                        # rows per executemany
UPLOAD_MAX_AGE = timedelta(days=1)          # uploads never committed are deleted after this
PREVIEW_SAMPLE_ROWS = 10

SHEET_TITLE = "اعضا"
NOTES_TITLE = "راهنما"
TOKEN = re.compile(r"[A-Za-z0-9_-]{32}")
# Columns of the result file that an upload of it ignores, so a fixed result file can be
# uploaded again as it is.
SOURCE_ROW, ERRORS = "source_row", "errors"
_HEADER_KEY = re.compile(r"\(\s*([A-Za-z][A-Za-z0-9_]*)\s*\)\s*\*?\s*$")
# For matching tier, branch and header names as people type them: the Arabic letters
# Persian keyboards on Windows still produce, the zero-width non-joiner, and the
# hamza of the ezafe (شعبهٔ and شعبه are one word).
_ARABIC_TO_PERSIAN = str.maketrans({"ي": "ی", "ى": "ی", "ك": "ک", "\u200c": " ",
                                    "\u0654": None})


class ImportFileError(Exception):
    """The file as a whole cannot be imported; `message` is a message id."""

    def __init__(self, message: str, **params):
        super().__init__(message % params if params else message)
        self.message, self.params = message, params


@dataclass(frozen=True)
class Column:
    key: str
    label_fa: str
    kind: str                 # how the cell is validated: see `_CLEANERS`
    required: bool = False
    max_length: int = 64
    example: str = ""
    help_fa: str = ""
    help_en: str = ""

    @property
    def header(self) -> str:
        return f"{self.label_fa} ({self.key})"


BUILTIN_COLUMNS = (
    Column("first_name", "نام", "text", True, 64, "مریم", "", "First name."),
    Column("last_name", "نام خانوادگی", "text", True, 64, "کاظمی", "", "Last name."),
    Column("mobile", "موبایل", "mobile", True, 0, "09351112233",
           "۱۱ رقم که با ۰۹ شروع می‌شود؛ ‎+98‎ و ارقام فارسی هم پذیرفته می‌شود.",
           "11 digits starting 09; +98 and Persian digits are accepted."),
    Column("card_number", "شماره کارت", "card", False, 0, "9900010000000019",
           "۱۶ رقم روی کارت؛ خالی یعنی عضو هنوز کارت ندارد. در قالب «متن» بنویسید.",
           "The 16 digits on the card; empty: no card yet. Keep the cell's format Text."),
    Column("national_code", "کد ملی", "national_code", False, 0, "0084575948",
           "۱۰ رقم با رقم کنترل درست.", "10 digits with a valid check digit."),
    Column("gender", "جنسیت", "gender", False, 0, "زن", "زن یا مرد (f یا m).",
           "Female or male (f or m)."),
    Column("birth_date", "تاریخ تولد", "date", False, 0, "1368/06/31",
           "شمسی مانند ۱۳۶۸/۰۶/۳۱ یا میلادی مانند 1989-09-22.",
           "Jalali like 1368/06/31 or Gregorian like 1989-09-22."),
    Column("wedding_date", "سالگرد ازدواج", "date", False, 0, "1395/02/10",
           "شمسی یا میلادی، مانند تاریخ تولد.", "Jalali or Gregorian, like the birth date."),
    Column("tier", "سطح", "tier", False, 0, "bronze",
           "کد یا نام سطح؛ خالی یعنی پایین‌ترین سطح.", "A tier's code or name; empty: the lowest."),
    Column("branch", "شعبه", "branch", False, 0, "central",
           "کد یا نام شعبه؛ خالی یعنی بدون شعبه.", "A branch's code or name; empty: none."),
    Column("province", "استان", "text", False, 64, "اصفهان"),
    Column("city", "شهر", "text", False, 64, "اصفهان"),
    Column("neighbourhood", "محله", "text", False, 64),
    Column("address", "نشانی", "text", False, 500),
    Column("email", "ایمیل", "email", False, 254, "maryam@example.com"),
    Column("home_phone", "تلفن منزل", "phone", False, 16, "03132221100"),
    Column("work_phone", "تلفن محل کار", "phone", False, 16),
    Column("father_name", "نام پدر", "text", False, 64),
    Column("job", "شغل", "text", False, 64),
    Column("weight_kg", "وزن (کیلوگرم)", "weight", False, 0, "62", "عدد صحیح ۱ تا ۵۰۰.",
           "A whole number from 1 to 500."),
    Column("favourite_colour", "رنگ مورد علاقه", "text", False, 32),
    Column("promotional_opt_out", "بدون پیامک تبلیغاتی", "yes_no", False, 0, "خیر",
           "بله یا خیر؛ خالی یعنی خیر.", "Yes or no; empty: no."),
    Column("notes", "یادداشت", "text", False, 2000),
)
# Columns whose cells the template formats as text, so Excel keeps leading zeros and all
# sixteen digits of a card number.
_TEXT_FORMAT_KINDS = {"mobile", "card", "national_code", "date", "phone"}
_DUPLICATE_KEYS = ("mobile", "national_code", "card_number")
_YES = {"1", "yes", "y", "true", "بله", "بلی", "آری", "x", "✓"}
_NO = {"0", "no", "n", "false", "خیر", "نه"}

# Row error messages (message ids; params in %(name)s form).
REQUIRED = N_("This field is required.")
TOO_LONG = N_("At most %(count)s characters.")
BAD_MOBILE = N_("A mobile number looks like 09121234567.")
BAD_NATIONAL_CODE = N_("This national code is not valid.")
BAD_CARD = N_("A card number has 16 digits and a valid check digit.")
CARD_AS_NUMBER = N_("Store card numbers as text: a number cell keeps only 15 digits.")
BAD_DATE = N_("Enter a date like 1405/08/30.")
BAD_GENDER = N_("Choose a gender.")
BAD_WEIGHT = N_("Enter a weight between 1 and 500.")
BAD_EMAIL = N_("Enter an email address.")
BAD_PHONE = N_("Enter a phone number.")
BAD_YES_NO = N_("Write yes or no.")
UNKNOWN_TIER = N_("No tier has this code or name.")
UNKNOWN_BRANCH = N_("No active branch has this code or name.")
OTHER_BRANCH = N_("You import members of your own branch only.")
DUPLICATE_IN_FILE = N_("Row %(row)s of the file has the same value.")
MOBILE_EXISTS = N_("A member with this mobile number exists")
NATIONAL_CODE_EXISTS = N_("A member with this national code exists")
CARD_TAKEN = N_("This card already belongs to a member")


@dataclass
class Row:
    number: int                 # the row's number in the sheet; the header is row 1
    texts: list[str]            # the cells as text, in the file's column order
    cells: dict                 # key -> the cell's value as openpyxl read it
    values: dict = field(default_factory=dict)    # key -> cleaned value
    errors: list[dict] = field(default_factory=list)

    def error(self, column: str, message: str, **params) -> None:
        self.errors.append({"column": column, "message": message, "params": params})


@dataclass
class Sheet:
    columns: list[Column | None]   # in file order; None for the result file's own columns
    headers: list[str]             # as written in the file
    rows: list[Row]


@dataclass
class Checked:
    sheet: Sheet

    @property
    def good(self) -> list[Row]:
        return [row for row in self.sheet.rows if not row.errors]

    @property
    def rejected(self) -> list[Row]:
        return [row for row in self.sheet.rows if row.errors]

    def digest(self) -> str:
        """Names exactly which rows would be imported: the preview shows it and the
        commit compares it, so what is committed is what the admin saw."""
        numbers = ",".join(str(row.number) for row in self.good)
        return hashlib.sha256(numbers.encode()).hexdigest()[:32]


# ---------------------------------------------------------------- columns and template

def import_columns(session: Session) -> list[Column]:
    """The template's columns: the built-in ones, then the admin's active custom fields."""
    fields = session.scalars(select(MemberField).where(MemberField.is_active)
                             .order_by(MemberField.position, MemberField.id)).all()
    custom = []
    for member_field in fields:
        help_en = {"number": "A whole number.", "date": "A Jalali or Gregorian date.",
                   "choice": "One of: " + ", ".join(member_field.choices or [])}
        custom.append(Column(f"custom_{member_field.key}",
                             member_field.label_fa or member_field.label, "custom",
                             member_field.required, 200, "",
                             "، ".join(member_field.choices or []),
                             help_en.get(member_field.kind, member_field.label)))
    return [*BUILTIN_COLUMNS, *custom]


def template_workbook(session: Session) -> bytes:
    """The published format: a right-to-left sheet with Persian headers carrying their
    English keys, and a notes sheet that explains every column with an example."""
    columns = import_columns(session)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = SHEET_TITLE
    sheet.sheet_view.rightToLeft = True
    sheet.append(spreadsheets.row(sheet, [column.header for column in columns]))
    required_fill = PatternFill("solid", fgColor="FDE68A")
    other_fill = PatternFill("solid", fgColor="E5E7EB")
    for index, column in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True)
        cell.fill = required_fill if column.required else other_fill
        letter = cell.column_letter
        sheet.column_dimensions[letter].width = max(14, len(column.header) + 4)
        if column.kind in _TEXT_FORMAT_KINDS:
            sheet.column_dimensions[letter].number_format = "@"
    sheet.freeze_panes = "A2"
    for kind, options in (("gender", '"زن,مرد"'), ("yes_no", '"بله,خیر"')):
        for index, column in enumerate(columns, start=1):
            if column.kind == kind:
                letter = sheet.cell(row=1, column=index).column_letter
                rule = DataValidation(type="list", formula1=options, allow_blank=True)
                rule.add(f"{letter}2:{letter}{MAX_ROWS + 1}")
                sheet.add_data_validation(rule)

    notes = book.create_sheet(NOTES_TITLE)
    notes.sheet_view.rightToLeft = True
    lines = [
        "راهنمای ورود گروهی اعضا",
        "هر ردیف برگهٔ «اعضا» یک عضو است. ستون‌های زرد لازم‌اند. سطر عنوان را تغییر ندهید.",
        f"حداکثر {MAX_ROWS:,} ردیف و فایل تا {MAX_FILE_BYTES // (1024 * 1024)} مگابایت.",
        "موبایل، کد ملی و شماره کارت نباید تکراری باشند، نه در فایل و نه در باشگاه.",
        "ارقام فارسی، عربی و لاتین همه پذیرفته می‌شوند.",
        "Member import: one member per row of the sheet; yellow columns are required; keep "
        "the header row as it is.",
    ]
    for line in lines:
        notes.append(spreadsheets.row(notes, [line]))
    notes.append([])
    notes.append(spreadsheets.row(notes, ["ستون", "کلید", "لازم", "نمونه", "توضیح",
                                          "Description"]))
    heading_row = notes.max_row
    for column in columns:
        notes.append(spreadsheets.row(notes, [
            column.label_fa, column.key, "بله" if column.required else "", column.example,
            column.help_fa, column.help_en]))
    for cell in notes[heading_row]:
        cell.font = Font(bold=True)
    notes["A1"].font = Font(bold=True, size=13)
    for letter, width in zip("ABCDEF", (22, 22, 8, 22, 60, 60), strict=True):
        notes.column_dimensions[letter].width = width
    for row in notes.iter_rows(min_row=heading_row + 1):
        for cell in row:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- the upload on disk

def check_upload_bytes(data: bytes, filename: str) -> None:
    """Refuse anything that is not a bounded .xlsx before openpyxl opens it."""
    if not filename.lower().endswith(".xlsx"):
        raise ImportFileError(N_("Upload an .xlsx file (Excel 2007 or later)."))
    if len(data) > MAX_FILE_BYTES:
        raise ImportFileError(N_("The file is larger than %(size)s MB."),
                              size=MAX_FILE_BYTES // (1024 * 1024))
    if data[:4] == b"\xd0\xcf\x11\xe0":  # an OLE container: .xls, or an encrypted .xlsx
        raise ImportFileError(N_("This is an old .xls file or has a password: save it as "
                                 ".xlsx without a password."))
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = archive.infolist()
            names = {entry.filename for entry in entries}
    except (zipfile.BadZipFile, ValueError, OSError):
        raise ImportFileError(N_("This is not an .xlsx file.")) from None
    if len(entries) > MAX_ZIP_ENTRIES or \
            sum(entry.file_size for entry in entries) > MAX_UNCOMPRESSED_BYTES:
        # zipfile never inflates a part past its declared size, so the sum bounds memory.
        raise ImportFileError(N_("The file unpacks to too much data."))
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise ImportFileError(N_("This is not an .xlsx file."))


def new_token() -> str:
    return secrets.token_urlsafe(24)  # 32 characters of [A-Za-z0-9_-]


def _paths(directory: Path, token: str) -> tuple[Path, Path]:
    if not TOKEN.fullmatch(token or ""):
        raise FileNotFoundError(token)
    return directory / f"{token}.xlsx", directory / f"{token}.json"


def store_upload(data: bytes, directory: Path, *, filename: str, staff_user_id: int | None,
                 now: datetime) -> str:
    """Check the bytes and keep them under a new random token; returns the token."""
    check_upload_bytes(data, filename)
    directory.mkdir(parents=True, exist_ok=True)
    remove_stale_uploads(directory, now)
    token = new_token()
    upload_path, meta_path = _paths(directory, token)
    descriptor = os.open(upload_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as target:
        target.write(data)
    _write_json(meta_path, {"filename": Path(filename).name[:255],
                            "staff_user_id": staff_user_id, "uploaded_at": now.isoformat()})
    return token


def upload_path(directory: Path, token: str) -> Path | None:
    try:
        path, _ = _paths(directory, token)
    except FileNotFoundError:
        return None
    return path if path.exists() else None


def load_meta(directory: Path, token: str) -> dict | None:
    """What `store_upload` and `save_preview` wrote for this token, or None."""
    try:
        _, meta_path = _paths(directory, token)
        return json.loads(meta_path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def delete_upload(directory: Path, token: str) -> None:
    try:
        paths = _paths(directory, token)
    except FileNotFoundError:
        return
    for path in paths:
        path.unlink(missing_ok=True)


def remove_stale_uploads(directory: Path, now: datetime) -> int:
    """Delete uploads nobody committed or discarded within UPLOAD_MAX_AGE."""
    cutoff = now.timestamp() - UPLOAD_MAX_AGE.total_seconds()
    removed = 0
    for path in directory.glob("*.*"):
        if path.suffix in (".xlsx", ".json") and path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def _write_json(path: Path, data: dict) -> None:
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    temporary.chmod(0o600)
    temporary.replace(path)


def save_preview(directory: Path, token: str, checked: Checked) -> dict:
    """Keep the preview next to the upload, so the preview pages are not re-read from
    the workbook; the commit checks the file again and compares `digest`."""
    _, meta_path = _paths(directory, token)
    meta = load_meta(directory, token) or {}
    good = checked.good
    sample_keys = ("first_name", "last_name", "mobile", "card_number", "tier")
    meta.update({
        "rows_total": len(checked.sheet.rows),
        "rows_good": len(good),
        "digest": checked.digest(),
        "columns": result_columns(checked.sheet),
        "rejected": [rejected_entry(checked.sheet, row) for row in checked.rejected],
        "sample": [{key: _display(row.values.get(key)) for key in sample_keys}
                   | {"row": row.number} for row in good[:PREVIEW_SAMPLE_ROWS]],
    })
    _write_json(meta_path, meta)
    return meta


def _display(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Tier):
        return value.name_fa or value.name
    return str(value)


def result_columns(sheet: Sheet) -> list[list[str]]:
    return [[column.key, header]
            for column, header in zip(sheet.columns, sheet.headers, strict=True) if column]


def rejected_entry(sheet: Sheet, row: Row) -> dict:
    """A refused row as stored: its cells under `result_columns`, and its errors."""
    values = [text for column, text in zip(sheet.columns, row.texts, strict=True) if column]
    return {"row": row.number, "values": values, "errors": row.errors}


# ---------------------------------------------------------------- reading

def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() \
            else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    return "".join(ch for ch in text if ch >= " " or ch in "\n\t").strip()


def _match_text(text: str) -> str:
    return " ".join(normalize_digits(text).translate(_ARABIC_TO_PERSIAN).lower().split())


def _header_key(header: str) -> str:
    """`label (key)` as the template writes it gives `key`; anything else is itself."""
    text = header.strip().rstrip("*").strip()
    found = _HEADER_KEY.search(text)
    return (found.group(1) if found else text).lower()


def _column_for(header: str, by_key: dict[str, Column], by_label: dict[str, Column]):
    """The column a header names — by its key, or by the Persian label alone — or None."""
    key = _header_key(header)
    if key in by_key:
        return by_key[key]
    return by_label.get(_match_text(header.strip().rstrip("*")))


def read_sheet(path: Path, columns: list[Column]) -> Sheet:
    """Read the members sheet in one streaming pass. Raises ImportFileError for a file
    that cannot be imported at all (bad headers, too many rows or columns)."""
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 — openpyxl raises many kinds for a broken file
        raise ImportFileError(N_("This is not an .xlsx file.")) from None
    try:
        if SHEET_TITLE in book.sheetnames:
            worksheet = book[SHEET_TITLE]
        elif book.worksheets:
            worksheet = book.worksheets[0]
        else:
            raise ImportFileError(N_("The file has no sheet."))
        return _read_rows(worksheet, columns)
    except ImportFileError:
        raise
    except Exception:  # noqa: BLE001
        raise ImportFileError(N_("This is not an .xlsx file.")) from None
    finally:
        book.close()


def _read_rows(worksheet, columns: list[Column]) -> Sheet:
    by_key = {column.key: column for column in columns}
    by_label = {_match_text(column.label_fa): column for column in columns}
    lines = worksheet.iter_rows(values_only=True, max_row=EXCEL_MAX_ROWS,
                                max_col=MAX_COLUMNS + 1)
    header_cells = next(lines, None)
    if header_cells is None:
        raise ImportFileError(N_("The file is empty."))
    if len(header_cells) > MAX_COLUMNS and header_cells[MAX_COLUMNS] is not None:
        raise ImportFileError(N_("The file has more than %(count)s columns."),
                              count=MAX_COLUMNS)
    headers = [_cell_text(value)[:200] for value in header_cells[:MAX_COLUMNS]]
    while headers and not headers[-1]:
        headers.pop()
    width = len(headers)
    file_columns: list[Column | None] = []
    seen: set[str] = set()
    for index, header in enumerate(headers):
        if not header:
            raise ImportFileError(N_("Column %(column)s has no heading."),
                                  column=_column_letter(index))
        column = _column_for(header, by_key, by_label)
        if column is None and _header_key(header) not in (SOURCE_ROW, ERRORS):
            raise ImportFileError(N_("Unknown column “%(header)s”: use the template's headings."),
                                  header=header)
        if column is not None:
            if column.key in seen:
                raise ImportFileError(N_("The column “%(header)s” appears twice."),
                                      header=header)
            seen.add(column.key)
        file_columns.append(column)
    missing = [column.header for column in columns if column.required and column.key not in seen]
    if missing:
        raise ImportFileError(N_("Required columns are missing: %(columns)s."),
                              columns=", ".join(missing))

    rows: list[Row] = []
    for number, values in enumerate(lines, start=2):
        if not any(_cell_text(value) for value in values if value is not None):
            continue
        beyond = [index for index in range(width, len(values))
                  if values[index] is not None and _cell_text(values[index])]
        if beyond:
            raise ImportFileError(
                N_("Row %(row)s has a value in column %(column)s, which has no heading."),
                row=number, column=_column_letter(beyond[0]))
        if len(rows) == MAX_ROWS:
            raise ImportFileError(N_("The file has more than %(count)s rows."), count=MAX_ROWS)
        cells = values[:width] + (None,) * (width - len(values))
        texts = [_cell_text(value)[:MAX_CELL_CHARS + 1] for value in cells]
        rows.append(Row(number, texts, {column.key: value for column, value
                                        in zip(file_columns, cells, strict=True) if column}))
    if not rows:
        raise ImportFileError(N_("The file has no member rows."))
    return Sheet(file_columns, headers, rows)


def _column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(index + 1)


# ---------------------------------------------------------------- validating

@dataclass
class _Lookups:
    tiers: dict[str, Tier]
    lowest_tier: Tier
    branches: dict[str, Branch]
    custom: dict[str, MemberField]
    forced_branch_id: int | None


def _lookups(session: Session, branch_id: int | None) -> _Lookups:
    tiers = session.scalars(select(Tier).order_by(Tier.rank, Tier.id)).all()
    if not tiers:
        raise ImportFileError(N_("The club has no tier yet: add one before importing."))
    tier_names = {}
    for tier in reversed(tiers):  # on a clash of names, the lower rank wins
        for name in (tier.code, tier.name, tier.name_fa):
            if name:
                tier_names[_match_text(name)] = tier
    branches = {}
    for branch in session.scalars(select(Branch).where(Branch.is_active).order_by(Branch.id)):
        for name in (branch.code, branch.name):
            branches.setdefault(_match_text(name), branch)
    custom = {field.key: field for field in session.scalars(
        select(MemberField).where(MemberField.is_active))}
    return _Lookups(tier_names, tiers[0], branches, custom, branch_id)


class _Refused(Exception):
    """A cell's value is refused with this row error message."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def _national_code(text, original, key, lookups):
    digits = normalize_digits(text)
    if isinstance(original, int | float) and digits.isdigit():
        digits = digits.zfill(10)  # a number cell drops leading zeros
    return parse_national_code(digits)


def _card(text, original, key, lookups):
    if isinstance(original, float) or (isinstance(original, int) and len(str(original)) > 15):
        raise _Refused(CARD_AS_NUMBER)
    return parse_card_number(text)


def _date(text, original, key, lookups):
    if isinstance(original, datetime):
        return original.date()
    if isinstance(original, date):
        return original
    return parse_jalali_or_gregorian_date(text)


def _gender(text, original, key, lookups):
    try:
        return parse_gender(_match_text(text), spelled=True)
    except ValueError:
        raise _Refused(BAD_GENDER) from None


def _yes_no(text, original, key, lookups):
    answer = _match_text(text)
    if answer not in _YES | _NO:
        raise _Refused(BAD_YES_NO)
    return answer in _YES


def _weight(text, original, key, lookups):
    try:
        return parse_weight(text)
    except ValueError:
        raise _Refused(BAD_WEIGHT) from None


def _phone(text, original, key, lookups):
    digits = normalize_digits(text).replace(" ", "").replace("-", "")
    if not digits.lstrip("+").isdigit() or not 4 <= len(digits) <= 16:
        raise _Refused(BAD_PHONE)
    return digits


def _email(text, original, key, lookups):
    validate_email(text, check_deliverability=False)
    return text


def _tier(text, original, key, lookups):
    tier = lookups.tiers.get(_match_text(text))
    if tier is None:
        raise _Refused(UNKNOWN_TIER)
    return tier


def _branch(text, original, key, lookups):
    branch = lookups.branches.get(_match_text(text))
    if branch is None:
        raise _Refused(UNKNOWN_BRANCH)
    if lookups.forced_branch_id is not None and branch.id != lookups.forced_branch_id:
        raise _Refused(OTHER_BRANCH)
    return branch.id


def _custom(text, original, key, lookups):
    return clean_custom_value(lookups.custom[key[len("custom_"):]], text)


# Column kind → its cleaner: (text, the cell as read, column key, lookups) → the value.
# A cleaner refuses with _Refused(message), or with the ValueError of a shared validator
# (mapped to a message by kind in `_clean`), or BadRequest from the member service.
_CLEANERS = {
    "text": lambda text, original, key, lookups: text,
    "mobile": lambda text, original, key, lookups: normalize_mobile(text),
    "national_code": _national_code,
    "card": _card,
    "date": _date,
    "gender": _gender,
    "yes_no": _yes_no,
    "weight": _weight,
    "phone": _phone,
    "email": _email,
    "tier": _tier,
    "branch": _branch,
    "custom": _custom,
}


def _clean(row: Row, column: Column, lookups: _Lookups) -> None:
    """Validate one cell of a row into `row.values`, or note its error."""
    key, original = column.key, row.cells.get(column.key)
    text = _cell_text(original)
    if not text:
        if column.required:
            row.error(key, REQUIRED)
        elif column.kind == "tier":
            row.values[key] = lookups.lowest_tier
        elif column.kind == "branch":
            row.values[key] = lookups.forced_branch_id
        return
    if len(text) > (column.max_length or MAX_CELL_CHARS):
        row.error(key, TOO_LONG, count=column.max_length or MAX_CELL_CHARS)
        return
    kind = column.kind
    try:
        row.values[key] = _CLEANERS[kind](text, original, key, lookups)
    except _Refused as refusal:
        row.error(key, refusal.message)
    except EmailNotValidError:  # a ValueError too: caught first
        row.error(key, BAD_EMAIL)
    except ValueError:  # the validators' refusals (CardNumberError is a ValueError)
        row.error(key, {"mobile": BAD_MOBILE, "national_code": BAD_NATIONAL_CODE,
                        "card": BAD_CARD, "date": BAD_DATE}[kind])
    except BadRequest as error:
        row.error(key, error.message.split(": ", 1)[-1])


def validate(session: Session, sheet: Sheet, *, branch_id: int | None = None) -> Checked:
    """Check every row: each cell with the member form's validators, identifiers against
    the other rows and the database. `branch_id` limits an operator's import to their
    branch. Reads the database, writes nothing."""
    lookups = _lookups(session, branch_id)
    present = [column for column in sheet.columns if column is not None]
    present_keys = {column.key for column in present}
    for row in sheet.rows:
        for column in present:
            _clean(row, column, lookups)
        if "tier" not in present_keys:
            row.values["tier"] = lookups.lowest_tier
        if "branch" not in present_keys:
            row.values["branch"] = lookups.forced_branch_id
    _check_duplicates_in_file(sheet.rows)
    _check_against_database(session, sheet.rows)
    return Checked(sheet)


def _check_duplicates_in_file(rows: list[Row]) -> None:
    for key in _DUPLICATE_KEYS:
        seen: dict[str, list[Row]] = {}
        for row in rows:
            value = row.values.get(key)
            if value:
                seen.setdefault(value, []).append(row)
        for same in seen.values():
            if len(same) < 2:
                continue
            # Every copy is refused: the file does not say which one is right.
            for row in same:
                other = next(item for item in same if item is not row)
                row.error(key, DUPLICATE_IN_FILE, row=other.number)


def _chunks(items: list, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _existing(session: Session, column, values: set[str]) -> set[str]:
    found: set[str] = set()
    for chunk in _chunks(sorted(values), QUERY_CHUNK):
        found.update(session.scalars(select(column).where(column.in_(chunk))))
    return found


def _check_against_database(session: Session, rows: list[Row]) -> None:
    def values_of(key):
        return {row.values[key] for row in rows if row.values.get(key)}

    mobiles = _existing(session, Member.mobile, values_of("mobile"))
    codes = _existing(session, Member.national_code, values_of("national_code"))
    taken_cards: set[str] = set()
    for chunk in _chunks(sorted(values_of("card_number")), QUERY_CHUNK):
        taken_cards.update(session.scalars(select(Card.number).where(
            Card.number.in_(chunk), Card.member_id.is_not(None))))
    for row in rows:
        if row.values.get("mobile") in mobiles:
            row.error("mobile", MOBILE_EXISTS)
        if row.values.get("national_code") in codes:
            row.error("national_code", NATIONAL_CODE_EXISTS)
        if row.values.get("card_number") in taken_cards:
            row.error("card_number", CARD_TAKEN)


def check_file(session: Session, path: Path, *, branch_id: int | None = None) -> Checked:
    """Read and validate an upload (see `read_sheet` and `validate`)."""
    return validate(session, read_sheet(path, import_columns(session)), branch_id=branch_id)


# ---------------------------------------------------------------- committing

def find_import(session: Session, token: str) -> MemberImport | None:
    return session.scalars(select(MemberImport).where(MemberImport.token == token)).one_or_none()


def _member_row(row: Row, now: datetime) -> dict:
    values = row.values
    profile = {key: values.get(key, None if key == "weight_kg" else "")
               for key in PROFILE_FIELDS}
    profile["promotional_opt_out"] = bool(values.get("promotional_opt_out", False))
    custom = {key[len("custom_"):]: value for key, value in values.items()
              if key.startswith("custom_") and value}
    return {"first_name": values["first_name"], "last_name": values["last_name"],
            "mobile": values["mobile"], "national_code": values.get("national_code") or None,
            "birth_date": values.get("birth_date"), "wedding_date": values.get("wedding_date"),
            "tier_id": values["tier"].id, "home_branch_id": values.get("branch"),
            "referrer_id": None, "joined_at": now, "custom_fields": custom,
            "is_gift_account": False, "credit_balance_rials": 0, "points_balance": 0,
            "total_spend_rials": 0, "purchase_count": 0, "lock_version": 0,
            **check_profile(profile)}


def import_rows(session: Session, checked: Checked, *, token: str, filename: str,
           actor: Actor, uploaded_at: datetime,
           give_welcome_credit: bool, now: datetime) -> MemberImport:
    """Import the good rows of `checked` in one transaction, with their cards, their
    welcome credit (when `give_welcome_credit` and the club has one) and an audit row.

    Idempotent by `token`: a second call returns the first call's MemberImport and
    writes nothing. Raises BadRequest("file", …) and writes nothing when the database
    changed under the import (e.g. a member with one of the mobiles was created since
    the file was checked)."""
    existing = find_import(session, token)
    if existing is not None:
        return existing
    club = the_club(session)
    welcome = club.welcome_credit_rials if give_welcome_credit and club is not None else 0
    good, rejected = checked.good, checked.rejected
    record = MemberImport(
        token=token, staff_user_id=actor.staff_user_id, filename=filename[:255],
        status="committed",
        rows_total=len(checked.sheet.rows), rows_imported=len(good),
        rows_rejected=len(rejected), welcome_credit_rials=welcome, uploaded_at=uploaded_at,
        finished_at=now, rejected={
            "columns": result_columns(checked.sheet),
            "rows": [rejected_entry(checked.sheet, row) for row in rejected]})
    # The unique token and the members' mobiles are checked by the database as the unit
    # commits: a clash rolls the whole import back and is answered here, outside it.
    try:
        with unit_of_work(session, actor) as work:
            session.add(record)
            session.flush()  # the unique token first: a concurrent second commit stops here
            for batch in _chunks(good, INSERT_BATCH):
                # Plain executemany, no RETURNING: psycopg sends one short statement down a
                # pipeline, where a RETURNING batch becomes one huge statement to parse.
                session.execute(insert(Member.__table__),
                                [_member_row(row, now) for row in batch])
            member_ids = _ids_by_mobile(session, [row.values["mobile"] for row in good])
            _attach_cards(session, good, member_ids, now)
            if welcome:
                ledger.post_opening_credits(
                    session, [ledger.OpeningCredit(member_id, f"welcome:{member_id}", welcome)
                              for member_id in member_ids],
                    kind="welcome", reason="welcome bonus", now=now)
            work.audit("import_members", "member_import", record.id,
                       {"file": record.filename, "rows": record.rows_total,
                        "imported": record.rows_imported, "rejected": record.rows_rejected,
                        "welcome_credit_rials": welcome})
    except IntegrityError:
        existing = find_import(session, token)
        if existing is not None:  # the same commit, posted twice at once
            return existing
        raise BadRequest("file", N_("The club's members changed while importing; check "
                                    "the file again.")) from None
    return record


def _ids_by_mobile(session: Session, mobiles: list[str]) -> list[int]:
    """The new members' ids in the order of `mobiles` (unique per member)."""
    ids: dict[str, int] = {}
    for chunk in _chunks(mobiles, QUERY_CHUNK):
        ids.update(session.execute(select(Member.mobile, Member.id)
                                   .where(Member.mobile.in_(chunk))).all())
    return [ids[mobile] for mobile in mobiles]


def _attach_cards(session: Session, rows: list[Row], member_ids: list[int],
                  now: datetime) -> None:
    """Cards in the rows become the members' active cards: a number already in the card
    table without a member (a printed batch) is assigned, any other is created."""
    wanted = {row.values["card_number"]: member_id
              for row, member_id in zip(rows, member_ids, strict=True)
              if row.values.get("card_number")}
    unassigned: dict[str, int] = {}
    for chunk in _chunks(sorted(wanted), QUERY_CHUNK):
        unassigned.update(session.execute(select(Card.number, Card.id).where(
            Card.number.in_(chunk), Card.member_id.is_(None))).all())
    card = Card.__table__
    updates = [{"card_id": unassigned[number], "new_member_id": member_id}
               for number, member_id in wanted.items() if number in unassigned]
    for batch in _chunks(updates, INSERT_BATCH):
        session.execute(update(card).where(card.c.id == bindparam("card_id"))
                        .values(member_id=bindparam("new_member_id"), status="active"), batch)
    new_cards = [{"number": number, "member_id": member_id, "status": "active",
                  "issued_at": now}
                 for number, member_id in wanted.items() if number not in unassigned]
    for batch in _chunks(new_cards, INSERT_BATCH):
        session.execute(insert(Card.__table__), batch)


def discard(session: Session, meta: dict, *, token: str, actor: Actor,
            now: datetime) -> MemberImport:
    """Import none of the rows: record the decision (with the refused rows, for the
    history) and an audit row. Idempotent by `token` like `commit`."""
    existing = find_import(session, token)
    if existing is not None:
        return existing
    rejected = meta.get("rejected", [])
    try:
        with unit_of_work(session, actor) as work:
            record = MemberImport(
                token=token, staff_user_id=actor.staff_user_id,
                filename=meta.get("filename", "")[:255], status="discarded",
                rows_total=meta.get("rows_total", len(rejected)), rows_imported=0,
                rows_rejected=len(rejected),
                uploaded_at=datetime.fromisoformat(meta["uploaded_at"]), finished_at=now,
                rejected={"columns": meta.get("columns", []), "rows": rejected})
            session.add(record)
            session.flush()
            work.audit("discard_member_import", "member_import", record.id,
                       {"file": record.filename, "rows": record.rows_total})
    except IntegrityError:  # the same discard, posted twice at once
        existing = find_import(session, token)
        if existing is None:
            raise
        return existing
    return record


# ---------------------------------------------------------------- the result file

def english_explanation(error: dict) -> str:
    message = error["message"]
    return f"{error['column']}: {message % error['params'] if error['params'] else message}"


def rejected_workbook(columns: list[list[str]], rows: list[dict],
                      explain: Callable[[dict], str] = english_explanation) -> bytes:
    """The refused rows with their reasons: the source row number, the row's own cells
    under the file's own headings, and the reasons. Uploading this file again (after
    fixing the rows) works: the import ignores the first and last columns."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(SHEET_TITLE)
    sheet.sheet_view.rightToLeft = True
    sheet.freeze_panes = "A2"
    sheet.append(spreadsheets.row(sheet, [f"ردیف ({SOURCE_ROW})",
                                          *[header for _, header in columns],
                                          f"خطاها ({ERRORS})"]))
    for row in rows:
        sheet.append(spreadsheets.row(sheet, [
            row["row"], *row["values"][:len(columns)],
            "\n".join(explain(error) for error in row["errors"])]))
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


# ---------------------------------------------------------------- the benchmark

def _national_code(serial: int) -> str:
    body = f"{serial % 10**9:09d}"
    remainder = sum(int(body[i]) * (10 - i) for i in range(9)) % 11
    check = remainder if remainder < 2 else 11 - remainder
    return body + str(check)


PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")


def generate_workbook(path: Path, count: int, *, first_serial: int = 1,
                      card_prefix: str = "990009", bad_rows: frozenset[int] = frozenset()
                      ) -> Path:
    """A filled template of `count` members (mobiles 0930…, cards `card_prefix`…, valid
    national codes), half its dates Jalali in Persian digits; the data rows whose index
    (from 0) is in `bad_rows` get an invalid mobile. For tests and the benchmark."""
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(SHEET_TITLE)
    keys = ("first_name", "last_name", "mobile", "card_number", "national_code", "gender",
            "birth_date", "city")
    by_key = {column.key: column for column in BUILTIN_COLUMNS}
    sheet.append([by_key[key].header for key in keys])
    for index in range(count):
        serial = first_serial + index
        birth = f"13{60 + serial % 20}/{1 + serial % 12:02d}/{1 + serial % 28:02d}"
        sheet.append([
            "مریم" if serial % 2 else "Ali", f"Member {serial}",
            "0912" if index in bad_rows else f"0930{serial % 10**7:07d}",
            make_card_number(card_prefix, serial), _national_code(1_000_000 + serial),
            "زن" if serial % 2 else "m",
            birth.translate(PERSIAN_DIGITS) if serial % 2 else f"19{70 + serial % 30}-05-17",
            "اصفهان"])
    book.save(path)
    return path


def benchmark(session: Session, directory: Path, *, rows: int = 10_000,
              now: datetime) -> dict:
    """Generate, check and commit a `rows`-row file into the club behind `session` (it
    needs a tier); returns the seconds each step took. The caller owns the database."""
    directory.mkdir(parents=True, exist_ok=True)
    started = timer.perf_counter()
    path = generate_workbook(directory / "benchmark.xlsx", rows)
    generated = timer.perf_counter()
    sheet = read_sheet(path, import_columns(session))
    read = timer.perf_counter()
    checked = validate(session, sheet)
    validated = timer.perf_counter()
    record = import_rows(session, checked, token=new_token(), filename=path.name,
                    actor=SYSTEM, uploaded_at=now, give_welcome_credit=True,
                    now=now)
    committed = timer.perf_counter()
    return {"rows": rows, "imported": record.rows_imported,
            "file_bytes": path.stat().st_size, "generate_s": generated - started,
            "read_s": read - generated, "validate_s": validated - read,
            "commit_s": committed - validated, "import_s": committed - generated}
