"""The body of a report email, in plain text and HTML: text, preview table, notes.

Both forms carry the same content. In HTML every value is escaped, so a ``<script>``
in the data shows as text; in plain text the preview is an aligned table.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from src.core.cell_text import numeric_columns
from src.core.column_format import ColumnSpec, format_value
from src.core.highlight import highlight_css
from src.core.result import Row
from src.core.vocabulary import ReportLocale

#: A preview cell longer than this is cut (the full value is in the attachment).
PREVIEW_CELL_CHARS = 200
#: Width of a column in the plain-text preview.
PLAIN_CELL_CHARS = 30


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

    def more_line(self) -> str:
        if not (self.more and self.rows):
            return ""
        totals = f" The totals row covers all {self.total:,} rows." if self.totals else ""
        return f"… and {self.more:,} more rows.{totals}"


def plain_body(body: str, preview: Preview, notes: Sequence[str], footer: str) -> str:
    parts = [body.rstrip(), "", preview.caption()]
    if preview.rows:
        parts.append(_plain_table(preview))
    if preview.more_line():
        parts.append(preview.more_line())
    if notes:
        parts.append("")
        parts.append(notes[0])
        parts.extend(f"  - {line}" for line in notes[1:])
    parts += ["", "-- ", footer]
    return "\n".join(parts) + "\n"


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


def _html_text(text: str) -> str:
    """Escaped text; blank lines become paragraphs, single line breaks <br>."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n".join(
        "<p>" + "<br>\n".join(html.escape(line) for line in p.splitlines()) + "</p>"
        for p in paragraphs
        if p.strip()
    )


_RIGHT = ' align="right" style="text-align:right"'
_LEFT = ' align="left" style="text-align:left"'


def _td(right: bool, css: str = "") -> str:
    """A data cell's attributes: right-aligned (numbers) and its highlight's inline CSS."""
    if not css:
        return _RIGHT if right else ""
    return (' align="right"' if right else "") + (
        f' style="{"text-align:right;" if right else ""}{html.escape(css)}"'
    )


def chart_img(cid: str, alt: str) -> str:
    """The chart's picture in the HTML body: the inline image part whose Content-ID is
    ``cid`` (message.py attaches it), as wide as the preview; ``alt`` its title."""
    return (
        f'<p><img src="cid:{html.escape(cid)}" alt="{html.escape(alt)}" width="600" '
        'style="display:block;max-width:100%;height:auto;border:0"></p>'
    )


def html_body(
    body: str, preview: Preview, notes: Sequence[str], footer: str, chart: str = ""
) -> str:
    """``chart``: the chart's ``<img>`` (:func:`chart_img`), shown above the preview."""
    out = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"></head>',
        '<body style="font-family:sans-serif;font-size:14px">',
        _html_text(body),
        *([chart] if chart else []),
        f"<p>{html.escape(preview.caption())}</p>",
    ]
    if preview.rows:
        width = preview.width()
        header = preview.columns or [f"column {i + 1}" for i in range(width)]
        # Numbers and their headers are right-aligned: the align attribute (honoured by
        # every client, Outlook's Word engine included) and the same as an inline style
        # (for clients that drop old attributes); other cells say nothing, left by default.
        right = preview.numeric()
        out.append(
            '<table border="1" cellspacing="0" cellpadding="4" '
            'style="border-collapse:collapse;border-color:#ccc;font-size:13px">'
        )
        out.append(
            '<thead><tr style="background:#eee">'
            + "".join(
                f"<th{_RIGHT if right[i] else _LEFT}>{html.escape(h)}</th>"
                for i, h in enumerate(header)
            )
            + "</tr></thead><tbody>"
        )
        for r, row in enumerate(preview.texts()):
            out.append(
                '<tr valign="top">'
                + "".join(
                    f"<td{_td(i < width and right[i], preview.cell_css(r, i))}>"
                    f"{html.escape(t)}</td>"
                    for i, t in enumerate(row)
                )
                + "</tr>"
            )
        if preview.totals:
            out.append(
                '<tr style="font-weight:bold;background:#f4f4f4">'
                + "".join(
                    f"<td{_RIGHT if i < width and right[i] else ''}><b>{html.escape(t)}</b></td>"
                    for i, t in enumerate(preview.totals)
                )
                + "</tr>"
            )
        out.append("</tbody></table>")
    if preview.more_line():
        out.append(f"<p>{html.escape(preview.more_line())}</p>")
    if notes:
        out.append(f'<p style="color:#a40"><b>{html.escape(notes[0])}</b></p>')
        if len(notes) > 1:
            out.append("<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes[1:]) + "</ul>")
    out.append(f'<p style="color:#777;font-size:12px">{html.escape(footer)}</p>')
    out.append("</body></html>")
    return "\n".join(out) + "\n"
