"""The HTML part of a report email: the report laid out for mail clients.

Gmail, Outlook on Windows (Word's engine) and Apple Mail agree only on old HTML, so:

* the layout is nested tables, never divs with float, flex or grid; the report is one
  column 640 px wide (``width`` as an attribute for Outlook, as a style, with
  ``max-width``, for the others, so it also narrows on a phone);
* every style is inline: Gmail drops ``<style>`` blocks in some views, and Outlook does
  not pass a table's font to the tables inside it, so each table names its own;
* spacing is padding on cells (Word drops margins); colours are given as ``bgcolor``
  too; alignment as ``align`` and ``text-align`` on every cell, so nothing inherits the
  centring of the cell the report sits in;
* nothing is fetched: no external image or font (Arial's stack), and a chart comes
  inside the message (``cid:``);
* every text a person or the database gave is escaped, so a ``<script>`` in the data
  shows as text.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from src.core.email_rules import format_size
from src.services.mail.preview import AttachedFile, KeyFigure, Preview, ReportBody

#: The report's width in px: the common width of HTML mail (a reading pane, a phone
#: turned sideways), inside the 600-700 px every client shows without scrolling.
WIDTH = 640
#: Padding left and right of the report's content.
SIDE = 24
#: Key figures side by side at most; more are shared out evenly over more lines (four
#: make two lines of two). Three 18 px amounts such as €12,345,678.90 fit the width.
FIGURES_PER_LINE = 3
FONT = "Arial, Helvetica, sans-serif"

_TEXT = "#1f2933"
_MUTED = "#616e7c"
_PAGE = "#eef1f4"
_LINE = "#d9dee3"
_HEAD = "#f0f3f6"
_STRIPE = "#f8fafb"
_NOTE = "#fff7e6"


def html_body(
    report: ReportBody, chart_cid: str | None = None, chart_alt: str | None = None
) -> str:
    """The HTML part. ``chart_cid``: the Content-ID (without ``<>``) of a chart image
    attached inline to the message, shown under the key figures with ``chart_alt`` as
    its text for clients that hide images (default: "Chart: <title>")."""
    sections = [
        (_header(report), f"{SIDE}px {SIDE}px 8px"),
        (_paragraphs(report.body), f"8px {SIDE}px"),
        (_key_figures(report.preview.key_figures()), f"8px {SIDE}px"),
        (_chart(chart_cid, chart_alt or f"Chart: {report.title}"), f"8px {SIDE}px"),
        (_preview(report.preview), f"12px {SIDE}px 8px"),
        (_attachments(report.attachments), f"8px {SIDE}px"),
        (_notes(report.notes), f"8px {SIDE}px"),
    ]
    rows = [
        f'<tr><td align="left" style="padding:{padding};text-align:left">{content}</td></tr>'
        for content, padding in sections
        if content
    ]
    footer = _p(report.footer, f"margin:0;font-size:12px;line-height:16px;color:{_MUTED}")
    rows.append(
        f'<tr><td align="left" style="padding:12px {SIDE}px {SIDE}px;text-align:left">'
        f'<div style="border-top:1px solid {_LINE};padding-top:12px">{footer}</div></td></tr>'
    )
    title = html.escape(report.title)
    return (
        "\n".join(
            [
                "<!DOCTYPE html>",
                '<html lang="en"><head><meta charset="utf-8">',
                '<meta name="viewport" content="width=device-width, initial-scale=1">',
                f"<title>{title}</title></head>",
                f'<body style="margin:0;padding:0;background-color:{_PAGE}">',
                f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" '
                f'border="0" bgcolor="{_PAGE}" style="width:100%;background-color:{_PAGE}">',
                '<tr><td align="center" style="padding:16px 8px">',
                f'<table role="presentation" class="report" width="{WIDTH}" cellpadding="0" '
                f'cellspacing="0" border="0" bgcolor="#ffffff" style="width:100%;'
                f"max-width:{WIDTH}px;background-color:#ffffff;border:1px solid {_LINE};"
                f'font-family:{FONT};font-size:14px;line-height:20px;color:{_TEXT};text-align:left">',
                *rows,
                "</table>",
                "</td></tr></table>",
                "</body></html>",
            ]
        )
        + "\n"
    )


def _p(text: str, style: str) -> str:
    return f'<p style="{style}">{html.escape(text)}</p>'


def _header(report: ReportBody) -> str:
    out = [
        f'<h1 style="margin:0;font-family:{FONT};font-size:22px;line-height:28px;'
        f'font-weight:bold;color:{_TEXT}">{html.escape(report.title)}</h1>'
    ]
    if report.description.strip():
        out.append(_p(report.description.strip(), f"margin:6px 0 0;font-size:15px;color:{_MUTED}"))
    if report.subtitle():
        out.append(
            _p(report.subtitle(), f"margin:4px 0 0;font-size:12px;line-height:16px;color:{_MUTED}")
        )
    return "\n".join(out)


def _paragraphs(text: str) -> str:
    """The body text, escaped; blank lines part paragraphs, single line breaks are <br>."""
    paragraphs = re.split(r"\n\s*\n", text.strip())
    return "\n".join(
        '<p style="margin:0 0 10px">'
        + "<br>\n".join(html.escape(line) for line in p.splitlines())
        + "</p>"
        for p in paragraphs
        if p.strip()
    )


def _key_figures(figures: Sequence[KeyFigure]) -> str:
    """The figures as tiles, at most FIGURES_PER_LINE to a line and as many on each line
    as can be (each line its own table, so no cell spans columns), with an 8 px gap
    between tiles and lines."""
    lines = []
    count = len(figures)
    per_line = FIGURES_PER_LINE
    if count > FIGURES_PER_LINE:  # ceil(count / lines), lines = ceil(count / FIGURES_PER_LINE)
        per_line = -(-count // -(-count // FIGURES_PER_LINE))
    share = (100 - 2 * (per_line - 1)) // per_line  # and about 2% for each gap
    for start in range(0, len(figures), per_line):
        cells = []
        for figure in figures[start : start + per_line]:
            cells.append(
                f'<td class="figure" width="{share}%" valign="top" bgcolor="{_HEAD}" '
                f'align="left" style="width:{share}%;padding:10px 12px;text-align:left;'
                f'background-color:{_HEAD};border:1px solid {_LINE};font-family:{FONT}">'
                f'<div style="font-size:18px;line-height:24px;font-weight:bold;'
                f'white-space:nowrap;color:{_TEXT}">{html.escape(figure.value)}</div>'
                f'<div style="font-size:12px;line-height:16px;color:{_MUTED}">'
                f"{html.escape(figure.caption)}</div></td>"
            )
        while len(cells) < per_line:
            cells.append(f'<td width="{share}%" style="width:{share}%">&nbsp;</td>')
        gap = '<td width="8" style="width:8px;font-size:0;line-height:0">&nbsp;</td>'
        top = "" if start == 0 else "margin-top:8px;"
        lines.append(
            f'<table role="presentation" class="key-figures" width="100%" cellpadding="0" '
            f'cellspacing="0" border="0" style="width:100%;{top}border-collapse:collapse">'
            f"<tr>{gap.join(cells)}</tr></table>"
        )
    return "\n".join(lines)


def _chart(cid: str | None, alt: str) -> str:
    if not cid:
        return ""
    inner = WIDTH - 2 * SIDE
    return (
        f'<img class="chart" src="cid:{html.escape(cid)}" alt="{html.escape(alt)}" '
        f'width="{inner}" style="display:block;width:100%;max-width:{inner}px;height:auto;'
        f'border:0;outline:none;text-decoration:none">'
    )


#: A data cell's style. Kept short: a preview of 20 rows by 20 columns is 400 cells, and
#: Gmail cuts an HTML part past 102 KB ("[Message clipped]"). Rows are told apart by a
#: stripe on every other row (``bgcolor`` on the row), not by borders on each cell.
_CELL = "padding:5px 8px"


def _cell(tag: str, content: str, right: bool, style: str) -> str:
    """One table cell around ``content`` (HTML, already escaped); numbers, their header
    and their total right-aligned and on one line."""
    align = "right" if right else "left"
    extra = ";white-space:nowrap" if right else ""
    return f'<{tag} align="{align}" style="text-align:{align};{style}{extra}">{content}</{tag}>'


def _highlighted(preview: Preview, row: int, column: int) -> str:
    """A data cell's style, with its column's highlight (red, bold, a fill) when a rule
    holds for its value (src/core/highlight.py)."""
    css = preview.cell_css(row, column)
    return f"{_CELL};{css}" if css else _CELL


def _preview(preview: Preview) -> str:
    caption = _p(preview.caption(), f"margin:0 0 8px;font-size:13px;color:{_MUTED}")
    if not preview.rows:
        return caption
    width = preview.width()
    header = preview.columns or [f"column {i + 1}" for i in range(width)]
    right = preview.numeric()
    head_style = (
        f"padding:6px 8px;border-bottom:2px solid #9aa5b1;background-color:{_HEAD};"
        "font-weight:bold;vertical-align:bottom"
    )
    out = [
        caption,
        f'<table class="preview" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'style="width:100%;border-collapse:collapse;font-family:{FONT};font-size:13px;'
        f'line-height:18px;color:{_TEXT}">',
        f'<thead><tr bgcolor="{_HEAD}">'
        + "".join(_cell("th", html.escape(h), right[i], head_style) for i, h in enumerate(header))
        + "</tr></thead>",
        "<tbody>",
    ]
    for n, row in enumerate(preview.texts()):
        stripe = f' bgcolor="{_STRIPE}"' if n % 2 else ""
        out.append(
            f'<tr valign="top"{stripe}>'
            + "".join(
                _cell("td", html.escape(t), i < width and right[i], _highlighted(preview, n, i))
                for i, t in enumerate(row)
            )
            + "</tr>"
        )
    if preview.totals:
        style = "padding:6px 8px;border-top:2px solid #9aa5b1;font-weight:bold"
        out.append(
            '<tr class="totals">'
            + "".join(
                _cell("td", f"<b>{html.escape(t)}</b>", i < width and right[i], style)
                for i, t in enumerate(preview.totals)
            )
            + "</tr>"
        )
    out.append("</tbody></table>")
    if preview.more_line():
        out.append(_p(preview.more_line(), f"margin:8px 0 0;font-size:13px;color:{_MUTED}"))
    return "\n".join(out)


def _attachments(files: Sequence[AttachedFile]) -> str:
    if not files:
        return ""
    items = "".join(
        f'<tr><td align="left" style="padding:3px 0;text-align:left;font-family:{FONT};'
        f'font-size:13px;line-height:18px">{html.escape(f.name)}'
        f'<span style="color:{_MUTED}">, {format_size(f.size_bytes)}</span>'
        "</td></tr>"
        for f in files
    )
    return (
        _p("Attached files", "margin:0 0 4px;font-size:13px;font-weight:bold")
        + '<table role="presentation" class="attachments" width="100%" cellpadding="0" '
        f'cellspacing="0" border="0" style="width:100%">{items}</table>'
    )


def _notes(notes: Sequence[str]) -> str:
    if not notes:
        return ""
    items = ""
    if len(notes) > 1:
        items = (
            '<ul style="margin:6px 0 0;padding-left:20px">'
            + "".join(f"<li>{html.escape(n)}</li>" for n in notes[1:])
            + "</ul>"
        )
    return (
        f'<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
        f'style="width:100%"><tr><td bgcolor="{_NOTE}" align="left" style="padding:10px 12px;'
        f"text-align:left;background-color:{_NOTE};border-left:4px solid #f0b429;"
        f'font-family:{FONT};font-size:13px;line-height:18px;color:#7a4100">'
        f'<p style="margin:0;font-weight:bold">{html.escape(notes[0])}</p>{items}</td></tr>'
        "</table>"
    )
