"""The pure delivery checks in src/core/email_rules.py."""

from __future__ import annotations

import pytest

from src.core.email_rules import (
    check_send_if,
    format_duration,
    should_send,
    validate_address,
    validate_addresses,
    validate_header_text,
)
from src.core.errors import ValidationError


@pytest.mark.parametrize(
    ("send_if", "rows", "expected"),
    [
        ("always", 0, True),
        ("always", 5, True),
        ("rows", 0, False),
        ("rows", 1, True),
        ("no_rows", 0, True),
        ("no_rows", 3, False),
    ],
)
def test_should_send(send_if: str, rows: int, expected: bool) -> None:
    assert should_send(send_if, rows) is expected


def test_unknown_send_if_lists_choices() -> None:
    with pytest.raises(ValidationError) as info:
        check_send_if("sometimes")
    assert info.value.field == "email.send_if"
    assert "'sometimes'" in str(info.value) and "always, rows, no_rows" in str(info.value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0.42, "0.4 s"), (12.4, "12 s"), (185, "3 min 05 s"), (3725, "1 h 02 min")],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_validate_address_normalizes_and_keeps_display_name() -> None:
    assert validate_address(" Bob@Example.COM ", "email.to[0]") == "Bob@example.com"
    assert validate_address("Bob Smith <bob@example.com>", "f") == '"Bob Smith" <bob@example.com>'
    assert validate_address("ops@mailhost", "f") == "ops@mailhost"  # intranet name


@pytest.mark.parametrize(
    ("addr", "message"),
    [
        ("bob@example.com\r\nBcc: victim@example.com", "line break"),
        ("bob@example.com\nX: y", "line break"),
        ("Evil\r\nBcc: v@example.com <bob@example.com>", "line break"),
        ("", "is empty"),
        ("a@example.com, b@example.com", "one address per entry"),
        ("nope", "not a valid email address"),
    ],
)
def test_validate_address_refuses(addr: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_addresses(["ok@example.com", addr], "email.cc")
    assert info.value.field == "email.cc[1]"
    assert message in str(info.value)


@pytest.mark.parametrize("text", ["Report\r\nBcc: x@example.com", "Report\nX: y", "a\rb", "a\x00"])
def test_header_text_refuses_line_breaks_and_controls(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_header_text(text, "email.subject")
    assert info.value.field == "email.subject"
    assert "single line" in str(info.value)


def test_header_text_accepts_unicode_and_tabs() -> None:
    assert validate_header_text("Umsatz für März\t✓", "email.subject") == "Umsatz für März\t✓"
