"""What a report email says, and its plain-text part.

:class:`ReportBody` is the content both parts show, in the same order: the task's name
and description, when it ran, the body text, the key figures (row count and each
column's total), the preview of the first rows with its totals row, the notes, the
files attached and a footer. :func:`plain_body` lays it out as monospace text (the
preview an aligned table, numbers right-aligned);
:func:`src.services.mail.report_html.html_body` as HTML.

Every cell reads through :func:`format_cell`, which goes through
:func:`src.core.column_format.format_value`: the text the PDF and the dry run show.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from src.core.cell_text import numeric_columns
from src.core.column_format import ColumnSpec, format_value
from src.core.email_rules import format_size
from src.core.highlight import highlight_css
from src.core.result import Row
from src.core.vocabulary import ReportLocale, TotalKind, ValueFormat

#: A preview cell longer than this is cut (the full value is in the attachment).
PREVIEW_CELL_CHARS = 200
#: Width of a column in the plain-text preview.
PLAIN_CELL_CHARS = 30
#: What a key figure calls each kind of total: "Revenue (total)", "Discount (average)".
TOTAL_WORDS = {
    TotalKind.SUM: "total",
    TotalKind.AVG: "average",
    TotalKind.MIN: "lowest",
    TotalKind.MAX: "highest",
    TotalKind.COUNT: "count",
}
#: How the row count reads: a whole number with thousands separators, as a count total.
_COUNT = ColumnSpec(format=ValueFormat.INTEGER)


def format_cell(
    value: Any,
    zone: ZoneInfo | None = None,
    spec: ColumnSpec | None = None,
    locale: ReportLocale | None = None,
) -> str:
    """How a value reads in the preview: :func:`src.core.column_format.format_value` (the
    rule every text output shares: the column's format, else numbers as Excel shows them,
    date-times in ``zone``, in the task's ``locale``), cut past PREVIEW_CELL_CHARS."""
    text = format_value(value, spec, zone, locale)
    if len(text) > PREVIEW_CELL_CHARS:
        text = text[: PREVIEW_CELL_CHARS - 1] + "…"
    return text


@dataclass(frozen=True)
class KeyFigure:
    """One number at the top of the report: what it is, and its text."""

    caption: str
    value: str


@dataclass(frozen=True)
class AttachedFile:
    """A file attached to the message, as the list of attachments shows it."""

    name: str
    size_bytes: int

    def text(self) -> str:
        """``sales.xlsx, 47.5 KB``"""
        return f"{self.name}, {format_size(self.size_bytes)}"


@dataclass
class Preview:
    """The first rows of a result and the total, as shown in the body."""

    columns: list[str]
    rows: list[Row]
    total: int
    #: The task's zone: date-times with a zone are shown in it.
    zone: ZoneInfo | None = None
    #: Each column's format (the task's ``columns``), in column order; may be empty.
    formats: list[ColumnSpec] = field(default_factory=list)
    #: The totals row as text, over every row of the result; empty: no totals row.
    totals: list[str] = field(default_factory=list)
    #: The task's locale (None: the default): separators, symbol places, month names
    locale: ReportLocale | None = None

    def numeric(self) -> list[bool]:
        """Which columns are right-aligned (numbers only, as in the PDF)."""
        return numeric_columns(self.rows, self.width())

    def width(self) -> int:
        return len(self.columns) or max((len(r) for r in self.rows), default=0)

    def texts(self) -> list[list[str]]:
        specs = self.formats
        return [
            [format_cell(v, self.zone, specs[i] if i < len(specs) else None, self.locale)
             for i, v in enumerate(row)]
            for row in self.rows
        ]  # fmt: skip

    def cell_css(self, row: int, column: int) -> str:
        """Inline CSS of a preview cell: its column's highlight rules (red, bold, a fill)
        that hold for its value (src/core/highlight.py); empty when none does."""
        specs, values = self.formats, self.rows[row]
        if column >= len(specs) or column >= len(values):
            return ""
        return highlight_css(values[column], specs[column])

    @property
    def more(self) -> int:
        return max(self.total - len(self.rows), 0)

    def caption(self) -> str:
        if self.total == 0:
            return "The query returned no rows."
        if not self.rows:
            return f"The query returned {self.total:,} rows."
        if self.more:
            return f"The first {len(self.rows):,} of {self.total:,} rows:"
        return f"All {self.total:,} rows:"

    def key_figures(self) -> list[KeyFigure]:
        """The row count, then each column's total (over every row of the result, as
        the totals row shows it), captioned with the column's header. A total with
        nothing to show (a sum over no numbers) is left out."""
        figures = [KeyFigure("Rows", format_value(self.total, _COUNT, None, self.locale))]
        for i, spec in enumerate(self.formats):
            if spec.total is None or i >= min(len(self.totals), len(self.columns)):
                continue
            if self.totals[i]:
                caption = f"{self.columns[i]} ({TOTAL_WORDS[spec.total]})"
                figures.append(KeyFigure(caption, self.totals[i]))
        return figures

    def more_line(self) -> str:
        if not (self.more and self.rows):
            return ""
        totals = f" The totals row covers all {self.total:,} rows." if self.totals else ""
        return f"… and {self.more:,} more rows.{totals}"


@dataclass
class ReportBody:
    """Everything the two parts of a report email show, in the order they show it."""

    #: The task's name: the report's title.
    title: str
    #: The rendered body template.
    body: str
    preview: Preview
    footer: str
    #: The task's description (may be empty).
    description: str = ""
    #: When the run was scheduled, in the task's zone (``2026-11-30 08:00 CET``); may be empty.
    run_time: str = ""
    #: Sentences about the run (files zipped or left off, columns not found); the first
    #: one leads, the others are its items.
    notes: Sequence[str] = ()
    #: The files attached to this message.
    attachments: Sequence[AttachedFile] = ()

    def subtitle(self) -> str:
        return f"Run of {self.run_time}" if self.run_time else ""


def plain_body(report: ReportBody) -> str:
    """The plain-text part: title, description, body, key figures, preview table,
    notes, files attached, footer."""
    parts = [report.title, "=" * min(len(report.title), 72)]
    parts += [line for line in (report.description.strip(), report.subtitle()) if line]
    parts += ["", report.body.rstrip(), "", _plain_figures(report.preview.key_figures())]
    preview = report.preview
    parts += ["", preview.caption()]
    if preview.rows:
        parts.append(_plain_table(preview))
    if preview.more_line():
        parts.append(preview.more_line())
    if report.attachments:
        parts += ["", "Attached files:"]
        parts += [f"  {file.text()}" for file in report.attachments]
    notes = report.notes
    if notes:
        parts.append("")
        parts.append(notes[0])
        parts.extend(f"  - {line}" for line in notes[1:])
    parts += ["", "-- ", report.footer]
    return "\n".join(parts) + "\n"


def _plain_figures(figures: Sequence[KeyFigure]) -> str:
    """Captions left, values right-aligned under each other."""
    captions = [_plain_cell(f.caption) for f in figures]
    values = [_plain_cell(f.value) for f in figures]
    left = max(len(c) for c in captions)
    right = max(len(v) for v in values)
    return "\n".join(
        f"{c.ljust(left)}  {v.rjust(right)}" for c, v in zip(captions, values, strict=True)
    )


def _plain_table(preview: Preview) -> str:
    width = preview.width()
    header = list(preview.columns) or [f"column {i + 1}" for i in range(width)]
    right = preview.numeric()
    grid = [
        [_plain_cell(h) for h in header],
        *([_plain_cell(t) for t in r] for r in preview.texts()),
    ]
    if preview.totals:
        grid.append([_plain_cell(t) for t in preview.totals])
    widths = [max(len(r[i]) if i < len(r) else 0 for r in grid) for i in range(width)]

    def line(row: Sequence[str]) -> str:
        padded = [
            (row[i] if i < len(row) else "").rjust(widths[i])
            if right[i]
            else (row[i] if i < len(row) else "").ljust(widths[i])
            for i in range(width)
        ]
        return " | ".join(padded).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    body = [line(r) for r in grid[1:]]
    if preview.totals:  # the totals row under a rule of its own
        body[-1:] = [rule, body[-1]]
    return "\n".join([line(grid[0]), rule, *body])


def _plain_cell(text: str) -> str:
    text = text.replace("\r", " ").replace("\n", " ")
    if len(text) > PLAIN_CELL_CHARS:
        text = text[: PLAIN_CELL_CHARS - 1] + "…"
    return text
