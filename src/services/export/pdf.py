"""PDF export (reportlab): a table drawn straight on the canvas, page by page.

Drawing on the canvas is about twice as fast as platypus ``LongTable`` for the same
content (docs/performance.md), and lets rows stream: each batch is drawn as it comes.

* First page: the title, the task's description (when it has one), the run time with
  its zone, and a summary line (row count, or the truncation note). Every page: the
  header row, and a footer with the title and ``page X of Y``. ``Y`` and the summary
  are not known until the end, so they are PDF form objects referenced on each page
  and defined when the file is closed (one pass, no page kept aside).
* Cells are one line high; text that does not fit its column is cut with an ellipsis,
  line breaks become spaces. Values read as in every text output
  (``src/core/cell_text.py``: floats as Excel shows them, at most 15 significant
  digits; aware datetimes in the run's zone). The cells are written by
  ``pdf_cells.CellPainter``: the bytes reportlab's ``drawString`` would write, for
  about a third of its CPU. A column of numbers (NULLs allowed) is
  right-aligned, its header too; headers are the column names as the query wrote them.
  Right-to-left text is drawn in stored (logical) order.
* Metadata: title the task's name (or the ``title`` option), subject its description
  (else "Report of the task ..."), author and creator ``db-scheduler <version>``.
* The font is DejaVu Sans (fonts-dejavu-core), which covers Latin, Greek, Cyrillic,
  Hebrew, Arabic letters and many symbols; without it Helvetica is used and characters
  outside Latin-1 may show as boxes. Emoji have no glyph in either.
* A row cap keeps the file readable and its build bounded (reportlab holds the whole
  document until it is saved). Rows past the cap are only counted, and the cut is
  said on the first page and after the last row, never silently.

Options (``max_rows``, ``title``, ``orientation``, ``full_result_in``) are declared, with
their defaults and checks, in ``src/core/export_options.py``.

Longer than ~400 lines on purpose: the page layout (header, rows, totals, forms) draws on
one canvas with shared positions; split, each part would pass the others its state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from reportlab.graphics import renderPDF
from reportlab.lib.colors import HexColor
from reportlab.lib.pagesizes import A4, landscape, portrait
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from src import __version__
from src.core.cell_text import cell_text, numeric_columns
from src.core.chart import ChartData
from src.core.errors import ExportError
from src.core.highlight import NEGATIVE_COLOR, STYLE_COLORS, styles_of
from src.core.result import Column, Row
from src.core.vocabulary import HighlightStyle
from src.services.export.base import (
    AtomicFile,
    ExportContext,
    Exporter,
    ExportFile,
    io_error,
)
from src.services.export.chart_drawing import HEIGHT as CHART_HEIGHT
from src.services.export.chart_drawing import chart_drawing
from src.services.export.pdf_cells import CellPainter, fit
from src.services.export.pdf_fonts import FONT_FILES, fonts

__all__ = ["FONT_FILES", "PdfExporter", "fit", "fonts"]

MARGIN = 36.0  # points (half an inch)
FONT_SIZE = 7.5
ROW_HEIGHT = 11.0
CELL_PAD = 3.0
MAX_COL_WIDTH = 240.0  # points: one very long column must not squeeze the others away
MIN_COL_WIDTH = 28.0
SAMPLE_ROWS = 200
FULL_RESULT_NAMES = {"xlsx": "the Excel file", "csv": "the CSV file"}

_CONTROL = re.compile("[\x00-\x1f\x7f]+")
#: Author and Creator in the PDF's metadata.
PRODUCER = f"db-scheduler {__version__}"


def pdf_text(value: Any, zone: ZoneInfo) -> str:
    """A value as one line of text for a table cell: the rule every text output shares."""
    return cell_text(value, zone)


class PdfWriter:
    def __init__(
        self,
        path: Path,
        columns: Sequence[Column],
        context: ExportContext,
        max_rows: int,
        title: str,
        orientation: str,
        full_result_in: str | None,
    ) -> None:
        self.path = path
        #: The task's columns applied: labels, formats, hidden columns and totals
        self.layout = context.layout(columns)
        self.columns = list(self.layout.columns)
        self.columns_total = len(self.columns)
        self.context = context
        self.zone = context.zone
        self.max_rows = max_rows
        self.title = title
        self.orientation = orientation
        self.full_result_in = full_result_in
        # one line under the title: a description's line breaks become spaces
        self.description = _CONTROL.sub(" ", context.description).strip()
        self.fonts = fonts()
        #: The chart's points (None: no chart); drawn on the first page when it can be
        shown_names = [self.layout.all[i].name for i in self.layout.visible]
        self.chart = (
            ChartData(context.chart, self.layout.labels, shown_names) if context.chart else None
        )
        self._chart_space = False  # the first page keeps room for the chart
        #: Per shown column: whether it has highlight rules (checked per cell only then)
        self.highlighted = [bool(s.highlight) for s in self.layout.shown_specs]
        self.rows_total = 0
        self.rows_written = 0
        self._done = False
        self._canvas: Canvas | None = None
        self._page = 0
        self._y = 0.0
        self._file = AtomicFile(path)

    # -- the ExportWriter protocol

    def write_batch(self, rows: Sequence[Row]) -> None:
        if self._done:
            raise ExportError(f"{self.path}: write after close/abort", permanent=True)
        self.rows_total += len(rows)
        rows = self.layout.project(rows)
        self.layout.add_to_totals(rows)  # every row, also those past the cap
        if self.chart is not None:
            self.chart.add(rows)
        room = self.max_rows - self.rows_written
        if room <= 0 or not rows:
            return
        if self._canvas is None:
            self._start(rows)
        for row in rows[:room]:
            self._draw_row(row)
        self.rows_written += min(room, len(rows))

    def close(self) -> ExportFile:
        if self._done:
            raise ExportError(f"{self.path}: already closed or aborted", permanent=True)
        if self._canvas is None:
            self._start([])
        canvas = self._canvas
        assert canvas is not None
        if self.layout.has_totals and self.rows_total:
            self._draw_totals()
        note = self.truncation_note()
        if note:
            if self._y - 2 * ROW_HEIGHT < MARGIN + ROW_HEIGHT:
                self._new_page()
            canvas.setFont(self.fonts.bold, FONT_SIZE + 1)
            canvas.drawString(MARGIN, self._y - ROW_HEIGHT * 1.5, note)
        if self.rows_total == 0:
            canvas.setFont(self.fonts.regular, FONT_SIZE + 1)
            canvas.drawString(MARGIN, self._y - ROW_HEIGHT * 1.5, "The query returned no rows.")
        self._define_forms(note)
        self._done = True

        try:
            canvas.showPage()
            canvas.save()
        except OSError as exc:
            self.abort()
            raise io_error(self.path, exc) from exc
        size = self._file.commit()
        # a chart not drawn is said once, by the run (its rows are the same in every file)
        return ExportFile(
            "pdf", self.path, size, self.rows_written, self.rows_total, [note] if note else []
        )

    def abort(self) -> None:
        self._done = True
        self._file.discard()

    # -- layout

    def truncation_note(self) -> str:
        cut_rows = self.rows_total > self.rows_written
        cut_columns = self.columns_total > len(self.columns)
        if not (cut_rows or cut_columns):
            return ""
        parts = []
        if cut_rows:
            parts.append(f"the first {self.rows_written:,} of {self.rows_total:,} rows")
        if cut_columns:
            parts.append(f"the first {len(self.columns)} of {self.columns_total} columns")
        shown = "Showing " + " and ".join(parts)
        if self.full_result_in:
            return f"{shown}; the full result is in {FULL_RESULT_NAMES[self.full_result_in]}."
        limits = []
        if cut_rows:
            limits.append(f"the PDF stops at {self.max_rows:,} rows (pdf option max_rows)")
        if cut_columns:
            limits.append(f"a page holds at most {len(self.columns)} columns")
        return f"{shown}: {' and '.join(limits)}; add an xlsx or csv export for the full result."

    def subject(self) -> str:
        """The PDF's Subject: the task's description, else what the file is."""
        if self.description:
            return self.description
        return f"Report of the task {self.context.title!r} run at {self._run_at_text()}"

    def _run_at_text(self) -> str:
        local = self.context.local_run_at
        offset = local.strftime("%z")
        return f"{local:%Y-%m-%d %H:%M} {self.zone.key} (UTC{offset[:3]}:{offset[3:]})"

    def _start(self, sample: Sequence[Row]) -> None:
        regular, bold = self.fonts.regular, self.fonts.bold
        # More columns than fit a landscape page at their narrowest would each shrink to
        # nothing: show those that fit, and say so in the note.
        fits = max(1, int((landscape(A4)[0] - 2 * MARGIN) // MIN_COL_WIDTH))
        self.columns = self.columns[:fits]
        self.headers = [_CONTROL.sub(" ", c.name) for c in self.columns]
        natural = [pdfmetrics.stringWidth(h, bold, FONT_SIZE) + 2 * CELL_PAD for h in self.headers]
        for row in sample[:SAMPLE_ROWS]:
            for i, value in enumerate(row[: len(natural)]):
                shown = self.layout.text(i, value, self.zone)[:80]
                w = pdfmetrics.stringWidth(shown, regular, FONT_SIZE)
                natural[i] = max(natural[i], w + 2 * CELL_PAD)
        natural = [min(max(w, MIN_COL_WIDTH), MAX_COL_WIDTH) for w in natural]
        usable_portrait = A4[0] - 2 * MARGIN
        wide = sum(natural) > usable_portrait
        if self.orientation == "landscape" or (self.orientation == "auto" and wide):
            self.pagesize = landscape(A4)
        else:
            self.pagesize = portrait(A4)
        self.widths = _fit_widths(natural, self.pagesize[0] - 2 * MARGIN)
        self.x = [MARGIN]
        for w in self.widths[:-1]:
            self.x.append(self.x[-1] + w)
        self.numeric = numeric_columns(sample[:SAMPLE_ROWS], len(self.columns))
        canvas = Canvas(self._file.file, pagesize=self.pagesize, pageCompression=1)
        #: Draws the header, the rows and the totals (numbers and their header right-aligned)
        self.cells = CellPainter(canvas, self.x, self.widths, self.numeric, CELL_PAD)
        canvas.setTitle(self.title)
        canvas.setSubject(self.subject())
        canvas.setAuthor(PRODUCER)
        canvas.setCreator(PRODUCER)
        self._canvas = canvas
        self._new_page()

    def _new_page(self) -> None:
        canvas = self._canvas
        assert canvas is not None
        if self._page:
            canvas.showPage()
        self._page += 1
        width, height = self.pagesize
        y = height - MARGIN
        if self._page == 1:
            canvas.setFont(self.fonts.bold, 14)
            canvas.drawString(MARGIN, y - 14, fit(self.title, self.fonts.bold, 14, width - 72))
            if self.description:
                canvas.setFont(self.fonts.regular, 10)
                canvas.drawString(
                    MARGIN, y - 28, fit(self.description, self.fonts.regular, 10, width - 72)
                )
                y -= 14
            canvas.setFont(self.fonts.regular, 9)
            canvas.drawString(MARGIN, y - 30, f"Run at {self._run_at_text()}")
            canvas.saveState()
            canvas.translate(MARGIN, y - 44)
            canvas.doForm("summary")
            canvas.restoreState()
            y -= 56
            # the chart above the table, when the first rows say it can be drawn (it is
            # a form, drawn on close from every row)
            if self.chart is not None and self.chart.drawable:
                self._chart_space = True
                canvas.saveState()
                canvas.translate(MARGIN, y - CHART_HEIGHT)
                canvas.doForm("chart")
                canvas.restoreState()
                y -= CHART_HEIGHT + 12
        # footer: title left, page X of Y right (Y is a form defined on close)
        canvas.setFont(self.fonts.regular, 7)
        canvas.setFillGray(0.35)
        canvas.drawString(MARGIN, MARGIN / 2, fit(self.title, self.fonts.regular, 7, width / 2))
        label = f"page {self._page} of "
        x = width - MARGIN - 60
        canvas.drawString(x, MARGIN / 2, label)
        canvas.saveState()
        canvas.translate(x + pdfmetrics.stringWidth(label, self.fonts.regular, 7), MARGIN / 2)
        canvas.doForm("pages")
        canvas.restoreState()
        # header row
        canvas.setFillGray(0.86)
        table_width = sum(self.widths)
        canvas.rect(MARGIN, y - ROW_HEIGHT - 1, table_width, ROW_HEIGHT + 1, stroke=0, fill=1)
        canvas.setFillGray(0)
        canvas.setFont(self.fonts.bold, FONT_SIZE)
        self.cells.draw(y - ROW_HEIGHT + 2, self.headers)
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN, y - ROW_HEIGHT - 1, MARGIN + table_width, y - ROW_HEIGHT - 1)
        canvas.setFont(self.fonts.regular, FONT_SIZE)
        self._y = y - ROW_HEIGHT - 1
        self._row_on_page = 0

    def _draw_row(self, row: Row) -> None:
        if self._y - ROW_HEIGHT < MARGIN:
            self._new_page()
        canvas = self._canvas
        assert canvas is not None
        self._row_on_page += 1
        if self._row_on_page % 2 == 0:
            canvas.setFillGray(0.95)
            canvas.rect(MARGIN, self._y - ROW_HEIGHT, sum(self.widths), ROW_HEIGHT, 0, 1)
            canvas.setFillGray(0)
        zone, text = self.zone, self.layout.text
        shown = len(self.widths)  # a row can have more values than the page has columns
        cells = [text(i, v, zone) for i, v in zip(range(shown), row, strict=False)]
        marked = [
            (i, cells[i], styles_of(row[i], self.layout.shown_specs[i].highlight))
            for i in range(len(cells))
            if self.highlighted[i]
        ]
        marked = [(i, cell, styles) for i, cell, styles in marked if styles]
        for i, _, _ in marked:
            cells[i] = ""  # drawn below, in its style
        self.cells.draw(self._y - ROW_HEIGHT + 3, cells)
        for i, cell, styles in marked:
            self._draw_marked(i, cell, styles)
        self._y -= ROW_HEIGHT

    def _draw_totals(self) -> None:
        """The totals row after the last row drawn, bold under a rule; it says so when it
        covers more rows than the PDF shows."""
        if self._y - 2 * ROW_HEIGHT < MARGIN:
            self._new_page()
        canvas = self._canvas
        assert canvas is not None
        texts = self.layout.total_texts(self.zone)[: len(self.columns)]
        canvas.setLineWidth(0.5)
        canvas.line(MARGIN, self._y, MARGIN + sum(self.widths), self._y)
        canvas.setFont(self.fonts.bold, FONT_SIZE)
        self.cells.draw(self._y - ROW_HEIGHT + 3, texts)
        self._y -= ROW_HEIGHT
        if self.rows_total > self.rows_written:
            canvas.setFont(self.fonts.regular, FONT_SIZE)
            canvas.drawString(
                MARGIN,
                self._y - ROW_HEIGHT + 3,
                f"The totals cover all {self.rows_total:,} rows, more than the "
                f"{self.rows_written:,} shown.",
            )
            self._y -= ROW_HEIGHT
        canvas.setFont(self.fonts.regular, FONT_SIZE)

    def _draw_marked(self, i: int, text: str, styles: frozenset[HighlightStyle]) -> None:
        """A highlighted cell: its fill behind, its text red and/or bold."""
        canvas = self._canvas
        assert canvas is not None
        canvas.saveState()
        if HighlightStyle.FILL in styles:
            canvas.setFillColor(HexColor("#" + STYLE_COLORS[HighlightStyle.FILL]))
            canvas.rect(self.x[i], self._y - ROW_HEIGHT, self.widths[i], ROW_HEIGHT, 0, 1)
        font = self.fonts.bold if HighlightStyle.STRONG in styles else self.fonts.regular
        canvas.setFillColor(
            HexColor("#" + NEGATIVE_COLOR) if HighlightStyle.NEGATIVE in styles else HexColor(0)
        )
        canvas.setFont(font, FONT_SIZE)
        cells = [""] * len(self.widths)
        cells[i] = text
        self.cells.draw(self._y - ROW_HEIGHT + 3, cells)
        canvas.restoreState()

    def _define_forms(self, note: str) -> None:
        canvas = self._canvas
        assert canvas is not None
        if self._chart_space:
            assert self.chart is not None
            canvas.beginForm("chart")
            problem = self.chart.problem()
            if problem is None:
                drawing = chart_drawing(
                    self.chart, self.layout.shown_specs, zone=self.zone, locale=self.context.locale
                )
                renderPDF.draw(drawing, canvas, 0, 0)
            else:  # rows after the first batch made it undrawable: said where it would be
                canvas.setFont(self.fonts.regular, 9)
                canvas.drawString(0, CHART_HEIGHT - 12, problem[0].upper() + problem[1:] + ".")
            canvas.endForm()
        canvas.beginForm("pages")
        canvas.setFont(self.fonts.regular, 7)
        canvas.setFillGray(0.35)
        canvas.drawString(0, 0, str(self._page))
        canvas.endForm()
        canvas.beginForm("summary")
        if note:
            canvas.setFont(self.fonts.bold, 9)
            canvas.setFillColorRGB(0.6, 0.1, 0.1)
            summary = note
        else:
            canvas.setFont(self.fonts.regular, 9)
            summary = f"{self.rows_total:,} row{'s' if self.rows_total != 1 else ''}"
        canvas.drawString(0, 0, fit(summary, self.fonts.bold, 9, self.pagesize[0] - 2 * MARGIN))
        canvas.endForm()


def _fit_widths(natural: list[float], usable: float) -> list[float]:
    """Column widths filling ``usable``: shrink the widest first when too wide, else
    share the spare room in proportion."""
    if not natural:
        return []
    total = sum(natural)
    if total <= usable:
        return [w * usable / total for w in natural]
    # water-filling: find a cap so that sum(min(w, cap)) == usable
    widths = sorted(natural)
    remaining, count = usable, len(widths)
    cap = usable / count
    for w in widths:
        if w * count > remaining:
            cap = remaining / count
            break
        remaining -= w
        count -= 1
    return [min(w, cap) for w in natural]


class PdfExporter(Exporter):
    name = "pdf"
    extension = "pdf"

    def open(
        self,
        path: Path,
        columns: Sequence[Column],
        context: ExportContext,
        options: Mapping[str, Any] | None = None,
    ) -> PdfWriter:
        checked = self.check_options(options or {})
        return PdfWriter(
            path,
            columns,
            context,
            max_rows=checked["max_rows"],
            title=checked["title"] or context.title,
            orientation=checked["orientation"],
            full_result_in=checked["full_result_in"],
        )
