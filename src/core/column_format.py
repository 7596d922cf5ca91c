"""A task's ``columns``: labels, value formats, hidden columns and a totals row.

``"columns": {"amount": {"label": "Amount", "format": "currency", "currency": "EUR",
"total": "sum"}}`` is read by :func:`read_columns` (when a task is saved, loaded or
validated: every problem with its field path) and applied by :class:`ReportColumns` (when
a run writes its files: unknown column names become notes, never a failed run).

One rule for text: :func:`format_value` is how a formatted value reads in the PDF, the
email preview and the dry run (values without a format read as :func:`cell_text` says);
:func:`excel_format` is the same format as an Excel number format code, so the xlsx keeps
numbers as numbers and shows them the same way (``#,##0.00``, ``"€"#,##0.00``, ``0.0%``).

Totals are kept while the rows stream (:class:`Totals`: a count, a sum, a min and a max
per column, nothing per row), so a report of any size adds no memory and no second pass.

Longer than ~400 lines on purpose: a format's check, its Excel code and its text are kept
side by side, so a new format is one change in one file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from src.core.cell_text import cell_text, is_number, is_number_type, number_text
from src.core.currencies import ISO_4217, SYMBOLS
from src.core.errors import ValidationError
from src.core.highlight import HighlightRule, read_rules
from src.core.locales import (
    NumberStyle,
    amount_text,
    excel_amount_code,
    excel_percent_code,
    lcid_tag,
    percent_text,
    style_for,
)
from src.core.result import Column, Row
from src.core.text_batch import NULL, TextBatch, TextKind, column_values, may_hold_text
from src.core.vocabulary import ColumnType, ReportLocale, TotalKind, ValueFormat

#: Decimals a number, currency or percent format may ask for (Excel shows at most 30;
#: past 10 a double's digits are noise anyway).
MAX_DECIMALS = 10
#: Decimals when a format does not say: cents for amounts and numbers, whole percents.
DEFAULT_DECIMALS = {ValueFormat.NUMBER: 2, ValueFormat.CURRENCY: 2, ValueFormat.PERCENT: 0}
DEFAULT_PATTERNS = {ValueFormat.DATE: "yyyy-mm-dd", ValueFormat.DATETIME: "yyyy-mm-dd hh:mm:ss"}
#: Formats whose values are not numbers: only ``count`` (and for dates min / max) totals.
_TOTALS_ALLOWED = {
    ValueFormat.TEXT: (TotalKind.COUNT,),
    ValueFormat.BOOLEAN: (TotalKind.COUNT,),
    ValueFormat.DATE: (TotalKind.MIN, TotalKind.MAX, TotalKind.COUNT),
    ValueFormat.DATETIME: (TotalKind.MIN, TotalKind.MAX, TotalKind.COUNT),
}
#: The word in the totals row's first cell, when that column has no total of its own.
TOTAL_LABEL = "Total"
_KEYS = ("label", "format", "decimals", "currency", "pattern", "words", "thousands", "hidden",
         "total", "highlight")  # fmt: skip
#: Date pattern tokens (Excel's), longest first.
_TOKENS = re.compile(r"yyyy|yy|mmmm|mmm|mm|dd|hh|ss|[ \-./:,T]")
#: Formats whose values are never numbers: no highlight rule can hold for them.
_NOT_NUMBERS = (ValueFormat.TEXT, ValueFormat.BOOLEAN, ValueFormat.DATE, ValueFormat.DATETIME)


@dataclass(frozen=True)
class ColumnSpec:
    """One entry of ``columns``; every field optional (None: as with no configuration)."""

    label: str | None = None
    format: ValueFormat | None = None
    decimals: int | None = None
    currency: str | None = None
    pattern: str | None = None
    words: tuple[str, str] | None = None
    thousands: bool | None = None
    hidden: bool = False
    total: TotalKind | None = None
    #: Rules that show a cell red, bold or filled (src/core/highlight.py)
    highlight: tuple[HighlightRule, ...] = ()

    @property
    def places(self) -> int:
        """Decimals shown: as set, else the format's default (0 for integer)."""
        if self.decimals is not None:
            return self.decimals
        return DEFAULT_DECIMALS.get(self.format, 0) if self.format else 0

    @property
    def grouped(self) -> bool:
        """Thousands separators: on unless ``thousands`` is false."""
        return self.thousands is not False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in _KEYS:
            value = getattr(self, key)
            if (key == "hidden" and not value) or (key == "highlight" and not value):
                continue
            if key == "highlight":
                out[key] = [rule.to_dict() for rule in value]
            elif value is not None:
                out[key] = list(value) if key == "words" else value
        return out


def _pattern_parts(pattern: str) -> list[str] | None:
    """The tokens of a date pattern (``dd.mm.yyyy``), or None when it has others."""
    parts = _TOKENS.findall(pattern)
    return parts if "".join(parts) == pattern and parts else None


def read_columns(
    raw: Any, types: Mapping[str, ColumnType] | None = None
) -> tuple[dict[str, ColumnSpec], list[ValidationError]]:
    """The tasks.json ``columns`` object checked: the specs and every problem found."""
    errors: list[ValidationError] = []
    if raw is None:
        return {}, errors
    if not isinstance(raw, Mapping):
        example = '{"amount": {"label": "Amount", "format": "currency", "currency": "EUR"}}'
        return {}, [ValidationError("columns", f"{raw!r} is not an object like {example}")]
    specs: dict[str, ColumnSpec] = {}
    for name, entry in raw.items():
        path = f"columns.{name}"
        if not isinstance(name, str) or not name:
            errors.append(ValidationError("columns", f"{name!r} is not a column name"))
            continue
        if not isinstance(entry, Mapping):
            example = '{"label": "Amount"}'
            errors.append(ValidationError(path, f"{entry!r} is not an object like {example}"))
            continue
        before = len(errors)
        spec = _read_spec(path, entry, (types or {}).get(name), errors)
        if len(errors) == before:
            specs[name] = spec
    return specs, errors


def _read_spec(
    path: str, entry: Mapping[str, Any], declared: ColumnType | None, errors: list[ValidationError]
) -> ColumnSpec:
    def fail(key: str, message: str) -> None:
        errors.append(ValidationError(f"{path}.{key}", message))

    for key in entry:
        if key not in _KEYS:
            fail(key, f"unknown setting; known: {', '.join(_KEYS)}")
    label = entry.get("label")
    if label is not None and (not isinstance(label, str) or not label.strip()):
        fail("label", f"{label!r} is not a header text")
    fmt = entry.get("format")
    if fmt is not None and fmt not in ValueFormat.values():
        fail("format", f"unknown format {fmt!r}; known: {', '.join(ValueFormat.values())}")
        fmt = None
    kind = ValueFormat(fmt) if fmt is not None else None
    decimals = entry.get("decimals")
    if decimals is not None:
        if kind not in DEFAULT_DECIMALS:
            fail("decimals", "only a number, currency or percent format has decimals")
        elif isinstance(decimals, bool) or not isinstance(decimals, int):
            fail("decimals", f"{decimals!r} is not a whole number from 0 to {MAX_DECIMALS}")
        elif not 0 <= decimals <= MAX_DECIMALS:
            fail("decimals", f"{decimals} is out of range: give 0 to {MAX_DECIMALS}")
    currency = entry.get("currency")
    if kind is ValueFormat.CURRENCY and currency is None:
        fail("currency", 'a currency format needs its ISO 4217 code, e.g. "currency": "EUR"')
    elif currency is not None:
        if kind is not ValueFormat.CURRENCY:
            fail("currency", 'only a "currency" format has a currency')
        elif not isinstance(currency, str) or currency not in ISO_4217:
            fail("currency", f"{currency!r} is not an ISO 4217 currency code (EUR, USD, CHF...)")
    pattern = entry.get("pattern")
    if pattern is not None:
        if kind not in DEFAULT_PATTERNS:
            fail("pattern", "only a date or datetime format has a pattern")
        elif not isinstance(pattern, str) or _pattern_parts(pattern) is None:
            fail(
                "pattern",
                f"{pattern!r} is not a date pattern of yyyy, yy, mmmm, mmm, mm, dd, hh, ss and "
                "the separators - . / : , space (e.g. dd.mm.yyyy hh:mm)",
            )
    words = entry.get("words")
    if kind is ValueFormat.BOOLEAN and words is None:
        fail("words", 'a boolean format needs the two words to show, e.g. ["paid", "open"]')
    elif words is not None:
        if kind is not ValueFormat.BOOLEAN:
            fail("words", 'only a "boolean" format has words')
        elif not (
            isinstance(words, list) and len(words) == 2 and all(isinstance(w, str) for w in words)
        ):
            fail("words", f'{words!r} is not two words, for true and false: ["paid", "open"]')
    thousands = entry.get("thousands")
    if thousands is not None and not isinstance(thousands, bool):
        fail("thousands", f"{thousands!r} is not true or false")
    hidden = entry.get("hidden", False)
    if not isinstance(hidden, bool):
        fail("hidden", f"{hidden!r} is not true or false")
    total = entry.get("total")
    if total is not None:
        if total not in TotalKind.values():
            fail("total", f"unknown total {total!r}; known: {', '.join(TotalKind.values())}")
        else:
            text_kind = ValueFormat.TEXT if declared is ColumnType.TEXT else kind
            allowed = _TOTALS_ALLOWED.get(text_kind) if text_kind else None
            if allowed is not None and total not in allowed:
                fail(
                    "total",
                    f"a {text_kind} column cannot have a {total} total; it can have "
                    + ", ".join(allowed),
                )
    highlight = read_rules(entry.get("highlight"), f"{path}.highlight", errors)
    not_numbers = ValueFormat(str(declared)) if declared is not None else kind
    if highlight and not_numbers in _NOT_NUMBERS:
        fail(
            "highlight",
            f"a {not_numbers} column holds no numbers, so no rule could hold; highlight "
            "compares numbers (e.g. a number, currency or percent column)",
        )
    return ColumnSpec(
        label=label.strip() if isinstance(label, str) else None,
        format=kind,
        decimals=decimals if isinstance(decimals, int) and not isinstance(decimals, bool) else None,
        currency=currency if isinstance(currency, str) else None,
        pattern=pattern if isinstance(pattern, str) else None,
        words=(words[0], words[1]) if isinstance(words, list) and len(words) == 2 else None,
        thousands=thousands if isinstance(thousands, bool) else None,
        hidden=hidden is True,
        total=TotalKind(total) if total in TotalKind.values() else None,
        highlight=highlight,
    )


def declared_types(
    specs: Mapping[str, ColumnSpec], types: Mapping[str, ColumnType]
) -> dict[str, ColumnType]:
    """The column types a run declares: ``types``, and a ``date`` / ``datetime`` format
    where ``types`` says nothing (so SQLite's ISO text takes the format too)."""
    implied = {
        name: ColumnType(spec.format.value)
        for name, spec in specs.items()
        if spec.format in (ValueFormat.DATE, ValueFormat.DATETIME)
    }
    return {**implied, **types}


# --- one format, two forms: Excel's code and the text ---------------------------------------


def _number_code(spec: ColumnSpec) -> str:
    whole = "#,##0" if spec.grouped else "0"
    return whole + ("." + "0" * spec.places if spec.places else "")


def excel_format(spec: ColumnSpec, locale: ReportLocale | None = None) -> str | None:
    """The Excel number format code of a spec, None when the cell keeps its own. The
    ``locale`` places the currency symbol and tags the code with its LCID (``[$-407]``);
    the default locale's codes carry no tag."""
    kind = spec.format
    style = style_for(locale)
    if kind in (ValueFormat.INTEGER, ValueFormat.NUMBER):
        return lcid_tag(style) + _number_code(spec)
    if kind is ValueFormat.CURRENCY:
        code = spec.currency or ""
        return excel_amount_code(_number_code(spec), SYMBOLS.get(code, code), style)
    if kind is ValueFormat.PERCENT:
        return excel_percent_code(_number_code(spec), style)
    if kind in DEFAULT_PATTERNS:
        return lcid_tag(style) + (spec.pattern or DEFAULT_PATTERNS[kind])
    if kind is ValueFormat.TEXT:
        return "@"
    return None


def _rounded(value: Any, places: int) -> Decimal | None:
    """A number rounded half away from zero, as Excel shows it; None if not a number."""
    if not is_number(value):
        return None
    try:
        exact = Decimal(number_text(value)) if isinstance(value, float) else Decimal(value)
        return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return None


def _date_text(moment: date, pattern: str, style: NumberStyle) -> str:
    """A date by an Excel pattern; month names in the locale's words."""
    parts = _pattern_parts(pattern) or []
    clock = moment if isinstance(moment, datetime) else None
    out = []
    for i, part in enumerate(parts):
        if part == "mm":  # minutes next to hours or seconds, else the month (as Excel reads it)
            minutes = any(p in ("hh", "ss") for p in parts[max(i - 2, 0) : i + 3])
            number = (clock.minute if clock else 0) if minutes else moment.month
            out.append(f"{number:02d}")
        elif part == "yyyy":
            out.append(f"{moment.year:04d}")
        elif part == "yy":
            out.append(f"{moment.year % 100:02d}")
        elif part == "mmmm":
            out.append(style.months[moment.month - 1])
        elif part == "mmm":
            out.append(style.months_short[moment.month - 1])
        elif part == "dd":
            out.append(f"{moment.day:02d}")
        elif part in ("hh", "ss"):
            out.append(f"{(clock.hour if part == 'hh' else clock.second) if clock else 0:02d}")
        else:
            out.append(part)
    return "".join(out)


def format_value(
    value: Any,
    spec: ColumnSpec | None,
    zone: ZoneInfo | None = None,
    locale: ReportLocale | None = None,
) -> str:
    """How a value of a formatted column reads as text: the same as Excel shows it with
    :func:`excel_format`, in the ``locale``'s separators, symbol places and month names. A
    value the format does not fit (text in a number column, NULL) reads as
    :func:`cell_text` says, a number with the locale's decimal sign."""
    kind = spec.format if spec else None
    style = style_for(locale)
    if spec is None or kind is None or value is None:
        return _plain(value, zone, style)
    if kind in (ValueFormat.INTEGER, ValueFormat.NUMBER, ValueFormat.CURRENCY):
        number = _rounded(value, spec.places)
        if number is None:
            return _plain(value, zone, style)
        digits = format(abs(number), f"{',' if spec.grouped else ''}.{spec.places}f")
        text = style.digits(digits, amount=kind is ValueFormat.CURRENCY)
        if kind is ValueFormat.CURRENCY:
            code = spec.currency or ""
            return amount_text(text, number < 0, SYMBOLS.get(code, code), style)
        return ("-" if number < 0 else "") + text
    if kind is ValueFormat.PERCENT:
        number = _rounded(value * 100, spec.places) if is_number(value) else None
        if number is None:
            return _plain(value, zone, style)
        text = style.digits(format(abs(number), f"{',' if spec.grouped else ''}.{spec.places}f"))
        return percent_text(text, number < 0, style)
    if kind in DEFAULT_PATTERNS and isinstance(value, date):
        moment: date = value
        if isinstance(moment, datetime) and moment.tzinfo is not None and zone is not None:
            moment = moment.astimezone(zone).replace(tzinfo=None)
        return _date_text(moment, spec.pattern or DEFAULT_PATTERNS[kind], style)
    if kind is ValueFormat.BOOLEAN and isinstance(value, bool | int):
        assert spec.words is not None
        return spec.words[0] if value else spec.words[1]
    return _plain(value, zone, style)


def _plain(value: Any, zone: ZoneInfo | None, style: NumberStyle) -> str:
    """A value without a format: :func:`cell_text`, a number's decimal sign the locale's."""
    text = cell_text(value, zone)
    if style.decimal != "." and is_number(value):
        return text.replace(".", style.decimal)
    return text


# --- a run: the specs applied to a result --------------------------------------------------


class Totals:
    """Running totals of the columns that have one: for each, what its kind needs (a count
    of values, the sum and count of its numbers, or its smallest and largest value)."""

    def __init__(self, kinds: Mapping[int, TotalKind]) -> None:
        self.kinds = dict(kinds)
        self.count = dict.fromkeys(self.kinds, 0)
        self.numbers = dict.fromkeys(self.kinds, 0)
        self.sum: dict[int, Any] = dict.fromkeys(self.kinds, 0)
        self.min: dict[int, Any] = {}
        self.max: dict[int, Any] = {}

    def take(self, other: Totals) -> None:
        """Hold what ``other`` counted (the run's totals, counted in another process,
        for the writers that hold this object)."""
        if other.kinds != self.kinds:
            raise ValueError(f"totals of other columns: {other.kinds} for {self.kinds}")
        self.count, self.numbers, self.sum = dict(other.count), dict(other.numbers), dict(other.sum)
        self.min, self.max = dict(other.min), dict(other.max)

    def add(self, rows: Iterable[Row]) -> None:
        """Count a batch in, a column at a time (a loop per column, not per cell), each
        column for its own kind only. A text batch's count is its fields that are not
        NULL (no value decoded), and the min / max of plain ISO dates is taken on their
        text (the same order), so only those two are decoded."""
        if not self.kinds:
            return
        batch = rows if isinstance(rows, (list, TextBatch)) else list(rows)
        for i, kind in self.kinds.items():
            if kind is TotalKind.COUNT:
                self.count[i] += _present(batch, i)
            elif kind is TotalKind.SUM or kind is TotalKind.AVG:
                self._add_numbers(i, _values(column_values(batch, i)))
            else:
                values = _plain_dates(batch, i)
                if values is None:
                    values = _values(column_values(batch, i))
                if values:
                    self._min_max(i, values)

    def _add_numbers(self, i: int, values: list[Any]) -> None:
        types = set(map(type, values))
        numeric = {t for t in types if is_number_type(t)}
        numbers = values if numeric == types else [v for v in values if type(v) in numeric]
        self.numbers[i] += len(numbers)
        total = self.sum[i]
        if numbers and numeric <= _EXACT:  # sum() adds them in order, as below: the same
            try:
                self.sum[i] = sum(numbers, total)
                return
            except TypeError:  # a float total so far, Decimals now: one by one below
                pass
        for number in numbers:  # in order, as one by one: the same float sum
            try:
                total += number
            except TypeError:  # Decimal + float
                total = float(total) + float(number)
        self.sum[i] = total

    def _min_max(self, i: int, values: list[Any]) -> None:
        """The batch's smallest and largest value into the column's: by ``min`` / ``max``
        where they give what comparing one by one gives (values that compare, the first
        not NaN), else one by one, skipping values that do not compare."""
        first = values[0]
        try:
            if first == first:
                low, high = min(values), max(values)
                if i in self.min and not low < self.min[i]:
                    low = self.min[i]
                if i in self.max and not high > self.max[i]:
                    high = self.max[i]
                self.min[i], self.max[i] = low, high
                return
        except (TypeError, ArithmeticError):  # see below
            pass
        for value in values:
            try:
                if i not in self.min or value < self.min[i]:
                    self.min[i] = value
                if i not in self.max or value > self.max[i]:
                    self.max[i] = value
            except (TypeError, ArithmeticError):
                # values that do not compare: text among numbers, a Decimal and a NaN
                # (Decimal raises InvalidOperation where a float says False)
                pass

    def value(self, index: int) -> Any:
        """The total of the column ``index`` (of the full row), None when there is none
        (counted only by :meth:`add`: the counts and sums of other kinds stay 0)."""
        kind = self.kinds.get(index)
        if kind is TotalKind.COUNT:
            return self.count[index]
        if kind is TotalKind.SUM:
            return self.sum[index] if self.numbers[index] else None
        if kind is TotalKind.AVG:
            n = self.numbers[index]
            return (float(self.sum[index]) / n) if n else None
        if kind is TotalKind.MIN:
            return self.min.get(index)
        if kind is TotalKind.MAX:
            return self.max.get(index)
        return None


#: Number types whose sum does not depend on how it is added up (floats are added one by one).
_EXACT = frozenset({int, Decimal})


def _values(values: Sequence[Any]) -> list[Any]:
    """The values a total counts: not NULL, not empty text. (Only text can be empty text:
    a column without any is not compared with "", which costs a Decimal ~1 µs.)"""
    if any(issubclass(kind, str) for kind in set(map(type, values))):
        return [v for v in values if v is not None and v != ""]
    return [v for v in values if v is not None]


def _present(batch: Sequence[Row], i: int) -> int:
    """How many values of column ``i`` a count total counts."""
    if isinstance(batch, TextBatch) and not may_hold_text(batch, i):
        return len(batch) - batch.fields[i].count(NULL)  # digits, dates, ...: never empty
    return len(_values(column_values(batch, i)))


def _plain_dates(batch: Sequence[Row], i: int) -> list[Any] | None:
    """The smallest and largest date of a text batch's date column whose values are all
    plain ``YYYY-MM-DD`` (whose text sorts as the dates do), decoded; None otherwise."""
    if not isinstance(batch, TextBatch) or batch.kind_of(i) is not TextKind.DATE:
        return None
    fields = [f for f in batch.fields[i] if f != NULL]
    if not fields:
        return []
    if set(map(len, fields)) != {10} or min(fields) < "0" or max(fields) >= ":":
        return None  # infinity, a BC date
    return [batch.value(i, min(fields)), batch.value(i, max(fields))]


class ReportColumns:
    """A task's ``columns`` applied to one result: which columns show, under which header,
    how their values read, and their totals."""

    def __init__(
        self,
        columns: Sequence[Column],
        specs: Mapping[str, ColumnSpec] | None = None,
        locale: ReportLocale | None = None,
        counted: Totals | None = None,
    ):
        """``counted``: the totals of the same result, counted by someone else (a run
        counts them once for all its files); :meth:`add_to_totals` then adds nothing."""
        self.all = list(columns)
        self.specs = dict(specs or {})
        #: The task's locale (None: the default): separators, symbol places, month names
        self.locale = locale
        names = [c.name for c in self.all]
        #: Sentences for the run record: names in ``columns`` the result does not have.
        self.notes = [
            f"columns names the column {name!r}, which the result does not have "
            f"(its columns: {', '.join(names) or 'none'}); its settings were not applied"
            for name in self.specs
            if self.all and name not in names
        ]
        #: Indexes (into a full row) of the columns shown, in order.
        self.visible = [i for i, c in enumerate(self.all) if not self._spec(i).hidden]
        #: The spec of each shown column (an empty one where none is given).
        self.shown_specs = [self._spec(i) for i in self.visible]
        self.labels = [self.all[i].name if s.label is None else s.label
                       for i, s in zip(self.visible, self.shown_specs, strict=True)]  # fmt: skip
        self.columns = [Column(label, self.all[i].type_name)
                        for i, label in zip(self.visible, self.labels, strict=True)]  # fmt: skip
        self.totals = Totals({i: s.total for i, s in enumerate(self.shown_specs) if s.total})
        #: Whether :meth:`add_to_totals` counts (False: the totals are counted elsewhere)
        self.counts = counted is None
        if counted is not None:
            if counted.kinds != self.totals.kinds:
                raise ValueError(
                    f"totals of other columns: {counted.kinds} for {self.totals.kinds}"
                )
            self.totals = counted
        self.trivial = not self.specs or (
            len(self.visible) == len(self.all) and self.labels == names
        )

    def _spec(self, index: int) -> ColumnSpec:
        return self.specs.get(self.all[index].name) or ColumnSpec()

    @property
    def has_totals(self) -> bool:
        return bool(self.totals.kinds)

    def project(self, rows: Sequence[Row]) -> Sequence[Row]:
        """The rows with only the shown columns (the rows themselves when all show; a
        text batch stays one, with fewer columns)."""
        if len(self.visible) == len(self.all):
            return rows
        keep = self.visible
        if isinstance(rows, TextBatch):
            return rows.select(keep)
        return [[row[i] for i in keep] for row in rows]

    def add_to_totals(self, shown_rows: Sequence[Row]) -> None:
        """Count rows already projected to the shown columns into the totals (unless they
        are counted elsewhere: ``counted``)."""
        if self.counts:
            self.totals.add(shown_rows)

    def text(self, index: int, value: Any, zone: ZoneInfo | None = None) -> str:
        """A value of the shown column ``index`` as text."""
        return format_value(value, self.shown_specs[index], zone, self.locale)

    def total_texts(self, zone: ZoneInfo | None = None) -> list[str]:
        """The totals row as text: each total formatted as its column, ``Total`` in the
        first cell when that column has none."""
        out = []
        for i, spec in enumerate(self.shown_specs):
            if spec.total is None:
                out.append("")
                continue
            value = self.totals.value(i)
            if spec.total is TotalKind.COUNT:
                count = ColumnSpec(format=ValueFormat.INTEGER)
                out.append(format_value(value, count, zone, self.locale))
            else:
                out.append(format_value(value, spec, zone, self.locale))
        if out and not out[0]:
            out[0] = TOTAL_LABEL
        return out
