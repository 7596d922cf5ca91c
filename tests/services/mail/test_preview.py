"""The body of a report email (src/services/mail/preview.py)."""

from __future__ import annotations


def test_preview_shows_decimals_in_plain_notation() -> None:
    from decimal import Decimal

    from src.services.mail.preview import format_cell

    assert format_cell(Decimal("0E-10")) == "0.0000000000"
    assert format_cell(Decimal("1.5E+3")) == "1500"
    assert format_cell(Decimal("NaN")) == "NaN"


def test_numbers_are_right_aligned_and_read_as_in_every_export() -> None:
    import re
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from src.services.mail.preview import Preview, html_body, plain_body

    preview = Preview(
        ["region", "revenue", "at"],
        [["East", 290001.55999999994, datetime(2026, 7, 1, 10, tzinfo=UTC)], ["West", 162.0, None]],
        2,
        ZoneInfo("Europe/Berlin"),
    )
    page = html_body("Hi", preview, [], "footer")
    right = ' align="right" style="text-align:right"'
    left = ' align="left" style="text-align:left"'
    assert f"<th{left}>region</th><th{right}>revenue</th><th{left}>at</th>" in page
    assert f"<td>East</td><td{right}>290001.56</td><td>2026-07-01 12:00:00</td>" in page
    assert f"<td{right}>162</td>" in page
    text = plain_body("Hi", preview, [], "footer")
    assert "region |   revenue | at\n" in text
    assert "East   | 290001.56 | 2026-07-01 12:00:00\n" in text
    assert "West   |       162 |\n" in text
    assert not re.search(r"5599999|162\.0", page + text)
