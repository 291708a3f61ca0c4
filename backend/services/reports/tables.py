"""What a report returns: a table of typed values (and the charts drawn from it), which
the panel renders as HTML and the export writes to Excel. Values stay raw (int rials,
dates, ratios) so each renderer formats them for its reader."""

from dataclasses import dataclass, field

# Column kinds: text, int, money (int rials), percent (ratio 0…1, or None), float,
# date (local date), datetime (aware UTC), month/week/day (a bucket's first local date),
# segment (an LRFM segment's code, shown by its name), msgid (English text the renderer
# translates), auto (the row's own "kind").
KINDS = ("text", "int", "money", "percent", "float", "date", "datetime", "month", "week", "day",
         "segment", "msgid", "auto")


@dataclass(frozen=True)
class Column:
    key: str
    title: str  # an English msgid, translated by the renderer
    kind: str = "int"
    # "" for a plain column; "compared" or "change" for the columns a comparison adds
    # (the renderer words the title, so the catalogue needs no sentence per column).
    variant: str = ""
    number: int | None = None  # fills `%(number)s` in the title

    def __post_init__(self):
        assert self.kind in KINDS, self.kind
        assert self.variant in ("", "compared", "change"), self.variant


@dataclass(frozen=True)
class Chart:
    kind: str            # "line" or "bar"
    label: str           # the column the x axis shows
    series: tuple[str, ...]  # columns drawn
    title: str = ""

    def __post_init__(self):
        assert self.kind in ("line", "bar"), self.kind


@dataclass
class Table:
    key: str
    title: str
    columns: list[Column]
    rows: list[dict]
    charts: list[Chart] = field(default_factory=list)
    # A column whose value aligns rows when two periods are compared.
    align_by: str | None = None
    total_rows: int | None = None  # for paged lists: rows in the whole result
    heat: bool = False             # shade cells by value (the cohort heat map)

    def column(self, key: str) -> Column:
        return next(column for column in self.columns if column.key == key)

    def values(self, key: str) -> list:
        return [row.get(key) for row in self.rows]


def change(current, before) -> float | None:
    """The relative change from `before` to `current` (0.25 = 25 % up); None when there is
    no base to compare with."""
    if current is None or before is None or before == 0:
        return None
    return (current - before) / abs(before)


def compare(current: Table, before: Table, keys: list[str], values: list[str]) -> Table:
    """Two periods side by side: the key columns of the current period, then for each
    value column its current value, its value in the compared period, and the change.

    Rows are aligned by `current.align_by` (bucket position in trends, a name in lists);
    a row that exists in one period only shows nothing for the other."""
    align = current.align_by
    assert align is not None, f"{current.key} cannot be compared"
    earlier = {row[align]: row for row in before.rows}
    columns = [current.column(key) for key in keys]
    if "label" in keys and before.rows and "label" in before.rows[0]:
        columns.append(Column("label_before", "Period", current.column("label").kind,
                              "compared"))
    for key in values:
        column = current.column(key)
        columns += [column, Column(f"{key}_before", column.title, column.kind, "compared"),
                    Column(f"{key}_change", column.title, "percent", "change")]
    rows = []
    for row in current.rows:
        other = earlier.get(row[align], {})
        out = {key: row.get(key) for key in keys}
        out[align] = row[align]
        if "label_before" in (column.key for column in columns):
            out["label_before"] = other.get("label")
        for key in values:
            out[key] = row.get(key)
            out[f"{key}_before"] = other.get(key)
            out[f"{key}_change"] = change(row.get(key), other.get(key))
        rows.append(out)
    charts = [Chart(chart.kind, chart.label,
                    tuple(item for key in chart.series if key in values
                          for item in (key, f"{key}_before")), chart.title)
              for chart in current.charts]
    return Table(current.key, current.title, columns, rows,
                 [chart for chart in charts if chart.series], align)
