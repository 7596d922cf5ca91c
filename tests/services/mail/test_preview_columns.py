"""The email preview with a task's ``columns``: labels, formatted values and the totals
row in the plain and HTML parts (src/services/mail/preview.py)."""

from __future__ import annotations

from src.core.column_format import ReportColumns, read_columns
from src.core.result import Column
from src.services.mail.preview import Preview, ReportBody, plain_body
from src.services.mail.report_html import html_body
from tests.services.mail.test_report_html import read_markup


def preview() -> Preview:
    specs, _ = read_columns(
        {
            "amount": {"label": "Amount", "format": "number", "total": "sum"},
            "secret": {"hidden": True},
        }
    )
    layout = ReportColumns([Column("customer"), Column("amount"), Column("secret")], specs)
    rows = layout.project([["ACME", 1234.5, "x"], ["Globex", 1000, "y"], ["Initech", 1, "z"]])
    layout.add_to_totals(rows)
    return Preview(
        columns=layout.labels,
        rows=rows[:2],
        total=3,
        formats=layout.shown_specs,
        totals=layout.total_texts(),
    )


def report() -> ReportBody:
    return ReportBody("Customers", "Hello", preview(), "footer")


def test_plain_part_shows_labels_formats_and_totals() -> None:
    text = plain_body(report())
    lines = text.splitlines()
    assert any(line.startswith("customer | ") and "Amount" in line for line in lines)
    assert any("ACME" in line and "1,234.50" in line for line in lines)
    assert any(line.startswith("Total") and "2,235.50" in line for line in lines)
    assert "Amount (total)  2,235.50" in lines
    assert "secret" not in text


def test_html_part_shows_labels_formats_and_totals() -> None:
    page = html_body(report())
    table = read_markup(page).rows["preview"]
    assert [c.text for c in table[0]] == ["customer", "Amount"]
    assert [c.text for c in table[1]] == ["ACME", "1,234.50"]
    assert [c.text for c in table[-1]] == ["Total", "2,235.50"]
    assert "<b>Total</b>" in page and "<b>2,235.50</b>" in page
    assert "secret" not in page


def test_the_email_says_the_totals_cover_every_row() -> None:
    assert preview().more_line() == "… and 1 more rows. The totals row covers all 3 rows."
