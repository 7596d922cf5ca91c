"""The HTML part of a report email as a real browser draws it
(src/services/mail/report_html.py): Debian's headless Chromium renders it to a PNG, and
the positions are read from the page itself (where each cell's text is drawn), never
from the markup.

The HTML comes from a message built by ``build_report_message`` with real files
attached, taken out of the message as a mail client takes it.
"""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest

from src.services.mail import ReportEmail, SmtpSettings, build_report_message
from src.services.mail.report_html import SIDE, WIDTH, html_body
from tests.fixtures.browser import PAGE_WIDTH, text_boxes
from tests.services.mail.test_report_html import demo_report

#: The padding of a preview cell, left and right.
CELL_PADDING = 8
#: How far apart two edges may be and still line up: under a device pixel.
TOLERANCE = 0.5
PNG = b"\x89PNG\r\n\x1a\n"


def demo_message_html(tmp_path: Path) -> str:
    """The HTML part of a message built from the demo-like report, as a client reads it."""
    content = demo_report()
    files = []
    for file in content.attachments:
        path = tmp_path / file.name
        path.write_bytes(b"x" * 2000)
        files.append(path)
    preview = content.preview
    report = ReportEmail(
        task_name=content.title,
        description=content.description,
        to=["sales-team@example.com"],
        subject="Demo sales",
        body=content.body,
        row_count=preview.total,
        columns=preview.columns,
        preview_rows=preview.rows,
        formats=preview.formats,
        totals=preview.totals,
        attachments=files,
    )
    built = build_report_message(report, SmtpSettings.from_env({}, base_dir=tmp_path))
    message = BytesParser(policy=default_policy).parsebytes(built.data)
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())


def render(page: Any, html: str, tmp_path: Path, name: str = "email") -> Path:
    """Load the HTML as a file (as a client shows a message: no server) and save a PNG
    of the whole page."""
    source = tmp_path / f"{name}.html"
    source.write_text(html, encoding="utf-8")
    page.goto(source.as_uri())
    picture = tmp_path / f"{name}.png"
    page.screenshot(path=str(picture), full_page=True)
    data = picture.read_bytes()
    assert data.startswith(PNG) and len(data) > 10_000, "Chromium drew no picture"
    return picture


def column(page: Any, index: int) -> list[dict[str, Any]]:
    """The header, data and totals cells of the preview's column ``index`` (0-based),
    top to bottom, each with where its text is drawn; empty cells left out."""
    boxes = text_boxes(page, f"table.preview tr > :nth-child({index + 1})")
    return [box for box in boxes if box["text"].strip()]


def test_numbers_line_up_on_the_right_under_their_header_and_total(
    page: Any, tmp_path: Path
) -> None:
    render(page, demo_message_html(tmp_path), tmp_path)
    headers = [box["text"] for box in text_boxes(page, "table.preview th")]
    assert headers == ["Date", "Region", "Product", "Units", "Revenue", "Unpaid orders"]
    for index, name in enumerate(headers):
        cells = column(page, index)
        assert len(cells) >= 11, (name, cells)  # header and 10 rows (and its total)
        numeric = name in ("Units", "Revenue", "Unpaid orders")
        edge = "right" if numeric else "left"
        edges = {round(box[edge], 1) for box in cells}
        assert max(edges) - min(edges) <= TOLERANCE, (name, edge, cells)
        # ... and at the cell's own padding, so the text sits where it is meant to
        for box in cells:
            if numeric:
                assert abs(box["cell_right"] - CELL_PADDING - box["right"]) <= TOLERANCE, box
            else:
                assert abs(box["cell_left"] + CELL_PADDING - box["left"]) <= TOLERANCE, box
    totals = text_boxes(page, "table.preview tr.totals td")
    assert [box["text"] for box in totals] == ["Total", "", "", "78", "€1,586.74", "3"]
    revenue = column(page, 4)
    assert revenue[0]["text"] == "Revenue" and revenue[-1]["text"] == "€1,586.74"
    assert abs(revenue[0]["right"] - revenue[-1]["right"]) <= TOLERANCE


def test_a_normal_report_stays_inside_the_email_width(page: Any, tmp_path: Path) -> None:
    render(page, demo_message_html(tmp_path), tmp_path)
    outside = page.evaluate(
        """() => {
            const report = document.querySelector('table.report').getBoundingClientRect();
            const out = [...document.querySelectorAll('table.report *')].filter(e => {
                const box = e.getBoundingClientRect();
                return box.width
                    && (box.left < report.left - 0.5 || box.right > report.right + 0.5);
            }).map(e => e.outerHTML.slice(0, 120));
            return {width: report.width, out: out,
                    scroll: document.documentElement.scrollWidth};
        }"""
    )
    assert 600 <= outside["width"] <= 700 and outside["width"] == WIDTH, outside["width"]
    assert outside["out"] == []
    assert outside["scroll"] <= PAGE_WIDTH  # no horizontal scroll bar
    # the preview fills the content width and no wider
    table = page.locator("table.preview").bounding_box()
    assert table["width"] == pytest.approx(WIDTH - 2 * SIDE - 2, abs=2)
    # key figures: four make two lines of two, inside the report too
    figures = text_boxes(page, "td.figure")
    assert len(figures) == 4
    assert figures[0]["top"] == figures[1]["top"] < figures[2]["top"] == figures[3]["top"]
    assert figures[0]["cell_left"] == figures[2]["cell_left"]


def test_the_chart_sits_between_the_key_figures_and_the_table(page: Any, tmp_path: Path) -> None:
    """No chart is drawn yet (another change adds the image); its slot, given a cid, is
    placed under the figures and within the content width, its alt text shown."""
    render(page, html_body(demo_report(), chart_cid="chart@x", chart_alt="Revenue"), tmp_path)
    chart = page.locator("img.chart").bounding_box()
    figures = page.locator("table.key-figures").last.bounding_box()
    table = page.locator("table.preview").bounding_box()
    assert figures["y"] + figures["height"] <= chart["y"]
    assert chart["y"] + chart["height"] <= table["y"]
    assert chart["width"] <= WIDTH - 2 * SIDE
    assert page.locator("img.chart").get_attribute("alt") == "Revenue"
