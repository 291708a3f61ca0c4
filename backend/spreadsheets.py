"""Cells of the workbooks we hand out (reports, member lists, the import template and
its refused rows): text is written as text, never as a formula.

openpyxl makes any string starting with `=` a formula, so a member named
`=HYPERLINK("http://…")` would become a live link in the office's Excel. Every string
goes through `cell`, which pins the cell's type to a string; text that a spreadsheet
would read as a formula when the cell is edited (`= + - @`, tab, CR first) also gets
Excel's quote prefix, so it stays text then too. The text itself is kept exactly.
"""

from openpyxl.cell import WriteOnlyCell

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(sheet, value):
    """A cell for `value` on `sheet` (normal or write-only): strings as text cells,
    anything else (numbers, dates, None) as openpyxl types it."""
    made = WriteOnlyCell(sheet, value=value)
    if isinstance(value, str):
        made.data_type = "s"
        if value.startswith(FORMULA_STARTS):
            made.quotePrefix = True
    return made


def row(sheet, values) -> list:
    """`values` ready for `sheet.append`: each string a text cell (`cell`)."""
    return [cell(sheet, value) if isinstance(value, str) else value for value in values]
