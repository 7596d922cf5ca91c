"""A task's chart (src/core/chart.py): checked where a task is read, against the result's
column names when they are known, and gathered while rows stream (never more than 50)."""

from __future__ import annotations

import pytest

from src.core.chart import MAX_CATEGORIES, ChartData, ChartSpec, chart_column_errors, read_chart
from src.core.column_format import read_columns
from src.core.task import Task
from src.core.vocabulary import ChartType, ColumnType

GOOD = {"type": "bar", "x": "region", "y": ["revenue", "units"], "title": "Revenue"}


def test_a_good_chart_reads_and_writes_back() -> None:
    chart, errors = read_chart(GOOD)
    assert not errors and chart == ChartSpec(
        ChartType.BAR, "region", ("revenue", "units"), "Revenue"
    )
    assert chart.to_dict() == GOOD
    one, _ = read_chart({"type": "pie", "x": "region", "y": "revenue"})  # one y, no list
    assert one is not None and one.y == ("revenue",) and "title" not in one.to_dict()


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        ({**GOOD, "type": "donut"}, "chart.type", "'donut' is not a chart type; known: bar ("),
        ({**GOOD, "x": ""}, "chart.x", "is not a column name"),
        ({**GOOD, "y": []}, "chart.y", "is not a list of column names"),
        ({**GOOD, "y": ["a", "a"]}, "chart.y", "names a column twice"),
        ({**GOOD, "type": "pie"}, "chart.y", "a pie shows one column of numbers"),
        ({**GOOD, "x": "revenue"}, "chart.x", "'revenue' is also in y"),
        ({**GOOD, "title": "a\nb"}, "chart.title", "is not one line"),
        ({**GOOD, "colour": "red"}, "chart.colour", "unknown setting; known: type, x, y, title"),
        ("bar", "chart", "is not an object like"),
    ],
)
def test_each_problem_has_its_field(raw: object, field: str, message: str) -> None:
    chart, errors = read_chart(raw)
    assert chart is None
    assert [e.field for e in errors] == [field]
    assert message in errors[0].message


def test_what_the_task_itself_says_about_its_columns() -> None:
    specs, _ = read_columns({"id": {"hidden": True}, "label": {"format": "text"}})
    _, errors = read_chart({"type": "line", "x": "id", "y": ["label", "day"]}, specs,
                           {"day": ColumnType.DATE})  # fmt: skip
    assert [(e.field, e.message.split(" (")[0]) for e in errors] == [
        ("chart.x", "the column 'id' is hidden"),
        ("chart.y", "the column 'label' is text"),
        ("chart.y", "the column 'day' is date"),
    ]


def test_the_task_reader_reads_chart_and_locale_with_their_fields() -> None:
    base = {"id": "t", "name": "T", "query": "SELECT 1", "schedule": None}
    task = Task.from_dict({**base, "chart": GOOD, "locale": "de"})
    assert task.chart is not None and task.locale == "de"
    assert task.to_dict()["chart"] == GOOD and task.to_dict()["locale"] == "de"
    assert "chart" not in Task.from_dict(base).to_dict()
    with pytest.raises(Exception) as caught:
        Task.from_dict({**base, "locale": "dee", "chart": {**GOOD, "type": "pie"}})
    text = str(caught.value)
    assert "locale: 'dee' (did you mean 'de'?) is not a locale; known: en, en_GB, de" in text
    assert "chart.y: a pie shows one column" in text


def test_names_the_result_does_not_have() -> None:
    chart, _ = read_chart(GOOD)
    assert chart is not None
    assert chart_column_errors(chart, ["region", "revenue", "units"]) == []
    [error] = chart_column_errors(chart, ["region", "revenue"])
    assert error.startswith("chart names 'units', which the query's result does not have")
    assert "(its columns: region, revenue)" in error


def data_for(raw: dict, rows: list[list[object]], batch: int = 7) -> ChartData:
    chart, errors = read_chart(raw)
    assert chart is not None, errors
    data = ChartData(chart, ["Region", "Revenue", "units"], ["region", "revenue", "units"])
    for start in range(0, len(rows), batch):
        data.add(rows[start : start + batch])
    return data


def test_points_are_gathered_and_the_title_comes_from_the_labels() -> None:
    data = data_for(GOOD | {"title": None}, [["N", 10.5, 3], ["S", None, "x"]])
    assert data.categories == ["N", "S"]
    assert data.values == [[10.5, None], [3.0, None]]
    assert data.drawable and data.title == "Revenue and units by Region"


def test_more_than_50_categories_are_not_drawn_and_say_why() -> None:
    rows = [[f"r{i}", i, i] for i in range(MAX_CATEGORIES + 30)]
    data = data_for(GOOD, rows)
    assert len(data.categories) == MAX_CATEGORIES + 1  # no more kept: memory stays flat
    assert data.rows == 80 and not data.drawable
    assert data.problem() == (
        "the chart was not drawn: the result has 80 rows and a chart shows at most 50 "
        "categories (one per row); group the query so it returns fewer rows"
    )
    assert data_for(GOOD, rows[:50]).drawable


@pytest.mark.parametrize(
    ("raw", "rows", "problem"),
    [
        (GOOD, [], "the chart was not drawn: the result has no rows"),
        (GOOD, [["N", "a", 1]], "the chart was not drawn: 'Revenue' holds no numbers"),
        ({"type": "pie", "x": "region", "y": ["revenue"]}, [["N", -1, 0], ["S", 2, 0]],
         "the pie was not drawn: its column has negative numbers, which a pie cannot show"),
        ({**GOOD, "x": "regio"}, [["N", 1, 1]],
         "chart names 'regio', which the result does not have; the chart was not drawn"),
    ],
)  # fmt: skip
def test_a_chart_that_cannot_be_drawn_says_why(raw: dict, rows: list, problem: str) -> None:
    assert data_for(raw, rows).problem() == problem
