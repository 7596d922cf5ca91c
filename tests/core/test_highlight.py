"""Highlight rules (src/core/highlight.py): read with field paths, held only by numbers,
and one definition for the email's CSS and the xlsx's formula."""

from __future__ import annotations

from decimal import Decimal

import pytest

from src.core.column_format import ColumnSpec, read_columns
from src.core.highlight import (
    HighlightRule,
    css_of,
    excel_rule_formula,
    highlight_css,
    parse_when,
    read_rules,
    styles_of,
)
from src.core.vocabulary import ColumnType, Comparison, HighlightStyle

RULES = (
    HighlightRule(Comparison.LT, 0, HighlightStyle.NEGATIVE),
    HighlightRule(Comparison.GE, 1000, HighlightStyle.STRONG),
    HighlightRule(Comparison.GE, 5000, HighlightStyle.FILL),
)


@pytest.mark.parametrize(
    ("value", "styles"),
    [
        (-0.01, {HighlightStyle.NEGATIVE}),
        (0, set()),
        (999.99, set()),
        (Decimal("1000"), {HighlightStyle.STRONG}),
        (7500, {HighlightStyle.STRONG, HighlightStyle.FILL}),  # every rule that holds
        ("-5", set()),  # text is never highlighted
        (None, set()),
        (True, set()),  # a boolean is not a number here
        (float("nan"), set()),
    ],
)
def test_every_rule_that_holds_applies_and_only_to_numbers(value: object, styles: set) -> None:
    assert styles_of(value, RULES) == styles


def test_every_operator() -> None:
    held = {op: HighlightRule(op, 5, HighlightStyle.FILL).holds(5) for op in Comparison}
    assert held == {
        Comparison.LT: False,
        Comparison.LE: True,
        Comparison.GT: False,
        Comparison.GE: True,
        Comparison.EQ: True,
        Comparison.NE: False,
    }


def test_when_reads_operator_and_number_and_writes_them_back() -> None:
    assert parse_when(" >=1e3 ", "w") == (Comparison.GE, 1000.0)
    assert parse_when("!= -0.5", "w") == (Comparison.NE, -0.5)
    assert HighlightRule(Comparison.GE, 1000.0, HighlightStyle.STRONG).to_dict() == {
        "when": ">= 1000",
        "style": "strong",
    }
    with pytest.raises(Exception, match=r"'=> 0' is not an operator and a number like"):
        parse_when("=> 0", "w")


def test_read_rules_names_each_problem_with_its_path() -> None:
    errors: list = []
    rules = read_rules(
        [{"when": "< 0", "style": "red"}, {"when": "big", "style": "fill"}, {"if": "< 0"}],
        "columns.m.highlight",
        errors,
    )
    assert rules == ()
    fields = [e.field for e in errors]
    assert fields == [
        "columns.m.highlight[0].style",
        "columns.m.highlight[1].when",
        "columns.m.highlight[2].if",
        "columns.m.highlight[2].style",
        "columns.m.highlight[2].when",
    ]
    assert "known: negative (red text" in errors[0].message
    errors.clear()
    read_rules({"when": "< 0"}, "p", errors)
    assert "is not a list of rules like" in errors[0].message


def test_a_column_that_holds_no_numbers_cannot_be_highlighted() -> None:
    rule = [{"when": "< 0", "style": "negative"}]
    _, errors = read_columns(
        {"name": {"format": "text", "highlight": rule}, "day": {"highlight": rule}},
        {"day": ColumnType.DATE},
    )
    assert [(e.field, e.message.split(",")[0]) for e in errors] == [
        ("columns.name.highlight", "a text column holds no numbers"),
        ("columns.day.highlight", "a date column holds no numbers"),
    ]
    specs, errors = read_columns({"margin": {"format": "percent", "highlight": rule}})
    assert not errors and specs["margin"].to_dict()["highlight"] == [
        {"when": "< 0", "style": "negative"}
    ]


def test_email_css_and_excel_formula_come_from_the_same_rules() -> None:
    spec = ColumnSpec(highlight=RULES)
    assert highlight_css(-3, spec) == "color:#c00000"
    assert highlight_css(6000, spec) == "font-weight:bold;background-color:#fff2cc"
    assert highlight_css(6000, None) == highlight_css(6000, ColumnSpec()) == ""
    assert css_of(frozenset()) == ""
    assert excel_rule_formula(RULES[0], "C2") == "AND(ISNUMBER(C2),C2<0)"
    ne = HighlightRule(Comparison.NE, 0.5, HighlightStyle.FILL)
    assert excel_rule_formula(ne, "D2") == "AND(ISNUMBER(D2),D2<>0.5)"
