"""Excel (.xlsx) export: a streaming SpreadsheetML writer over ``zipfile``.

Rows are turned into sheet XML (inline strings, no shared-string table) and
streamed straight into the zip entry, so memory stays flat however many rows come;
the workbook parts (content types, workbook, styles) are written on ``close()``.
A hand-written writer was chosen over xlsxwriter / openpyxl for speed (see
docs/performance.md); tests read every feature back with openpyxl and LibreOffice.

Cells keep their types (the rules, per value, are ``xlsx_cells.py``): numbers stay
numbers (integers of 16+ digits, NaN and infinities become text), dates and times
become Excel serials with a date format (an aware datetime in the run's zone), booleans
stay booleans, NULL is an empty cell, and text Excel would read as a formula stays text.
Rows from PostgreSQL arrive as text (``TextBatch``) and are written a column at a time
(``xlsx_text.py``) to the same cells. The sheet XML is deflated in a second thread while
the next rows are rendered (``zip_stream.py``).

The header row is bold, frozen and carries an autofilter, and repeats on every printed
page (print titles); column widths come from the header and the first rows. Printed, a
sheet is scaled to one page wide, in landscape when its columns are wider than a
portrait page. The first sheet is named after the task (``sheet_name`` overrides).
Past Excel's 1,048,576 rows per sheet (header included),
rows continue on a new sheet (``Sheet 2``, ...) with the header repeated; so they do
when a sheet's XML nears 2 GiB, so that no zip64 entry is needed (some Excel versions
refuse those).

Options (``sheet_name``: the first sheet's name, by default the task's name made valid
for Excel; further sheets are ``<name> 2``, ``<name> 3``...) are declared, with their
defaults and checks, in ``src/core/export_options.py``.

Longer than ~400 lines on purpose: a sheet's parts (header, rows, totals row, tail) and
the rollover between sheets are one streaming writer. Around it: the cell rules
(xlsx_cells.py), cells from text (xlsx_text.py), the package parts (xlsx_package.py) and
the zip (zip_stream.py). Sheet-level additions (conditional formats, drawings) go in
``_end_sheet`` and ``_write_package``, whatever path wrote the rows.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from src.core.chart import ChartData
from src.core.column_format import ColumnSpec, excel_format
from src.core.errors import ExportError
from src.core.export_options import DEFAULT_SHEET_NAME, SHEET_NAME_MAX, sheet_name_for
from src.core.highlight import STYLE_COLORS, excel_rule_formula
from src.core.result import Column, Row
from src.core.text_batch import TextBatch
from src.core.vocabulary import HighlightStyle, TotalKind, ValueFormat
from src.services.export.base import (
    AtomicFile,
    ExportContext,
    Exporter,
    ExportFile,
    io_error,
)
from src.services.export.xlsx_cells import (
    EPOCH_DATE,
    EXCEL_MAX_CELL_CHARS,
    MAX_EXACT_INT,
    MIN_DATE,
    Cells,
)
from src.services.export.xlsx_chart import chart_sheet
from src.services.export.xlsx_package import (
    NS,
    NS_R,
    S_DATE,
    S_DATETIME,
    S_HEADER,
    clean_text,
    column_letter,
    format_style,
    package_parts,
)
from src.services.export.xlsx_text import TextCells
from src.services.export.zip_stream import EntryStream, ZipStream

__all__ = ["EXCEL_MAX_CELL_CHARS", "XlsxExporter", "XlsxWriter", "column_letter"]

#: Rows per sheet in Excel, header included.
EXCEL_MAX_ROWS = 1_048_576
#: Uncompressed bytes of rows per sheet part: under the 2 GiB (2**31 - 1) that Python's
#: zipfile writes without zip64 extensions on an entry of unknown size.
MAX_SHEET_BYTES = 2_000_000_000
#: Columns per sheet in Excel (A..XFD).
EXCEL_MAX_COLUMNS = 16_384
#: Rows sampled (with the header) to size the columns.
WIDTH_SAMPLE_ROWS = 200
MIN_WIDTH, MAX_WIDTH = 6, 60
#: Column widths (in Excel's character units) that print on a portrait A4 or Letter page
#: at 100%: ~6.9 in between the default 0.7 in margins, at ~7 pixels a character. A
#: wider sheet prints landscape; every sheet prints scaled to one page wide.
PORTRAIT_MAX_WIDTH = 90
#: Deflate level (zlib-ng). Measured on 1M rows of sheet XML (docs/performance.md):
#: PLACEHOLDER
COMPRESS_LEVEL = 4


#: Characters of the first sheet's name kept for the next ones, leaving room for " 99".
_SHEET_STEM = SHEET_NAME_MAX - 3
#: SUBTOTAL's function numbers that skip rows hidden by a filter (the 100s), per total.
SUBTOTAL_CODES = {
    TotalKind.SUM: 109,
    TotalKind.AVG: 101,
    TotalKind.MIN: 105,
    TotalKind.MAX: 104,
    TotalKind.COUNT: 103,  # COUNTA: cells that are not empty
}
_VALUE = re.compile(r"<v>([^<]*)</v>")
_PLAIN_CELL = "<c><v>"
_DATE_CELLS = (f'<c s="{S_DATE}">', f'<c s="{S_DATETIME}">')


def _display_width(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 19
    if isinstance(value, date):
        return 10
    if isinstance(value, str):
        return max((len(line) for line in value[:500].splitlines()), default=0)
    return len(str(value))


class XlsxWriter:
    """Streams rows into ``xl/worksheets/sheetN.xml`` of a zip written to a temp file."""

    def __init__(
        self,
        path: Path,
        columns: Sequence[Column],
        context: ExportContext,
        sheet_name: str,
        max_rows_per_sheet: int = EXCEL_MAX_ROWS,
        max_sheet_bytes: int = MAX_SHEET_BYTES,
    ) -> None:
        if max_rows_per_sheet < 2:
            raise ValueError("a sheet holds the header and at least one row")
        #: The task's columns applied: labels, formats, hidden columns and totals
        self.layout = context.layout(columns)
        columns = self.layout.columns
        if len(columns) > EXCEL_MAX_COLUMNS:
            raise ExportError(
                f"{path}: the result has {len(columns):,} columns; an Excel sheet holds at most "
                f"{EXCEL_MAX_COLUMNS:,}; select fewer columns or export csv",
                permanent=True,
            )
        self.path = path
        self.columns = list(columns)
        self.context = context
        self.sheet_base = "Sheet" if sheet_name == DEFAULT_SHEET_NAME else sheet_name[:_SHEET_STEM]
        self.sheet_names: list[str] = []
        self.first_sheet_name = sheet_name
        self.max_data_rows = max_rows_per_sheet - 1
        self.max_sheet_bytes = max_sheet_bytes
        self.cells = Cells(context.zone)
        #: Excel number format codes of the task's columns, each once (styles.xml)
        self.formats: list[str] = []
        #: Per shown column: its style index (None: the cell's own) and regular / bold
        self.column_styles: list[tuple[int, int] | None] = []
        for spec in self.layout.shown_specs:
            code = excel_format(spec, context.locale)
            if code is None:
                self.column_styles.append(None)
                continue
            if code not in self.formats:
                self.formats.append(code)
            k = self.formats.index(code)
            self.column_styles.append((format_style(k), format_style(k, bold=True)))
        self._styled = any(self.column_styles) or any(
            s.format is ValueFormat.BOOLEAN for s in self.layout.shown_specs
        )
        self._column_cells, self._slow_cells = self._cell_writers()
        #: The highlight styles used, in order: a style's conditional format is its index
        self.highlights = [style for style in HighlightStyle
                           if any(r.style is style for s in self.layout.shown_specs
                                  for r in s.highlight)]  # fmt: skip
        #: The chart's points, gathered from the rows (None: the task has no chart)
        shown_names = [self.layout.all[i].name for i in self.layout.visible]
        self.chart = (
            ChartData(context.chart, self.layout.labels, shown_names) if context.chart else None
        )
        self.text_cells = TextCells(
            context.zone,
            [styles[0] if styles else None for styles in self.column_styles],
            self._styled_cell if self._styled else self._plain_cell,
            [s.format is ValueFormat.BOOLEAN and bool(s.words) for s in self.layout.shown_specs],
        )
        self.rows_total = 0
        self.widths: list[float] | None = None
        self._sheet: EntryStream | None = None
        self._sheet_rows = 0  # data rows in the current sheet
        self._sheet_bytes = 0  # uncompressed bytes of rows in the current sheet
        self._sheet_last_rows: list[int] = []  # last row number of each finished sheet
        self._done = False
        self._file = AtomicFile(path)
        self._zip = ZipStream(self._file.file, COMPRESS_LEVEL)

    # -- the ExportWriter protocol

    def write_batch(self, rows: Sequence[Row]) -> None:
        if self._done:
            raise ExportError(f"{self.path}: write after close/abort", permanent=True)
        if not rows:
            return
        rows = self.layout.project(rows)
        self.layout.add_to_totals(rows)
        if self.chart is not None:
            self.chart.add(rows)
        try:
            if self.widths is None:
                self._size_columns(rows)
            start = 0
            while start < len(rows):
                if self._sheet is None or self._sheet_rows >= self.max_data_rows:
                    self._next_sheet()
                take = min(len(rows) - start, self.max_data_rows - self._sheet_rows)
                self._write_rows(_part(rows, start, start + take))
                start += take
        except OSError as exc:
            self._fail(exc)

    def close(self) -> ExportFile:
        if self._done:
            raise ExportError(f"{self.path}: already closed or aborted", permanent=True)
        try:
            if self.widths is None:
                self._size_columns([])
            totals = self.layout.has_totals and self.rows_total > 0
            if self._sheet is None or (totals and self._sheet_rows >= self.max_data_rows):
                self._next_sheet()  # a full last sheet has no row left for the totals
            self._end_sheet(totals=totals)
            self._write_package()
            self._zip.close()
        except OSError as exc:
            self._fail(exc)
        self._done = True
        size = self._file.commit()
        notes = []
        if len(self.sheet_names) > 1:
            notes.append(
                f"{self.rows_total:,} rows do not fit one sheet (Excel's limit is "
                f"{self.max_data_rows + 1:,} rows): they continue on sheets "
                f"{', '.join(self.sheet_names[1:])}"
            )
        if self.cells.cut_cells:
            notes.append(
                f"{self.cells.cut_cells:,} cells longer than Excel's "
                f"{EXCEL_MAX_CELL_CHARS:,} characters were cut"
            )
        return ExportFile("xlsx", self.path, size, self.rows_total, self.rows_total, notes)

    def abort(self) -> None:
        self._done = True
        self._zip.abandon()  # the compressing thread stops before the file goes
        self._file.discard()

    # -- internals

    def _fail(self, exc: OSError) -> None:
        self.abort()
        raise io_error(self.path, exc) from exc

    def _size_columns(self, rows: Sequence[Row]) -> None:
        widths = [float(len(c.name)) + 3 for c in self.columns]  # + room for the filter button
        for row in rows[:WIDTH_SAMPLE_ROWS]:
            for i, value in enumerate(row[: len(widths)]):
                widths[i] = max(widths[i], _display_width(value) + 1.5)
        self.widths = [min(max(w, MIN_WIDTH), MAX_WIDTH) for w in widths]

    def _next_sheet(self) -> None:
        if self._sheet is not None:
            self._end_sheet()
        number = len(self.sheet_names) + 1
        name = self.first_sheet_name if number == 1 else f"{self.sheet_base} {number}"
        self.sheet_names.append(name)
        self._sheet = self._zip.open(f"xl/worksheets/sheet{number}.xml")
        self._sheet_rows = 0
        self._sheet_bytes = 0
        assert self.widths is not None
        cols = "".join(
            f'<col min="{i}" max="{i}" width="{w:.1f}" customWidth="1"/>'
            for i, w in enumerate(self.widths, start=1)
        )
        header = "".join(
            f'<c t="inlineStr" s="{S_HEADER}"><is><t>{escape(clean_text(c.name))}</t></is></c>'
            for c in self.columns
        )
        self._sheet.write(
            (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<worksheet xmlns="{NS}" xmlns:r="{NS_R}">'
                # fit to page (one page wide, see pageSetup): printed, no column is cut off
                '<sheetPr><pageSetUpPr fitToPage="1"/></sheetPr>'
                '<sheetViews><sheetView workbookViewId="0"'
                + (' tabSelected="1"' if number == 1 else "")
                + '><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
                '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView>'
                '</sheetViews><sheetFormatPr defaultRowHeight="15"/>'
                + (f"<cols>{cols}</cols>" if cols else "")
                + f'<sheetData><row r="1">{header}</row>'
            ).encode()
        )

    def _write_rows(self, rows: Sequence[Row]) -> None:
        assert self._sheet is not None
        data = self._render(rows)
        if self._sheet_rows and self._sheet_bytes + len(data) > self.max_sheet_bytes:
            # Keep each sheet part under 2 GiB so the zip never needs zip64 entries,
            # which some Excel versions refuse: continue on a new sheet instead.
            self._next_sheet()
            data = self._render(rows)
        self._sheet.write(data)
        self._sheet_bytes += len(data)
        self._sheet_rows += len(rows)
        self.rows_total += len(rows)

    def _render(self, rows: Sequence[Row]) -> bytes:
        """The rows' ``<row>`` elements, numbered on from the current sheet's last row."""
        first = self._sheet_rows + 2  # row 1 is the header
        if isinstance(rows, TextBatch):
            return self.text_cells.sheet_rows(rows, first).encode()
        cell = self.cells.cell
        conv = self.cells.conv
        if self._styled:  # per column: its converters by type, else the general rule
            fns, slow = self._column_cells, self._slow_cells
            rendered = [
                "".join([(fns[i].get(type(v)) or slow[i])(v) for i, v in enumerate(row)])
                for row in rows
            ]
        else:
            rendered = ["".join([(conv.get(type(v)) or cell)(v) for v in row]) for row in rows]
        return "".join(
            [f'<row r="{n}">{cells}</row>' for n, cells in enumerate(rendered, start=first)]
        ).encode()

    def _plain_cell(self, index: int, value: Any) -> str:
        return self.cells.cell(value)

    def _cell_writers(
        self,
    ) -> tuple[list[Mapping[type, Callable[[Any], str]]], list[Callable[[Any], str]]]:
        """Per shown column: converters by exact type that write a formatted column's
        numbers with their style directly (so a formatted column costs what a plain one
        does), and the general rule (:meth:`_styled_cell`) for every other value."""
        plain = self.cells.conv
        fast: list[Mapping[type, Callable[[Any], str]]] = []
        slow: list[Callable[[Any], str]] = []
        for index, (spec, styles) in enumerate(
            zip(self.layout.shown_specs, self.column_styles, strict=True)
        ):
            slow.append(partial(self._styled_cell, index))
            if spec.format is ValueFormat.BOOLEAN:
                fast.append({})  # 0 / 1 and booleans read as the words: the general rule
            elif styles is None:
                fast.append(plain)
            else:
                fast.append(self._numbers_styled(styles[0]))
        return fast, slow

    def _numbers_styled(self, style: int) -> dict[type, Callable[[Any], str]]:
        """Converters writing numbers as ``<c s="style">``: what :meth:`_styled_cell`
        makes of them, without its general steps."""
        cells, head = self.cells, f'<c s="{style}"><v>'

        def integer(value: int) -> str:
            if -MAX_EXACT_INT < value < MAX_EXACT_INT:
                return f"{head}{value}</v></c>"
            return cells.text(str(value))

        def floating(value: float) -> str:
            return f"{head}{value!r}</v></c>" if math.isfinite(value) else cells.text(str(value))

        def decimal(value: Decimal) -> str:
            return f"{head}{value}</v></c>" if value.is_finite() else cells.text(str(value))

        restyled = self._restyled(cells.date_, style)

        def day(value: date) -> str:
            if value < MIN_DATE:
                return restyled(value)
            return f"{head}{(value - EPOCH_DATE).days}</v></c>"

        return {**cells.conv, int: integer, float: floating, Decimal: decimal, date: day,
                datetime: self._restyled(cells.datetime_, style)}  # fmt: skip

    @staticmethod
    def _restyled(convert: Callable[[Any], str], style: int) -> Callable[[Any], str]:
        """A date converter whose cell takes the column's style instead of its own."""

        def cell(value: Any) -> str:
            rendered = convert(value)
            for date_cell in _DATE_CELLS:
                if rendered.startswith(date_cell):
                    return f'<c s="{style}">' + rendered[len(date_cell) :]
            return rendered

        return cell

    def _styled_cell(self, index: int, value: Any, bold: bool = False) -> str:
        """A cell of a column the task formats: its number format as the cell's style;
        a boolean column's values as its words."""
        spec: ColumnSpec = self.layout.shown_specs[index]
        # SQLite keeps booleans as 0 / 1: those read as the words too, as in format_value
        if spec.format is ValueFormat.BOOLEAN and isinstance(value, bool | int) and spec.words:
            return self.cells.text(spec.words[0] if value else spec.words[1])
        rendered = self.cells.cell(value)
        styles = self.column_styles[index]
        if styles is None:
            return rendered
        style = styles[1] if bold else styles[0]
        if rendered.startswith(_PLAIN_CELL):
            return f'<c s="{style}"><v>' + rendered[len(_PLAIN_CELL) :]
        for date_cell in _DATE_CELLS:
            if rendered.startswith(date_cell):
                return f'<c s="{style}">' + rendered[len(date_cell) :]
        return rendered

    def _totals_row(self, row_number: int) -> str:
        """The totals row: a live SUBTOTAL per total (it follows Excel's filter) over every
        sheet's rows, with its value computed while streaming as the cached result."""
        cells = []
        sheets = list(zip(self.sheet_names, [*self._sheet_last_rows, row_number - 1], strict=True))
        for i, spec in enumerate(self.layout.shown_specs):
            if spec.total is None:
                label = "Total" if i == 0 else ""
                cells.append(f'<c t="inlineStr" s="{S_HEADER}"><is><t>{label}</t></is></c>'
                             if label else "<c/>")  # fmt: skip
                continue
            letter = column_letter(i)
            refs = [
                ("" if n == len(sheets) - 1 else "'" + name.replace("'", "''") + "'!")
                + f"{letter}2:{letter}{last}"
                for n, (name, last) in enumerate(sheets)
                if last >= 2  # a sheet of the totals alone has no rows to count
            ]
            formula = f"SUBTOTAL({SUBTOTAL_CODES[spec.total]},{','.join(refs)})"
            value = self.layout.totals.value(i)
            if spec.total is TotalKind.COUNT:
                rendered = self.cells.cell(value)
                style = S_HEADER
            else:
                rendered = self._styled_cell(i, value, bold=True)
                styles = self.column_styles[i]
                style = styles[1] if styles else S_HEADER
            cached = _VALUE.search(rendered) if value is not None else None
            v = f"<v>{cached.group(1)}</v>" if cached else ""
            cells.append(f'<c s="{style}"><f>{escape(formula)}</f>{v}</c>')
        return f'<row r="{row_number}">{"".join(cells)}</row>'

    def _end_sheet(self, totals: bool = False) -> None:
        assert self._sheet is not None
        last_row = self._sheet_rows + 1
        tail = self._totals_row(last_row + 1) if totals else ""
        tail += "</sheetData>"
        if self.columns:
            tail += f'<autoFilter ref="A1:{column_letter(len(self.columns) - 1)}{last_row}"/>'
        if last_row >= 2:
            tail += self._conditional_formats(last_row)
        wide = sum(self.widths or ()) > PORTRAIT_MAX_WIDTH
        tail += (
            '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
            f'footer="0.3"/><pageSetup orientation="{"landscape" if wide else "portrait"}" '
            'fitToWidth="1" fitToHeight="0"/></worksheet>'
        )
        self._sheet.write(tail.encode())
        self._sheet.close()
        self._sheet = None
        self._sheet_last_rows.append(last_row)

    def _conditional_formats(self, last_row: int) -> str:
        """The columns' highlight rules as conditional formats over the sheet's data rows
        (sheet-level: nothing is written per cell). ``expression`` rules with ISNUMBER, so
        text and empty cells are never highlighted, as in the PDF and the email."""
        out, priority = [], 0
        for i, spec in enumerate(self.layout.shown_specs):
            if not spec.highlight:
                continue
            letter = column_letter(i)
            rules = []
            for rule in spec.highlight:
                priority += 1
                formula = escape(excel_rule_formula(rule, f"{letter}2"))
                rules.append(
                    f'<cfRule type="expression" dxfId="{self.highlights.index(rule.style)}" '
                    f'priority="{priority}"><formula>{formula}</formula></cfRule>'
                )
            out.append(
                f'<conditionalFormatting sqref="{letter}2:{letter}{last_row}">'
                + "".join(rules)
                + "</conditionalFormatting>"
            )
        return "".join(out)

    def _write_package(self) -> None:
        chart = None
        if self.chart is not None and self.chart.drawable:
            chart = chart_sheet(self.chart, self.sheet_names[0], self.sheet_names)
        dxfs = [
            (STYLE_COLORS.get(style, "") if style is HighlightStyle.NEGATIVE else "",
             STYLE_COLORS[style] if style is HighlightStyle.FILL else None,
             style is HighlightStyle.STRONG)
            for style in self.highlights
        ]  # fmt: skip
        parts = package_parts(
            self.sheet_names, self._sheet_last_rows, len(self.columns), self.context.title,
            self.context.run_at, self.formats, chart.name if chart else None, dxfs,
        )  # fmt: skip
        for name, text in [*parts, *(chart.parts if chart else [])]:
            self._zip.writestr(name, text.encode())


def _part(rows: Sequence[Row], start: int, stop: int) -> Sequence[Row]:
    """Rows ``start`` to ``stop`` (a text batch stays one)."""
    if isinstance(rows, TextBatch):
        return rows.between(start, stop)
    return rows[start:stop] if start or stop < len(rows) else rows


class XlsxExporter(Exporter):
    name = "xlsx"
    extension = "xlsx"

    def __init__(
        self, max_rows_per_sheet: int = EXCEL_MAX_ROWS, max_sheet_bytes: int = MAX_SHEET_BYTES
    ) -> None:
        # Parameters so tests can roll sheets over without writing a million rows.
        self.max_rows_per_sheet = max_rows_per_sheet
        self.max_sheet_bytes = max_sheet_bytes

    def open(
        self,
        path: Path,
        columns: Sequence[Column],
        context: ExportContext,
        options: Mapping[str, Any] | None = None,
    ) -> XlsxWriter:
        checked = self.check_options(options or {})
        sheet_name = checked["sheet_name"] or sheet_name_for(context.title)
        return XlsxWriter(
            path, columns, context, sheet_name, self.max_rows_per_sheet,
            self.max_sheet_bytes,
        )  # fmt: skip
