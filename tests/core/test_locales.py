"""A task's locale (src/core/locales.py): the CLDR's separators, symbol places and month
names through babel, Excel's rounding, and the same as Excel format codes."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from babel.numbers import format_currency, format_decimal, format_percent

from src.core.column_format import ColumnSpec, excel_format, format_value, read_columns
from src.core.locales import style_for
from src.core.vocabulary import ReportLocale, ValueFormat

SPECS, _ = read_columns(
    {
        "amount": {"format": "currency", "currency": "EUR"},
        "fee": {"format": "currency", "currency": "SEK"},
        "number": {"format": "number"},
        "count": {"format": "integer"},
        "share": {"format": "percent", "decimals": 1},
        "day": {"format": "date", "pattern": "dd. mmmm yyyy"},
        "short": {"format": "date", "pattern": "dd mmm yy"},
        "at": {"format": "datetime", "pattern": "dd.mm.yyyy hh:mm"},
    }
)


@pytest.mark.parametrize(
    ("locale", "amount", "negative", "number", "share", "day"),
    [
        (None, "€1,234.50", "-€1,234.50", "1,234.50", "25.0%", "05. March 2026"),
        ("en", "€1,234.50", "-€1,234.50", "1,234.50", "25.0%", "05. March 2026"),
        ("de", "1.234,50\xa0€", "-1.234,50\xa0€", "1.234,50", "25,0\xa0%", "05. März 2026"),
        ("fr", "1\u202f234,50\xa0€", "-1\u202f234,50\xa0€", "1\u202f234,50", "25,0\xa0%",
         "05. mars 2026"),
    ],
)  # fmt: skip
def test_en_de_fr_as_the_issue_asks(
    locale: str | None, amount: str, negative: str, number: str, share: str, day: str
) -> None:
    assert format_value(1234.5, SPECS["amount"], None, locale) == amount
    assert format_value(-1234.5, SPECS["amount"], None, locale) == negative
    assert format_value(1234.5, SPECS["number"], None, locale) == number
    assert format_value(0.25, SPECS["share"], None, locale) == share
    assert format_value(date(2026, 3, 5), SPECS["day"], None, locale) == day


@pytest.mark.parametrize("locale", ReportLocale.values())
def test_every_locale_agrees_with_babel_where_babel_is_the_rule(locale: str) -> None:
    """Separators, the percent sign and the euro's place are CLDR's: babel's own formatter
    writes the same (it is only not used, for its half-even rounding). Where the thousands
    sign is an apostrophe (Swiss), babel's pattern reader takes it for a quote and drops
    it; the CLDR's sign is checked there instead."""
    if style_for(locale).group == "'":
        assert format_value(1234567.5, SPECS["number"], None, locale).count("'") == 2
    else:
        assert format_value(1234567.5, SPECS["number"], None, locale) == format_decimal(
            1234567.5, "#,##0.00", locale=locale
        )
    assert format_value(0.25, SPECS["share"], None, locale) == format_percent(
        0.25,
        format=style_for(locale).percent.prefix + "#,##0.0" + style_for(locale).percent.suffix,
        locale=locale,
    )
    if style_for(locale).group != "'":
        assert format_value(1234.5, SPECS["amount"], None, locale) == format_currency(
            1234.5, "EUR", locale=locale
        ).replace("EUR", "€")  # babel writes the code where a locale has no € of its own


def test_swiss_amounts_and_numbers() -> None:
    assert format_value(1234567.5, SPECS["number"], None, "de_CH") == "1'234'567.50"
    assert format_value(1234.5, SPECS["amount"], None, "de_CH") == "€\xa01'234.50"
    # French Switzerland: a decimal comma, but amounts with a point (CLDR currencyDecimal)
    assert format_value(1234.5, SPECS["number"], None, "fr_CH") == "1'234,50"
    assert format_value(1234.5, SPECS["amount"], None, "fr_CH") == "1'234.50\xa0€"


def test_rounding_is_excels_half_away_from_zero_not_babels_half_even() -> None:
    assert format_decimal(2.5, "#,##0", locale="de") == "2"  # babel: to even
    assert format_value(2.5, SPECS["count"], None, "de") == "3"  # as Excel shows 2.5
    assert format_value(-0.125, ColumnSpec(format=ValueFormat.NUMBER, decimals=2), None, "fr") == (
        "-0,13"
    )


def test_a_currency_code_gets_a_space_and_stands_where_the_symbol_would() -> None:
    assert format_value(1234.5, SPECS["fee"]) == "SEK 1,234.50"  # as before locales
    assert format_value(1234.5, SPECS["fee"], None, "de") == "1.234,50\xa0SEK"
    assert format_value(-1, SPECS["fee"], None, "nl") == "SEK\xa0-1,00"


def test_values_without_a_format_take_the_decimal_sign_only() -> None:
    assert format_value(1234.5, None, None, "de") == "1234,5"  # General: no grouping
    assert format_value(1.5e-7, None, None, "fr") == "1,5E-07"
    assert format_value("a.b", None, None, "de") == "a.b"  # text stays as it is
    assert format_value(date(2026, 3, 5), None, None, "de") == "2026-03-05"  # ISO, unambiguous


def test_dates_by_pattern_with_the_locales_month_names() -> None:
    assert format_value(date(2026, 3, 5), SPECS["short"], None, "de") == "05 März 26"
    assert format_value(date(2026, 3, 5), SPECS["short"]) == "05 Mar 26"
    assert format_value(datetime(2026, 3, 5, 9, 7), SPECS["at"], None, "fr") == "05.03.2026 09:07"


@pytest.mark.parametrize(
    ("name", "locale", "code"),
    [
        ("amount", None, '"€"#,##0.00'),
        ("fee", None, "[$SEK] #,##0.00"),
        ("share", None, "#,##0.0%"),
        ("number", None, "#,##0.00"),
        ("amount", "de", '[$-407]#,##0.00 "€"'),
        ("fee", "de", "[$-407]#,##0.00 [$SEK]"),
        ("share", "de", "[$-407]#,##0.0 %"),
        ("number", "fr", "[$-40C]#,##0.00"),
        ("amount", "nl", '[$-413]"€" #,##0.00;[$-413]"€" "-"#,##0.00'),
        ("day", "de", "[$-407]dd. mmmm yyyy"),
    ],
)
def test_excel_codes_place_the_symbol_and_carry_the_locale(
    name: str, locale: str | None, code: str
) -> None:
    assert excel_format(SPECS[name], locale) == code  # type: ignore[arg-type]


def test_the_default_locale_is_en_and_the_style_is_cldrs() -> None:
    assert style_for(None) == style_for("en")
    fr = style_for("fr")
    assert (fr.decimal, fr.group) == (",", "\u202f")
    assert fr.months[0] == "janvier"
    assert style_for("de_CH").currency.prefix == "¤\xa0"
