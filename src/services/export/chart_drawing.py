"""A task's chart as a reportlab drawing: drawn in the PDF, and the email's picture.

One drawing (reportlab.graphics.charts: ``VerticalBarChart``, ``HorizontalLineChart``,
``Pie``) from :class:`~src.core.chart.ChartData`: the PDF draws it on its first page,
and :mod:`chart_png` rasterises the same drawing for the email, so both show the same
chart: the title, the categories (the ``x`` column's values as the report shows them),
the value axis in the ``y`` column's format and the task's locale, the series in the
palette the xlsx uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.charts.piecharts import Pie
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib.colors import HexColor, white

from src.core.chart import PALETTE, ChartData
from src.core.column_format import ColumnSpec, format_value
from src.core.vocabulary import ChartType, ReportLocale, ValueFormat
from src.services.export.pdf_fonts import fonts

#: Size of the chart in points: the PDF's width less its margins, and a third of a page.
WIDTH, HEIGHT = 520.0, 220.0
TITLE_SIZE, LABEL_SIZE = 11, 7
#: Characters of a category label shown (longer ones are cut with an ellipsis).
LABEL_CHARS = 18
_COLORS = [HexColor("#" + c) for c in PALETTE]


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 1)] + "…"


def category_labels(
    data: ChartData, specs: Sequence[ColumnSpec], zone: Any, locale: Any
) -> list[str]:
    """The categories as the report shows them (the x column's format), cut to fit."""
    spec = specs[data.x_index] if 0 <= data.x_index < len(specs) else None
    limit = LABEL_CHARS if len(data.categories) <= 8 else 14
    return [_short(format_value(v, spec, zone, locale), limit) for v in data.categories]


def _axis_format(spec: ColumnSpec | None, locale: ReportLocale | None) -> Any:
    """The value axis' labels: the y column's format without decimals (``€1,000``), a
    plain grouped number when it has none."""
    base = spec if spec is not None and spec.format else ColumnSpec(format=ValueFormat.NUMBER)
    whole = replace(base, decimals=0) if base.format is not ValueFormat.INTEGER else base

    def label(value: float) -> str:
        shown = whole if float(value).is_integer() or abs(value) >= 10 else base
        return format_value(value, shown, None, locale)

    return label


def chart_drawing(
    data: ChartData,
    specs: Sequence[ColumnSpec],
    *,
    zone: Any = None,
    locale: ReportLocale | None = None,
    width: float = WIDTH,
    height: float = HEIGHT,
) -> Drawing:
    """The drawing of a drawable chart (``data.drawable``); ``specs``: the shown columns'."""
    font = fonts()
    drawing = Drawing(width, height)
    drawing.add(
        String(width / 2, height - TITLE_SIZE - 2, _short(data.title, 90),
               fontName=font.bold, fontSize=TITLE_SIZE, textAnchor="middle")
    )  # fmt: skip
    labels = category_labels(data, specs, zone, locale)
    values = [[0.0 if v is None else v for v in series] for series in data.values]
    legend_room = 16 if len(values) > 1 else 0
    top = height - TITLE_SIZE - 14
    if data.spec.type is ChartType.PIE:
        pie = Pie()
        size = min(top - 36, width / 2.2)  # room for the labels above and below
        pie.width = pie.height = size
        pie.x, pie.y = (width - size) / 2, (top - size) / 2
        pie.data = values[0]
        pie.labels = labels
        pie.simpleLabels = 0  # labels outside, joined by a pointer line
        pie.sideLabels = 1
        pie.slices.strokeColor = white
        pie.slices.strokeWidth = 0.5
        pie.slices.fontName = font.regular
        pie.slices.fontSize = LABEL_SIZE
        for i in range(len(values[0])):
            pie.slices[i].fillColor = _COLORS[i % len(_COLORS)]
        drawing.add(pie)
        return drawing
    chart: VerticalBarChart | HorizontalLineChart
    chart = VerticalBarChart() if data.spec.type is ChartType.BAR else HorizontalLineChart()
    rotate = len(labels) > 8
    bottom = 62 if rotate else 24
    chart.x, chart.y = 56, bottom
    chart.width, chart.height = width - chart.x - 10, top - legend_room - bottom
    chart.data = values
    axis = chart.categoryAxis
    axis.categoryNames = labels
    axis.labels.fontName = font.regular
    axis.labels.fontSize = LABEL_SIZE
    if rotate:
        axis.labels.angle = 35
        axis.labels.boxAnchor = "ne"
        axis.labels.dx, axis.labels.dy = 2, -2
    values_axis = chart.valueAxis
    values_axis.labels.fontName = font.regular
    values_axis.labels.fontSize = LABEL_SIZE
    y_spec = specs[data.y_indexes[0]] if 0 <= data.y_indexes[0] < len(specs) else None
    values_axis.labelTextFormat = _axis_format(y_spec, locale)
    values_axis.rangeRound = "both"  # the axis ends on a tick above the highest bar
    values_axis.visibleGrid = 1
    values_axis.gridStrokeColor = HexColor("#DDDDDD")
    values_axis.gridStrokeWidth = 0.5
    if min(min(s) for s in values) >= 0:
        values_axis.valueMin = 0
    for n in range(len(values)):
        color = _COLORS[n % len(_COLORS)]
        if isinstance(chart, VerticalBarChart):
            chart.bars[n].fillColor = color
            chart.bars[n].strokeColor = None
        else:
            chart.lines[n].strokeColor = color
            chart.lines[n].strokeWidth = 2
    if isinstance(chart, VerticalBarChart):
        chart.groupSpacing = 8 if len(labels) <= 12 else 3
        chart.barSpacing = 1
    drawing.add(chart)
    if legend_room:
        legend = Legend()
        # one line under the title, left to right
        legend.x, legend.y = chart.x, top - 2
        legend.alignment = "right"
        legend.columnMaximum = 1
        legend.dx = legend.dy = 7
        legend.deltax = 20
        legend.autoXPadding = 12
        legend.strokeColor = None
        legend.fontName = font.regular
        legend.fontSize = LABEL_SIZE + 1
        legend.boxAnchor = "nw"
        legend.colorNamePairs = [
            (_COLORS[n % len(_COLORS)], _short(name, 30)) for n, name in enumerate(data.series)
        ]
        drawing.add(legend)
    return drawing
