"""The report options of add / edit read into tasks.json settings (src/core/report_edit.py),
and applied by TaskEdit keeping what they do not change."""

from __future__ import annotations

import pytest

from src.core.errors import ValidationError
from src.core.report_edit import (
    column_changes,
    column_rules_text,
    parse_chart,
    parse_column_rules,
    parse_format,
    parse_rule,
)
from src.core.task import Task
from src.core.task_edit import TaskEdit

CLEARED = {"format": None, "decimals": None, "currency": None, "pattern": None, "words": None}


@pytest.mark.parametrize(
    ("value", "settings"),
    [
        ("revenue=currency:eur:2", {"format": "currency", "currency": "EUR", "decimals": 2}),
        ("revenue=currency:USD", {"format": "currency", "currency": "USD"}),
        ("n=number:3", {"format": "number", "decimals": 3}),
        ("n=integer", {"format": "integer"}),
        ("share=percent:1", {"format": "percent", "decimals": 1}),
        ("at=datetime:dd.mm.yyyy hh:mm", {"format": "datetime", "pattern": "dd.mm.yyyy hh:mm"}),
        ("paid=boolean:paid/open", {"format": "boolean", "words": ["paid", "open"]}),
        ("x=none", {}),
    ],
)
def test_formats_and_their_arguments(value: str, settings: dict) -> None:
    column, got = parse_format(value)
    assert column == value.partition("=")[0]
    assert got == {**CLEARED, **settings}  # a new format clears the old one's settings


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("revenue", "'revenue' is not COLUMN=FORMAT, e.g. revenue=currency:EUR:2"),
        ("r=money", "'money' in 'r=money' is not a format; known: integer, number"),
        ("r=currency", "a currency takes its code and decimals: currency:EUR[:2]"),
        ("r=number:two", "'two' is not a whole number of decimals"),
        ("r=boolean:yes", "a boolean takes its two words: boolean:paid/open"),
        ("r=text:x", "text takes no arguments"),
    ],
)
def test_a_format_that_cannot_be_read_says_the_form(value: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_format(value)
    assert caught.value.field == "--format" and message in caught.value.message


def test_highlight_rules() -> None:
    assert parse_rule("margin<0=negative") == ("margin", {"when": "< 0", "style": "negative"})
    assert parse_rule(" gross margin >= 1.5e3 = strong") == (
        "gross margin",
        {"when": ">= 1.5e3", "style": "strong"},
    )
    assert parse_rule("n=0=fill") == ("n", {"when": "= 0", "style": "fill"})
    assert parse_rule("n!=0=fill")[1] == {"when": "!= 0", "style": "fill"}
    assert parse_rule("margin=none") == ("margin", None)
    with pytest.raises(ValidationError, match="is not COLUMN, an operator, a number, = and"):
        parse_rule("margin<zero=negative")


def test_one_columns_rules_on_one_line_both_ways() -> None:
    """The web form's highlight box: --highlight's rules without the column."""
    rules = parse_column_rules(" <0=negative; >= 1.5e3 = strong\n!=7=fill;", "columns.m.highlight")
    assert rules == [
        {"when": "< 0", "style": "negative"},
        {"when": ">= 1.5e3", "style": "strong"},
        {"when": "!= 7", "style": "fill"},
    ]
    assert column_rules_text(rules) == "<0=negative; >=1.5e3=strong; !=7=fill"
    assert parse_column_rules(column_rules_text(rules), "f") == rules
    assert parse_column_rules("  ", "f") == []
    with pytest.raises(ValidationError) as caught:
        parse_column_rules("<0=negative; below zero", "columns.m.highlight")
    assert caught.value.field == "columns.m.highlight"
    assert caught.value.message.startswith("'below zero' is not an operator, a number, = and")
    assert "e.g. '<0=negative'" in caught.value.message


def test_column_changes_per_column() -> None:
    changes = column_changes(
        labels=["revenue=Revenue", "id="],
        formats=["revenue=currency:EUR"],
        thousands=["units=off", "revenue=on"],
        totals=["revenue=sum", "units=none"],
        hide=["id"],
        show=["note"],
        highlights=["revenue<0=negative", "revenue>=1000=strong", "units=none"],
    )
    assert changes == {
        "revenue": {
            "label": "Revenue",
            **CLEARED,
            "format": "currency",
            "currency": "EUR",
            "thousands": None,
            "total": "sum",
            "highlight": [
                {"when": "< 0", "style": "negative"},
                {"when": ">= 1000", "style": "strong"},
            ],
        },
        "id": {"label": None, "hidden": True},
        "units": {"thousands": False, "total": None, "highlight": None},
        "note": {"hidden": None},
    }
    with pytest.raises(ValidationError, match="'units=no' is not COLUMN=on or COLUMN=off"):
        column_changes(thousands=["units=no"])


def test_chart_options() -> None:
    assert parse_chart("bar:x=region:y=revenue, units:title=Revenue: by region") == {
        "type": "bar",
        "x": "region",
        "y": ["revenue", "units"],
        "title": "Revenue: by region",
    }
    assert parse_chart("title=New") == {"title": "New"}
    assert parse_chart("pie") == {"type": "pie"}
    assert parse_chart("y=a:title=") == {"y": ["a"], "title": None}
    with pytest.raises(ValidationError, match="'donut' is not a chart type"):
        parse_chart("donut:x=a")
    with pytest.raises(ValidationError, match="'z=1' in 'bar:z=1' is not TYPE or KEY=VALUE"):
        parse_chart("bar:z=1")


BASE = {
    "id": "t",
    "name": "Sales",
    "query": "SELECT region, revenue FROM s",
    "schedule": None,
    "columns": {"revenue": {"format": "currency", "currency": "EUR", "total": "sum"}},
    "chart": {"type": "bar", "x": "region", "y": ["revenue"], "title": "Old"},
}


def test_edit_keeps_what_it_does_not_change() -> None:
    task = Task.from_dict(BASE)
    edit = TaskEdit(
        columns=column_changes(labels=["revenue=Revenue"], formats=["region=text"]),
        chart=parse_chart("line:title=New"),
        locale="fr",
    )
    changed = edit.apply(task).to_dict()
    assert changed["columns"] == {
        "revenue": {"label": "Revenue", "format": "currency", "currency": "EUR", "total": "sum"},
        "region": {"format": "text"},
    }
    assert changed["chart"] == {"type": "line", "x": "region", "y": ["revenue"], "title": "New"}
    assert changed["locale"] == "fr"
    gone = TaskEdit(no_chart=True, columns=column_changes(formats=["revenue=none"],
                                                          totals=["revenue=none"]))  # fmt: skip
    after = gone.apply(task).to_dict()
    assert "chart" not in after and "columns" not in after  # nothing left: removed


def test_an_edit_the_validator_refuses_names_the_tasks_json_field() -> None:
    task = Task.from_dict(BASE)
    with pytest.raises(Exception) as caught:
        TaskEdit(chart=parse_chart("pie:y=revenue,cost")).apply(task)
    assert "chart.y: a pie shows one column of numbers" in str(caught.value)
    with pytest.raises(Exception) as caught:
        TaskEdit(columns=column_changes(formats=["revenue=currency:EURO"])).apply(task)
    assert "columns.revenue.currency: 'EURO' is not an ISO 4217 currency code" in str(caught.value)
