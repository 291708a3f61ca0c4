"""Reports as Excel workbooks (R4): one sheet per table, an "about" sheet with the filters,
and the report's charts as native Excel charts over the sheet's own cells.

Headers in the reader's language; Persian sheets are right to left; numbers are numbers
(money in the club's display unit, percentages as fractions with a % format); dates are
Jalali text (`1405/08/30`, Excel has no Jalali calendar) in Persian and real dates in
English; times are Tehran's."""

import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import jdatetime
from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from backend import spreadsheets
from backend.engine.calendar import CLUB_TIMEZONE
from backend.i18n import N_, amount_in_unit
from backend.services.reports.periods import Period, jalali
from backend.services.reports.segments import SEGMENT_TITLES
from backend.services.reports.tables import Column, Table

MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
_SHEET_NAME_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
NUMBER_FORMATS = {"int": "#,##0", "money": "#,##0", "percent": "0.0%", "float": "#,##0.00"}


@dataclass(frozen=True)
class About:
    report: str
    period: Period
    compared: Period | None
    branch: str
    tier: str
    generated_at: datetime


def jalali_text(day) -> str:
    return jalali(day).strftime("%Y/%m/%d")


def _datetime_value(moment: datetime, language: str):
    local = moment.astimezone(CLUB_TIMEZONE)
    if language == "fa":
        return jdatetime.datetime.fromgregorian(datetime=local).strftime("%Y/%m/%d %H:%M")
    return local.replace(tzinfo=None)


def cell_value(value, kind: str, language: str, unit: str, translate: Callable[[str], str]):
    """A report value as the cell should hold it."""
    if value is None:
        return None
    if kind == "money":
        return amount_in_unit(int(value), unit)
    if kind in ("int", "percent", "float"):
        return value
    if kind == "datetime":
        return _datetime_value(value, language)
    if kind in ("date", "day", "week"):
        return jalali_text(value) if language == "fa" else value
    if kind == "month":
        return jalali(value).strftime("%Y/%m") if language == "fa" else value.strftime("%Y-%m")
    if kind == "segment":
        return translate(SEGMENT_TITLES.get(value, value))
    if kind == "msgid":
        return translate(value)
    return str(value)


def _sheet_title(title: str, used: set[str]) -> str:
    name = _SHEET_NAME_FORBIDDEN.sub(" ", title)[:31] or "Sheet"
    candidate, number = name, 2
    while candidate in used:
        suffix = f" {number}"
        candidate, number = name[:31 - len(suffix)] + suffix, number + 1
    used.add(candidate)
    return candidate


def workbook(tables: list[Table], about: About, *, language: str, unit: str,
             title: Callable[[Column], str], translate: Callable[[str], str]) -> bytes:
    """The workbook's bytes. `title` words a column header; `translate` a msgid."""
    # Write-only: rows stream out as they are added, several times faster for the long
    # lists (a month of purchases is tens of thousands of rows).
    book = Workbook(write_only=True)
    used: set[str] = set()
    info = book.create_sheet(_sheet_title(translate(N_("Report")), used))
    info.sheet_view.rightToLeft = language == "fa"
    info.column_dimensions["A"].width = 18
    info.column_dimensions["B"].width = 40
    unit_name = translate(N_("toman")) if unit == "toman" else translate(N_("rials"))
    rows = [(translate(N_("Report")), about.report),
            (translate(N_("Period")), _period_text(about.period, language))]
    if about.compared is not None:
        rows.append((translate(N_("Compared with")), _period_text(about.compared, language)))
    rows += [(translate(N_("Branch")), about.branch), (translate(N_("Tier")), about.tier),
             (translate(N_("Amounts in")), unit_name),
             (translate(N_("Made at")), _datetime_value(about.generated_at, language))]
    for label, value in rows:
        info.append([_bold(info, label), spreadsheets.cell(info, value)])
    for table in tables:
        _table_sheet(book, table, language, unit, title, translate, used)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _period_text(period: Period, language: str) -> str:
    if language == "fa":
        return f"{jalali_text(period.first)} – {jalali_text(period.last)}"
    return f"{period.first.isoformat()} – {period.last.isoformat()}"


def _bold(sheet, value):
    cell = spreadsheets.cell(sheet, value)
    cell.font = Font(bold=True)
    return cell


def _table_sheet(book, table, language, unit, title, translate, used) -> None:
    sheet = book.create_sheet(_sheet_title(translate(table.title), used))
    sheet.sheet_view.rightToLeft = language == "fa"
    sheet.freeze_panes = "A2"
    for index, column in enumerate(table.columns, start=1):
        wide = column.kind in ("text", "datetime") or column.key in ("name", "offer", "kpi")
        sheet.column_dimensions[get_column_letter(index)].width = 28 if wide else 15
    header = []
    for column in table.columns:
        cell = _bold(sheet, title(column))
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        header.append(cell)
    sheet.append(header)
    formats = {}
    for row in table.rows:
        cells = []
        for column in table.columns:
            kind = row.get("kind", "float") if column.kind == "auto" else column.kind
            value = cell_value(row.get(column.key), kind, language, unit, translate)
            number_format = NUMBER_FORMATS.get(kind)
            if number_format is None and language != "fa":
                number_format = {"date": "yyyy-mm-dd", "day": "yyyy-mm-dd", "week": "yyyy-mm-dd",
                                 "datetime": "yyyy-mm-dd hh:mm"}.get(kind)
            fill = None
            if table.heat and kind == "percent" and value is not None:
                shade = int(255 - min(1.0, float(value)) * 160)
                fill = f"{shade:02X}{shade:02X}FF"
            if number_format is None and fill is None:
                cells.append(spreadsheets.cell(sheet, value) if isinstance(value, str)
                             else value)
                continue
            cell = spreadsheets.cell(sheet, value)
            if number_format is not None:
                cell.number_format = formats.setdefault(number_format, number_format)
            if fill is not None:
                cell.fill = PatternFill("solid", fgColor=fill)
            cells.append(cell)
        sheet.append(cells)
    for number, chart in enumerate(table.charts):
        _chart(sheet, table, chart, title, translate, number)


def _chart(sheet, table, chart, title, translate, number) -> None:
    """A native chart over the sheet's columns, placed right of the table."""
    if not table.rows:
        return
    keys = [column.key for column in table.columns]
    drawn = LineChart() if chart.kind == "line" else BarChart()
    drawn.title = translate(chart.title) if chart.title else None
    drawn.height, drawn.width = 7.5, 16
    last_row = len(table.rows) + 1
    for key in chart.series:
        index = keys.index(key) + 1
        drawn.add_data(Reference(sheet, min_col=index, min_row=1, max_row=last_row),
                       titles_from_data=True)
    label_index = keys.index(chart.label) + 1
    drawn.set_categories(Reference(sheet, min_col=label_index, min_row=2, max_row=last_row))
    anchor_column = get_column_letter(len(table.columns) + 2)
    sheet.add_chart(drawn, f"{anchor_column}{2 + number * 16}")
