"""A task's ``locale``: how numbers, amounts, percentages and month names read.

``"locale": "de"`` makes the PDF, the email and the dry run show ``1.234,50`` and
``1.234,50 €``; ``fr`` shows ``1 234,50 €`` with a narrow no-break space (U+202F) between
the thousands, as French typography has it. The separators, where the currency symbol
stands, the percent sign's spacing and the month names come from the Unicode CLDR, read
through babel (:func:`style_for`), so they are the ones every other CLDR-based program
shows; the locales offered are :class:`~src.core.vocabulary.ReportLocale`.

What is ours, not babel's: the rounding (half away from zero, as Excel shows a number,
so the PDF and the xlsx never disagree by a cent: babel rounds half to even) and which
currencies show a symbol (``€ $ £ ¥``; others their ISO code, as
:data:`src.core.currencies.SYMBOLS` says: babel's ``CA$`` or ``SEK`` differ by locale
and have no Excel code to match).

The xlsx keeps numbers as numbers: :func:`excel_code` gives a format code whose currency
symbol stands where the locale puts it and which carries the locale's Windows LCID
(``[$-407]``), so LibreOffice shows the locale's separators; Excel shows its own
(the reader's) separators, as it does for every file.

The default, ``en``, reads exactly as before locales existed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from babel import Locale

from src.core.vocabulary import DEFAULT_LOCALE, ReportLocale

#: Windows locale ids, for the ``[$-LCID]`` tag of an Excel number format.
LCIDS = {
    ReportLocale.EN: 0x0409,
    ReportLocale.EN_GB: 0x0809,
    ReportLocale.DE: 0x0407,
    ReportLocale.DE_AT: 0x0C07,
    ReportLocale.DE_CH: 0x0807,
    ReportLocale.FR: 0x040C,
    ReportLocale.FR_CH: 0x100C,
    ReportLocale.IT: 0x0410,
    ReportLocale.NL: 0x0413,
}
_NUMBER = re.compile(r"[#0,.]+")


@dataclass(frozen=True)
class Affixes:
    """What stands before and after the digits of a positive and a negative value
    (``¤`` for the currency symbol, ``%`` for the percent sign)."""

    prefix: str
    suffix: str
    negative_prefix: str
    negative_suffix: str


def _split(part: str) -> tuple[str, str]:
    match = _NUMBER.search(part)
    if match is None:
        raise ValueError(f"CLDR pattern without digits: {part!r}")
    return part[: match.start()], part[match.end() :]


def _affixes(pattern: str) -> Affixes:
    """The affixes of a CLDR pattern: ``¤#,##0.00`` or ``¤ #,##0.00;¤ -#,##0.00``."""
    positive, _, negative = pattern.partition(";")
    prefix, suffix = _split(positive)
    if negative:
        return Affixes(prefix, suffix, *_split(negative))
    return Affixes(prefix, suffix, "-" + prefix, suffix)


@dataclass(frozen=True)
class NumberStyle:
    """The CLDR data of one locale that a report uses."""

    locale: ReportLocale
    decimal: str
    group: str
    #: the decimal sign of amounts, where the locale has one of its own (fr_CH: ``.``)
    currency_decimal: str
    currency: Affixes
    percent: Affixes
    percent_sign: str
    #: January .. December, wide (``März``) and abbreviated (``Mär``)
    months: tuple[str, ...]
    months_short: tuple[str, ...]

    @property
    def plain(self) -> bool:
        """True for ``.`` decimals and ``,`` thousands: digits as Python writes them."""
        return self.decimal == "." and self.group == ","

    def digits(self, text: str, amount: bool = False) -> str:
        """``1,234.50`` (Python's form) with this locale's separators: ``1.234,50``
        (``amount``: with the decimal sign of amounts)."""
        decimal = self.currency_decimal if amount else self.decimal
        if decimal == "." and self.group == ",":
            return text
        return "".join(self.group if c == "," else decimal if c == "." else c for c in text)


@cache
def style_for(locale: ReportLocale | str | None) -> NumberStyle:
    """The style of ``locale`` (None: the default, ``en``)."""
    which = ReportLocale(locale) if locale is not None else DEFAULT_LOCALE
    data = Locale.parse(which.value)
    symbols = data.number_symbols["latn"]
    months = data.months["format"]
    return NumberStyle(
        locale=which,
        decimal=symbols["decimal"],
        group=symbols["group"],
        currency_decimal=symbols.get("currencyDecimal", symbols["decimal"]),
        currency=_affixes(data.currency_formats["standard"].pattern),
        percent=_affixes(data.percent_formats[None].pattern),
        percent_sign=symbols["percentSign"],
        months=tuple(months["wide"][m] for m in range(1, 13)),
        months_short=tuple(months["abbreviated"][m].rstrip(".") for m in range(1, 13)),
    )


def _spaced(affix: str, symbol: str, before: bool) -> str:
    """``affix`` with ``¤`` as ``symbol``; a code (``SEK``) right against the digits gets
    a space, as CLDR's currency spacing asks (``SEK 1,234.50``)."""
    text = affix.replace("¤", symbol)
    if symbol[:1].isalpha() and affix:
        if before and affix.endswith("¤"):
            text += " "
        elif not before and affix.startswith("¤"):
            text = " " + text
    return text


def amount_text(digits: str, negative: bool, symbol: str, style: NumberStyle) -> str:
    """An amount (``digits`` already in the locale's form) with its currency symbol."""
    a = style.currency
    pre, post = (a.negative_prefix, a.negative_suffix) if negative else (a.prefix, a.suffix)
    return _spaced(pre, symbol, True) + digits + _spaced(post, symbol, False)


def percent_text(digits: str, negative: bool, style: NumberStyle) -> str:
    a = style.percent
    pre, post = (a.negative_prefix, a.negative_suffix) if negative else (a.prefix, a.suffix)
    sign = style.percent_sign
    return pre.replace("%", sign) + digits + post.replace("%", sign)


# --- the same as Excel number format codes --------------------------------------------------


def lcid_tag(style: NumberStyle) -> str:
    """``[$-407]`` for a locale other than the default: LibreOffice shows that locale's
    separators and Excel its month names; the default adds nothing (as before)."""
    if style.locale is DEFAULT_LOCALE:
        return ""
    return f"[$-{LCIDS[style.locale]:X}]"


def _literal(text: str) -> str:
    """Text shown as it is in an Excel format code: spaces bare, anything else quoted."""
    text = text.replace("\xa0", " ").replace("\u202f", " ")
    return "".join(part if part.isspace() else f'"{part}"' for part in re.split(r"(\s+)", text)
                   if part)  # fmt: skip


def _excel_affix(affix: str, symbol: str | None, before: bool) -> str:
    """An affix as Excel format code text. A currency code is Excel's ``[$SEK]`` token, a
    symbol quoted (``"€"``); in a percent affix (``symbol`` None) the ``%`` stays a code,
    since it is what multiplies by 100."""
    if symbol is None:
        return "".join(p if p == "%" else _literal(p) for p in re.split("(%)", affix) if p)
    if not symbol[:1].isalpha():
        return _literal(affix.replace("¤", symbol))
    parts = re.split(f"({re.escape(symbol)})", _spaced(affix, symbol, before))
    return "".join(f"[${symbol}]" if p == symbol else _literal(p) for p in parts if p)


def excel_amount_code(number_code: str, symbol: str, style: NumberStyle) -> str:
    """An Excel currency code: ``"€"#,##0.00`` (en), ``[$-407]#,##0.00 "€"`` (de); a
    locale whose negative amounts have their own form gets a second section for them."""
    a = style.currency
    positive = _excel_affix(a.prefix, symbol, True) + number_code
    positive += _excel_affix(a.suffix, symbol, False)
    if a.negative_prefix == "-" + a.prefix and a.negative_suffix == a.suffix:
        return lcid_tag(style) + positive
    negative = _excel_affix(a.negative_prefix, symbol, True) + number_code
    negative += _excel_affix(a.negative_suffix, symbol, False)
    return lcid_tag(style) + positive + ";" + lcid_tag(style) + negative


def excel_percent_code(number_code: str, style: NumberStyle) -> str:
    """An Excel percent code: ``#,##0%`` (en), ``[$-407]#,##0 %`` (de)."""
    a = style.percent
    return (
        lcid_tag(style)
        + _excel_affix(a.prefix, None, True)
        + number_code
        + _excel_affix(a.suffix, None, False)
    )
