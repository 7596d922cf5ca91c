"""The body of a report email (src/services/mail/preview.py)."""

from __future__ import annotations


def test_preview_shows_decimals_in_plain_notation() -> None:
    from decimal import Decimal

    from src.services.mail.preview import format_cell

    assert format_cell(Decimal("0E-10")) == "0.0000000000"
    assert format_cell(Decimal("1.5E+3")) == "1500"
    assert format_cell(Decimal("NaN")) == "NaN"
