"""What a report email says, and its plain-text part (src/services/mail/preview.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from src.services.mail.preview import AttachedFile, Preview, ReportBody, format_cell, plain_body
from src.services.mail.report_html import html_body
from tests.services.mail.test_report_html import demo_report, read_markup


def report_of(preview: Preview) -> ReportBody:
    return ReportBody("Sales", "Hi", preview, "footer")


def test_preview_shows_decimals_in_plain_notation() -> None:
    assert format_cell(Decimal("0E-10")) == "0.0000000000"
    assert format_cell(Decimal("1.5E+3")) == "1500"
    assert format_cell(Decimal("NaN")) == "NaN"


def test_numbers_are_right_aligned_and_read_as_in_every_export() -> None:
    preview = Preview(
        ["region", "revenue", "at"],
        [["East", 290001.55999999994, datetime(2026, 7, 1, 10, tzinfo=UTC)], ["West", 162.0, None]],
        2,
        ZoneInfo("Europe/Berlin"),
    )
    page = html_body(report_of(preview))
    table = read_markup(page).rows["preview"]
    assert [(c.text, c.align) for c in table[0]] == [
        ("region", "left"), ("revenue", "right"), ("at", "left"),
    ]  # fmt: skip
    assert [(c.text, c.align) for c in table[1]] == [
        ("East", "left"), ("290001.56", "right"), ("2026-07-01 12:00:00", "left"),
    ]  # fmt: skip
    assert [(c.text, c.align) for c in table[2]][1] == ("162", "right")
    text = plain_body(report_of(preview))
    assert "region |   revenue | at\n" in text
    assert "East   | 290001.56 | 2026-07-01 12:00:00\n" in text
    assert "West   |       162 |\n" in text
    assert not re.search(r"5599999|162\.0", page + text)


def test_plain_part_is_the_report_in_monospace() -> None:
    """Title, description and run time, the body, the key figures aligned (values
    right), the table with its totals row under a rule, the files, the footer: the
    same content as the HTML part, in the same order."""
    text = plain_body(demo_report())
    expected = """\
Demo sales
==========
Yesterday's sales by region and product
Run of 2026-11-30 08:00 UTC

Yesterday's sales by region and product are attached.

Rows                          12
Units (total)                 78
Revenue (total)        €1,586.74
Unpaid orders (total)          3

The first 10 of 12 rows:
Date       | Region | Product             | Units |   Revenue | Unpaid orders
-----------+--------+---------------------+-------+-----------+--------------
29.11.2026 | North  | Espresso beans 1 kg |     1 |    €18.50 |             1
29.11.2026 | East   | Milk frother        |     8 |   €279.92 |             0
"""
    assert text.startswith(expected), text
    assert text.endswith(
        """\
-----------+--------+---------------------+-------+-----------+--------------
Total      |        |                     |    78 | €1,586.74 |             3
… and 2 more rows. The totals row covers all 12 rows.

Attached files:
  Demo_sales_2026-11-29.xlsx, 47.5 KB
  Demo_sales_2026-11-29.pdf, 3.1 MB

-- \nSent by db-scheduler for the task "Demo sales".
"""
    ), text


def test_both_parts_carry_the_same_figures_rows_and_files() -> None:
    report = demo_report()
    plain = plain_body(report)
    markup = read_markup(html_body(report))
    for figure in report.preview.key_figures():
        assert figure.caption in plain and figure.value in plain
        assert figure.caption in markup.texts and figure.value in markup.texts
    rows = [*report.preview.texts(), report.preview.totals]
    assert [[c.text for c in r] for r in markup.rows["preview"][1:]] == rows
    for row in rows:
        cells = [cell for cell in row if cell]
        assert any(all(cell in line for cell in cells) for line in plain.splitlines()), row
    for file in report.attachments:
        assert f"  {file.text()}\n" in plain


def test_attached_file_sizes_read_as_in_the_notes() -> None:
    assert AttachedFile("a.csv", 512).text() == "a.csv, 512 bytes"
    assert AttachedFile("sales.xlsx", 48_640).text() == "sales.xlsx, 47.5 KB"
    assert AttachedFile("big.pdf", 20 * 1024**2).text() == "big.pdf, 20.0 MB"


def test_a_report_without_description_or_run_time_leaves_those_lines_out() -> None:
    text = plain_body(ReportBody("Stock", "Hello", Preview(["a"], [], 0), "footer"))
    assert (
        text == "Stock\n=====\n\nHello\n\nRows  0\n\nThe query returned no rows.\n\n-- \nfooter\n"
    )
