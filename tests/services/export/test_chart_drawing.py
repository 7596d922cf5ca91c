"""The chart's reportlab drawing (src/services/export/chart_drawing.py): categories as the
report shows them, the value axis in the y column's format and the task's locale, the
xlsx's palette, a legend for more than one series."""

from __future__ import annotations

from typing import Any

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.charts.piecharts import Pie
from reportlab.graphics.shapes import String
from reportlab.lib.colors import HexColor

from src.core.chart import PALETTE, ChartData, read_chart
from src.core.column_format import ColumnSpec
from src.services.export.chart_drawing import category_labels, chart_drawing
from tests.fixtures.report_samples import ROWS, SPECS

SHOWN = [SPECS["region"], SPECS["units"], SPECS["revenue"]]
NAMES = ["region", "units", "revenue"]
LABELS = ["Region", "Units", "Revenue"]


def data(raw: dict[str, Any], rows: list[list[Any]] | None = None) -> ChartData:
    chart, errors = read_chart(raw, SPECS)
    assert chart is not None, errors
    points = ChartData(chart, LABELS, NAMES)
    points.add([row[1:] for row in (rows or ROWS)])  # shown columns: id is hidden
    return points


def parts(raw: dict[str, Any], **kwargs: Any) -> list[Any]:
    return list(chart_drawing(data(raw), SHOWN, **kwargs).contents)


def test_a_bar_chart_with_its_title_categories_and_axis_in_the_columns_format() -> None:
    title, chart = parts({"type": "bar", "x": "region", "y": ["revenue"]})
    assert isinstance(title, String) and title.text == "Revenue by Region"
    assert isinstance(chart, VerticalBarChart)
    assert chart.categoryAxis.categoryNames == ["North", "South", "East", "West"]
    assert chart.data == [[1234.5, -20.25, 560.0, 2210.4]]
    assert chart.valueAxis.labelTextFormat(2000) == "€2,000"
    assert chart.bars[0].fillColor == HexColor("#" + PALETTE[0])


def test_the_locale_reads_on_the_axis() -> None:
    _, chart = parts({"type": "line", "x": "region", "y": ["revenue"]}, locale="de")
    assert isinstance(chart, HorizontalLineChart)
    assert chart.valueAxis.labelTextFormat(2000) == "2.000\xa0€"
    assert chart.valueAxis.labelTextFormat(2.5) == "2,50\xa0€"


def test_two_series_get_a_legend_and_a_pie_its_slices() -> None:
    *_, legend = parts({"type": "bar", "x": "region", "y": ["revenue", "units"]})
    assert isinstance(legend, Legend)
    assert [name for _, name in legend.colorNamePairs] == ["Revenue", "Units"]
    _, pie = parts({"type": "pie", "x": "region", "y": ["units"]})
    assert isinstance(pie, Pie) and pie.data == [12.0, 3.0, 7.0, 11.0]
    assert pie.labels == ["North", "South", "East", "West"]


def test_long_categories_are_cut_and_many_are_turned() -> None:
    rows = [[0, f"A very long region name {i}", i, float(i)] for i in range(20)]
    points = data({"type": "bar", "x": "region", "y": ["revenue"]}, rows)
    labels = category_labels(points, SHOWN, None, None)
    assert labels[0] == "A very long r…" and len(labels) == 20
    chart = chart_drawing(points, SHOWN).contents[1]
    assert chart.categoryAxis.labels.angle == 35
    dates = category_labels(points, [ColumnSpec(), *SHOWN[1:]], None, None)
    assert dates[0].startswith("A very")
