"""Highlight rules of a column: ``"highlight": [{"when": "< 0", "style": "negative"}]``.

A rule compares a cell's number with a constant (``when``: one of the operators of
:class:`~src.core.vocabulary.Comparison` and a number) and, when it holds, shows the cell
in a style (:class:`~src.core.vocabulary.HighlightStyle`: red text, bold, a light fill).
Every rule that holds applies, so a cell can be red and bold. Only numbers are compared:
text, dates and empty cells are never highlighted, nor is the totals row (a rule says
which rows stand out; a total is not one of them). The comparison is with the value
itself, not as shown: a percent column's ``0.25`` is compared, not ``25%``.

One definition, four outputs:

* :func:`read_rules` checks a column's rules where a task is read (field paths);
* :func:`styles_of` says which styles hold for a value (the PDF draws them);
* :func:`highlight_css` is the inline CSS of an email cell;
* :func:`excel_rule_formula` and :data:`STYLE_COLORS` give the xlsx its native
  conditional formatting (a sheet-level rule, nothing written per cell).
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from src.core.cell_text import is_number, number_text
from src.core.errors import ValidationError
from src.core.vocabulary import Comparison, HighlightStyle

if TYPE_CHECKING:
    from src.core.column_format import ColumnSpec

#: The colours of the styles (RGB hex), shared by the xlsx, the PDF and the email.
NEGATIVE_COLOR = "C00000"
FILL_COLOR = "FFF2CC"
STYLE_COLORS = {HighlightStyle.NEGATIVE: NEGATIVE_COLOR, HighlightStyle.FILL: FILL_COLOR}
#: Rules a column may have: more would not read as a highlight any more.
MAX_RULES = 5

_WHEN = re.compile(r"\s*(<=|>=|!=|<|>|=)\s*([-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*")
_TESTS: dict[Comparison, Callable[[Any, Any], bool]] = {
    Comparison.LT: operator.lt,
    Comparison.LE: operator.le,
    Comparison.GT: operator.gt,
    Comparison.GE: operator.ge,
    Comparison.EQ: operator.eq,
    Comparison.NE: operator.ne,
}
#: Excel's operator for each comparison, in a conditional-formatting formula.
_EXCEL_OPERATORS = {
    Comparison.LT: "<",
    Comparison.LE: "<=",
    Comparison.GT: ">",
    Comparison.GE: ">=",
    Comparison.EQ: "=",
    Comparison.NE: "<>",
}
_EXAMPLE = '[{"when": "< 0", "style": "negative"}]'


@dataclass(frozen=True)
class HighlightRule:
    """``when`` (an operator and a number) and the ``style`` of the cells it holds for."""

    comparison: Comparison
    operand: float
    style: HighlightStyle

    @property
    def when(self) -> str:
        """The ``when`` text as tasks.json holds it: ``< 0``, ``>= 1000``."""
        return f"{self.comparison.value} {number_text(self.operand)}"

    def holds(self, value: Any) -> bool:
        """Whether the rule holds for ``value`` (never for a value that is not a number)."""
        if not is_number(value):
            return False
        try:
            number = float(value)
        except (OverflowError, ValueError):
            return False
        return not math.isnan(number) and _TESTS[self.comparison](number, self.operand)

    def to_dict(self) -> dict[str, str]:
        return {"when": self.when, "style": self.style.value}


def parse_when(text: Any, field: str) -> tuple[Comparison, float]:
    """``"< 0"`` -> (LT, 0.0); anything else is a ValidationError that shows the form."""
    match = _WHEN.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise ValidationError(
            field,
            f'{text!r} is not an operator and a number like "< 0" or ">= 1000"; '
            f"operators: {' '.join(Comparison.values())}",
        )
    number = float(match.group(2))
    if not math.isfinite(number):
        raise ValidationError(field, f"{match.group(2)!r} is not a finite number")
    return Comparison(match.group(1)), number


def read_rules(raw: Any, path: str, errors: list[ValidationError]) -> tuple[HighlightRule, ...]:
    """A column's ``highlight`` list checked (``path``: ``columns.margin.highlight``);
    each problem is added to ``errors`` with its field path."""
    if raw is None:
        return ()
    if not isinstance(raw, list) or not raw:
        errors.append(ValidationError(path, f"{raw!r} is not a list of rules like {_EXAMPLE}"))
        return ()
    if len(raw) > MAX_RULES:
        errors.append(ValidationError(path, f"{len(raw)} rules; a column has at most {MAX_RULES}"))
        return ()
    rules = []
    for n, entry in enumerate(raw):
        where = f"{path}[{n}]"
        if not isinstance(entry, dict):
            example = '{"when": "< 0", "style": "negative"}'
            errors.append(ValidationError(where, f"{entry!r} is not a rule like {example}"))
            continue
        unknown = [key for key in entry if key not in ("when", "style")]
        for key in unknown:
            errors.append(ValidationError(f"{where}.{key}", "unknown setting; known: when, style"))
        style = entry.get("style")
        if style not in HighlightStyle.values():
            errors.append(
                ValidationError(
                    f"{where}.style",
                    f"{style!r} is not a style; known: "
                    + "; ".join(f"{s.value} ({s.help})" for s in HighlightStyle),
                )
            )
        try:
            comparison, operand = parse_when(entry.get("when"), f"{where}.when")
        except ValidationError as exc:
            errors.append(exc)
            continue
        if style in HighlightStyle.values() and not unknown:
            rules.append(HighlightRule(comparison, operand, HighlightStyle(style)))
    return tuple(rules)


def styles_of(value: Any, rules: Sequence[HighlightRule]) -> frozenset[HighlightStyle]:
    """The styles of every rule that holds for ``value`` (empty: shown plain)."""
    if not rules:
        return frozenset()
    return frozenset(rule.style for rule in rules if rule.holds(value))


def css_of(styles: frozenset[HighlightStyle]) -> str:
    """Inline CSS for these styles: ``color:#c00000;font-weight:bold;...``; empty if none."""
    parts = []
    if HighlightStyle.NEGATIVE in styles:
        parts.append(f"color:#{NEGATIVE_COLOR.lower()}")
    if HighlightStyle.STRONG in styles:
        parts.append("font-weight:bold")
    if HighlightStyle.FILL in styles:
        parts.append(f"background-color:#{FILL_COLOR.lower()}")
    return ";".join(parts)


def highlight_css(value: Any, spec: ColumnSpec | None) -> str:
    """The inline CSS of an email cell holding ``value`` in a column of ``spec`` (None:
    a column the task does not configure): empty when no rule holds."""
    if spec is None or not spec.highlight:
        return ""
    return css_of(styles_of(value, spec.highlight))


def excel_rule_formula(rule: HighlightRule, cell: str) -> str:
    """The formula of an ``expression`` conditional-formatting rule for the top-left
    ``cell`` of its range: ``AND(ISNUMBER(C2),C2<0)``. ISNUMBER keeps text and empty
    cells out, which Excel's plain "cell value" rules would compare (text is greater than
    any number there, and an empty cell equals 0)."""
    operand = number_text(rule.operand)
    return f"AND(ISNUMBER({cell}),{cell}{_EXCEL_OPERATORS[rule.comparison]}{operand})"
