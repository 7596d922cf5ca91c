"""The HTML part of a report email, as markup (src/services/mail/report_html.py).

How it looks in a real browser is tested in ``test_report_html_browser.py``; here the
markup is read back with the standard library's HTML parser, as a mail client's
sanitiser would read it: what it holds, what it escapes, what it never asks for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from html.parser import HTMLParser

from src.core.column_format import ColumnSpec, ReportColumns, read_columns
from src.core.result import Column
from src.core.vocabulary import TotalKind
from src.services.mail.preview import AttachedFile, Preview, ReportBody
from src.services.mail.report_html import WIDTH, html_body

EVIL = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'


@dataclass
class Cell:
    tag: str
    attrs: dict[str, str]
    text: str = ""

    @property
    def align(self) -> str:
        """The alignment a client that reads either the attribute or the style sees; both
        must agree."""
        style = re.search(r"text-align:(\w+)", self.attrs.get("style", ""))
        assert style and style.group(1) == self.attrs.get("align"), self.attrs
        return style.group(1)


@dataclass
class Markup(HTMLParser):
    """Every element's tag and attributes, the text of each table cell, the tables' rows
    (by the table's class), and every text outside tags."""

    tags: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    rows: dict[str, list[list[Cell]]] = field(default_factory=dict)
    texts: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._tables: list[str] = []
        self._cell: Cell | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        self.tags.append((tag, values))
        if tag == "table":
            self._tables.append(values.get("class", ""))
        elif tag == "tr" and self._tables:
            self.rows.setdefault(self._tables[-1], []).append([])
        elif tag in ("td", "th") and self._tables:
            self._cell = Cell(tag, values)
            self.rows[self._tables[-1]][-1].append(self._cell)

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._tables:
            self._tables.pop()
        elif tag in ("td", "th"):
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self._cell is not None:
            self._cell.text += data


def read_markup(page: str) -> Markup:
    markup = Markup()
    markup.feed(page)
    markup.close()
    return markup


def demo_report(rows: int = 12, shown: int = 10, **fields: object) -> ReportBody:
    """A report like the bundled demo's: labels, a currency, totals, a date column."""
    specs, errors = read_columns(
        {
            "order_date": {"label": "Date", "format": "date", "pattern": "dd.mm.yyyy"},
            "region": {"label": "Region"},
            "product": {"label": "Product"},
            "units": {"label": "Units", "format": "integer", "total": "sum"},
            "revenue": {"label": "Revenue", "format": "currency", "currency": "EUR",
                        "total": "sum"},
            "unpaid_orders": {"label": "Unpaid orders", "format": "integer", "total": "sum"},
        }
    )  # fmt: skip
    assert not errors
    names = ["order_date", "region", "product", "units", "revenue", "unpaid_orders"]
    layout = ReportColumns([Column(n) for n in names], specs)
    products = [("Espresso beans 1 kg", 18.5), ("Milk frother", 34.99), ("Ceramic mug", 9.0)]
    data = []
    for i in range(rows):
        product, price = products[i % 3]
        units = 1 + (i * 7) % 12
        data.append([date(2026, 11, 29), ("North", "East")[i % 2], product, units,
                     round(price * units, 2), int(i % 4 == 0)])  # fmt: skip
    projected = layout.project(data)
    layout.add_to_totals(projected)
    preview = Preview(
        layout.labels,
        projected[:shown],
        rows,
        formats=layout.shown_specs,
        totals=layout.total_texts(),
    )
    values: dict[str, object] = {
        "title": "Demo sales",
        "body": "Yesterday's sales by region and product are attached.",
        "preview": preview,
        "footer": 'Sent by db-scheduler for the task "Demo sales".',
        "description": "Yesterday's sales by region and product",
        "run_time": "2026-11-30 08:00 UTC",
        "attachments": [AttachedFile("Demo_sales_2026-11-29.xlsx", 48_640),
                        AttachedFile("Demo_sales_2026-11-29.pdf", 3_300_000)],
    }  # fmt: skip
    values.update(fields)
    return ReportBody(**values)  # type: ignore[arg-type]


def test_the_report_has_title_description_key_figures_table_totals_and_files() -> None:
    report = demo_report()
    markup = read_markup(html_body(report))
    text = " ".join(" ".join(markup.texts).split())
    assert "<title>Demo sales</title>" in html_body(report)
    assert [t for t, _ in markup.tags if t == "h1"] == ["h1"]
    for expected in (
        "Demo sales",
        "Yesterday's sales by region and product",
        "Run of 2026-11-30 08:00 UTC",
        "Yesterday's sales by region and product are attached.",
        "The first 10 of 12 rows:",
        "… and 2 more rows. The totals row covers all 12 rows.",
        "Attached files",
        'Sent by db-scheduler for the task "Demo sales".',
    ):
        assert expected in text, expected
    # key figures: the row count, then each total over all 12 rows (not the 10 shown)
    figures = [c.text for row in markup.rows["key-figures"] for c in row if c.text.strip()]
    assert figures == [
        "12Rows",
        "78Units (total)",
        "€1,586.74Revenue (total)",  # the 10 rows shown sum to €1,147.85
        "3Unpaid orders (total)",
    ]
    assert [c.text for row in markup.rows["attachments"] for c in row] == [
        "Demo_sales_2026-11-29.xlsx, 47.5 KB",
        "Demo_sales_2026-11-29.pdf, 3.1 MB",
    ]
    table = markup.rows["preview"]
    assert [c.text for c in table[0]] == [
        "Date", "Region", "Product", "Units", "Revenue", "Unpaid orders",
    ]  # fmt: skip
    assert [c.text for c in table[1]] == [
        "29.11.2026", "North", "Espresso beans 1 kg", "1", "€18.50", "1",
    ]  # fmt: skip
    assert len(table) == 1 + 10 + 1
    assert [c.text for c in table[-1]] == ["Total", "", "", "78", "€1,586.74", "3"]


def test_numbers_their_headers_and_totals_are_right_aligned_text_left() -> None:
    table = read_markup(html_body(demo_report())).rows["preview"]
    expected = ["left", "left", "left", "right", "right", "right"]
    for row in table:
        assert [cell.align for cell in row] == expected
    assert [cell.tag for cell in table[0]] == ["th"] * 6
    # numbers never break across lines; text may
    assert all("white-space:nowrap" in c.attrs["style"] for c in table[1][3:])
    assert not any("white-space:nowrap" in c.attrs["style"] for c in table[1][:3])


def test_the_chart_goes_under_the_key_figures_when_given() -> None:
    report = demo_report()
    assert "<img" not in html_body(report)
    page = html_body(report, chart_cid="chart-1@db-scheduler", chart_alt="Revenue by region")
    images = [attrs for tag, attrs in read_markup(page).tags if tag == "img"]
    assert images == [
        {
            "class": "chart",
            "src": "cid:chart-1@db-scheduler",
            "alt": "Revenue by region",
            "width": str(WIDTH - 48),
            "style": images[0]["style"],
        }
    ]
    assert page.index('class="key-figures"') < page.index("<img") < page.index('class="preview"')
    default = read_markup(html_body(report, chart_cid="c1"))
    assert [a["alt"] for t, a in default.tags if t == "img"] == ["Chart: Demo sales"]


def test_everything_a_person_or_the_database_gave_is_escaped() -> None:
    specs, _ = read_columns({"v": {"label": EVIL, "total": "count"}})
    layout = ReportColumns([Column("v")], specs)
    rows = layout.project([[EVIL]])
    layout.add_to_totals(rows)
    report = ReportBody(
        title=EVIL,
        body=EVIL,
        preview=Preview(layout.labels, rows, 1, formats=layout.shown_specs,
                        totals=layout.total_texts()),
        footer=EVIL,
        description=EVIL,
        run_time=EVIL,
        notes=[EVIL, EVIL],
        attachments=[AttachedFile(EVIL, 1)],
    )  # fmt: skip
    page = html_body(report, chart_cid='x" onload="alert(1)', chart_alt=EVIL)
    markup = read_markup(page)
    assert "<script" not in page
    assert not [name for _, attrs in markup.tags for name in attrs if name.startswith("on")]
    assert [t for t, _ in markup.tags if t == "img"] == ["img"]  # only the chart
    (chart,) = [a for t, a in markup.tags if t == "img"]
    assert chart["src"] == 'cid:x" onload="alert(1)' and "onload" not in chart
    # each given text shows whole, as text: title, description, run time, body, header,
    # cell, figure caption, notes, file name, footer
    assert "".join(markup.texts).count(EVIL) >= 11


def test_nothing_is_fetched_and_styles_are_inline() -> None:
    page = html_body(demo_report(), chart_cid="c1")
    markup = read_markup(page)
    tags = {t for t, _ in markup.tags}
    assert not tags & {"style", "link", "script", "iframe", "object", "embed", "video"}
    for _, attrs in markup.tags:
        for name in ("src", "href", "background"):
            assert not attrs.get(name, "cid:").startswith(("http", "//")), attrs
    assert "url(" not in page and "@import" not in page and "@font-face" not in page
    # layout by tables: the report's width for Outlook (attribute) and the others (style)
    (report,) = [a for t, a in markup.tags if a.get("class") == "report"]
    assert report["width"] == str(WIDTH) and f"max-width:{WIDTH}px" in report["style"]
    assert "div" not in {t for t, a in markup.tags if "float" in a.get("style", "")}
    assert not re.search(r"display:\s*(flex|grid)|float:|position:", page)


def test_key_figures_share_lines_evenly_and_skip_empty_totals() -> None:
    report = demo_report(rows=0, shown=0)
    markup = read_markup(html_body(report))
    # no rows: the row count alone (sums over nothing have nothing to show)
    assert [c.text for r in markup.rows["key-figures"] for c in r if c.text.strip()] == ["0Rows"]
    assert "preview" not in markup.rows
    assert "The query returned no rows." in markup.texts
    full = read_markup(html_body(demo_report()))
    lines = [[c for c in row if c.attrs.get("class") == "figure"]
             for row in full.rows["key-figures"]]  # fmt: skip
    assert [len(line) for line in lines] == [2, 2]  # four: two lines of two, not 3 + 1
    assert lines[0][0].attrs["width"] == "49%"
    summed = ColumnSpec(total=TotalKind.SUM)
    preview = Preview(["a", "b"], [[1, 2]], 1, formats=[summed, summed], totals=["1", "2"])
    three = read_markup(html_body(ReportBody("T", "", preview, "")))
    tiles = [[c.attrs.get("class") for c in row] for row in three.rows["key-figures"]]
    assert tiles == [["figure", None, "figure", None, "figure"]]  # the gaps between


def test_notes_lead_with_the_first_and_list_the_rest() -> None:
    notes = ["The attachments were left off:", "/srv/a.xlsx (1.0 MB)", "/srv/b.pdf (2.0 MB)"]
    page = html_body(demo_report(notes=notes, attachments=[]))
    markup = read_markup(page)
    assert "Attached files" not in markup.texts
    assert [t for t, _ in markup.tags].count("li") == 2
    assert page.index(notes[0]) < page.index(notes[1]) < page.index(notes[2])
