"""The body of a report email, in plain text and HTML: text, preview table, notes.

Both forms carry the same content. In HTML every value is escaped, so a ``<script>``
in the data shows as text; in plain text the preview is an aligned table.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from src.core.result import Row

#: A preview cell longer than this is cut (the full value is in the attachment).
PREVIEW_CELL_CHARS = 200
#: Width of a column in the plain-text preview.
PLAIN_CELL_CHARS = 30


def format_cell(value: Any) -> str:
    """How a value reads in the preview: NULL as empty, dates in ISO, long text cut."""
    if value is None:
        text = ""
    elif isinstance(value, datetime):
        text = value.isoformat(sep=" ")
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, bytes | bytearray | memoryview):
        text = f"<{len(value)} bytes>"
    elif isinstance(value, Decimal) and value.is_finite():
        text = format(value, "f")  # str() gives 0E-10 for a zero numeric(30, 10)
    else:
        text = str(value)
    if len(text) > PREVIEW_CELL_CHARS:
        text = text[: PREVIEW_CELL_CHARS - 1] + "…"
    return text


@dataclass
class Preview:
    """The first rows of a result and the total, as shown in the body."""

    columns: list[str]
    rows: list[Row]
    total: int

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
        return f"… and {self.more:,} more rows." if self.more and self.rows else ""


def plain_body(body: str, preview: Preview, notes: Sequence[str], footer: str) -> str:
    parts = [body.rstrip(), "", preview.caption()]
    if preview.rows:
        parts.append(_plain_table(preview.columns, preview.rows))
    if preview.more_line():
        parts.append(preview.more_line())
    if notes:
        parts.append("")
        parts.append(notes[0])
        parts.extend(f"  - {line}" for line in notes[1:])
    parts += ["", "-- ", footer]
    return "\n".join(parts) + "\n"


def _plain_table(columns: Sequence[str], rows: Sequence[Row]) -> str:
    width = len(columns) or max(len(r) for r in rows)
    header = list(columns) or [f"column {i + 1}" for i in range(width)]
    cells = [[_plain_cell(v) for v in row] for row in rows]
    grid = [[_plain_cell(h) for h in header], *cells]
    widths = [max(len(r[i]) if i < len(r) else 0 for r in grid) for i in range(width)]

    def line(row: Sequence[str]) -> str:
        padded = [(row[i] if i < len(row) else "").ljust(widths[i]) for i in range(width)]
        return " | ".join(padded).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([line(grid[0]), rule, *(line(r) for r in grid[1:])])


def _plain_cell(value: Any) -> str:
    text = format_cell(value).replace("\r", " ").replace("\n", " ")
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


def html_body(body: str, preview: Preview, notes: Sequence[str], footer: str) -> str:
    out = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8"></head>',
        '<body style="font-family:sans-serif;font-size:14px">',
        _html_text(body),
        f"<p>{html.escape(preview.caption())}</p>",
    ]
    if preview.rows:
        width = len(preview.columns) or max(len(r) for r in preview.rows)
        header = preview.columns or [f"column {i + 1}" for i in range(width)]
        # Attributes rather than per-cell styles: every mail client honours them, and
        # they keep a 20-row preview small.
        out.append(
            '<table border="1" cellspacing="0" cellpadding="4" '
            'style="border-collapse:collapse;border-color:#ccc;font-size:13px">'
        )
        out.append(
            '<thead><tr style="background:#eee">'
            + "".join(f'<th align="left">{html.escape(h)}</th>' for h in header)
            + "</tr></thead><tbody>"
        )
        for row in preview.rows:
            out.append(
                '<tr valign="top">'
                + "".join(f"<td>{html.escape(format_cell(v))}</td>" for v in row)
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
