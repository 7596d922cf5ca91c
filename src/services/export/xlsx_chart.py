"""A task's chart in the xlsx: a native Excel chart on a sheet of its own.

The chart part is built by openpyxl's chart model (``openpyxl.chart``: the DrawingML
Excel and LibreOffice read) and refers to the data sheet's cells, so it follows the
numbers as they are in the file; the chart sheet, its drawing and their relationships
are the few fixed lines below. Written once, when the workbook is closed, and only for a
chart :class:`~src.core.chart.ChartData` finds drawable (at most 50 rows, so the data
sit on the first sheet).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from src.core.chart import PALETTE, ChartData
from src.core.vocabulary import ChartType
from src.services.export.xlsx_package import NS, NS_R, column_letter

if TYPE_CHECKING:
    from openpyxl.chart import BarChart, LineChart, PieChart

NS_DRAWING = "http://schemas.openxmlformats.org/drawingml/2006/spreadsheetDrawing"
NS_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
NS_CHART = "http://schemas.openxmlformats.org/drawingml/2006/chart"
NS_PKG = "http://schemas.openxmlformats.org/package/2006/relationships"
#: The chart sheet's name (another is chosen if a data sheet has it).
CHART_SHEET_NAME = "Chart"
#: Size of the chart on its sheet, in EMU (a chart sheet stretches it to the window).
_WIDTH, _HEIGHT = 9_144_000, 6_096_000


@dataclass(frozen=True)
class ChartSheet:
    """The chart's sheet: its name in the workbook and the parts it adds."""

    name: str
    parts: list[tuple[str, str]]


def _ref(sheet: str, column: int, last_row: int) -> str:
    letter = column_letter(column)
    quoted = "'" + sheet.replace("'", "''") + "'"
    return f"{quoted}!${letter}$2:${letter}${last_row}"


def chart_xml(data: ChartData, sheet: str) -> str:
    """The chart part: the chart of ``data`` over the cells of the data sheet ``sheet``."""
    # openpyxl is imported here, for a chart only: imported by every export it added ~6 MB
    # to each run's memory, and ~12 MB more where numpy is installed (openpyxl imports it)
    from openpyxl.chart import BarChart, LineChart, PieChart, Series
    from openpyxl.chart.data_source import AxDataSource, StrRef
    from openpyxl.chart.label import DataLabelList
    from openpyxl.chart.marker import DataPoint
    from openpyxl.chart.shapes import GraphicalProperties
    from openpyxl.drawing.line import LineProperties
    from openpyxl.xml.functions import tostring

    last_row = data.rows + 1
    chart: BarChart | LineChart | PieChart
    if data.spec.type is ChartType.BAR:
        chart = BarChart()
        chart.type = "col"
    elif data.spec.type is ChartType.LINE:
        chart = LineChart()
    else:
        chart = PieChart()
        chart.dataLabels = DataLabelList(showPercent=True)
    chart.title = data.title
    categories = AxDataSource(strRef=StrRef(f=_ref(sheet, data.x_index, last_row)))
    for n, (name, index) in enumerate(zip(data.series, data.y_indexes, strict=True)):
        series = Series(_ref(sheet, index, last_row), title=name)
        series.cat = categories
        # colours given, not left to the reader: LibreOffice draws unfilled bars otherwise
        color = PALETTE[n % len(PALETTE)]
        if isinstance(chart, LineChart):
            series.graphicalProperties = GraphicalProperties(
                ln=LineProperties(solidFill=color, w=28575)
            )
            series.smooth = False
        elif isinstance(chart, PieChart):
            series.dPt = [
                DataPoint(idx=i, spPr=GraphicalProperties(solidFill=PALETTE[i % len(PALETTE)]))
                for i in range(data.rows)
            ]
        else:
            series.graphicalProperties = GraphicalProperties(solidFill=color)
        chart.series.append(series)
    if not isinstance(chart, PieChart):
        # openpyxl 3.1 marks axes deleted unless told: Excel would draw no axis labels
        chart.x_axis.delete = False
        chart.y_axis.delete = False
        chart.y_axis.title = data.series[0] if len(data.series) == 1 else None
        chart.x_axis.title = data.x_label
        if len(data.series) == 1:
            chart.legend = None
    text: str = tostring(chart._write()).decode()
    return '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n' + text


def chart_sheet(data: ChartData, data_sheet: str, taken: list[str]) -> ChartSheet:
    """The parts of the chart sheet (chart, drawing, sheet, relationships)."""
    name, n = CHART_SHEET_NAME, 1
    while name.lower() in (t.lower() for t in taken):
        n += 1
        name = f"{CHART_SHEET_NAME} {n}"
    drawing = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<xdr:wsDr xmlns:xdr="{NS_DRAWING}" xmlns:a="{NS_A}">'
        f'<xdr:absoluteAnchor><xdr:pos x="0" y="0"/><xdr:ext cx="{_WIDTH}" cy="{_HEIGHT}"/>'
        '<xdr:graphicFrame macro=""><xdr:nvGraphicFramePr><xdr:cNvPr id="2" name="Chart 1"/>'
        '<xdr:cNvGraphicFramePr><a:graphicFrameLocks noGrp="1"/></xdr:cNvGraphicFramePr>'
        '</xdr:nvGraphicFramePr><xdr:xfrm><a:off x="0" y="0"/><a:ext cx="0" cy="0"/>'
        f'</xdr:xfrm><a:graphic><a:graphicData uri="{NS_CHART}">'
        f'<c:chart xmlns:c="{NS_CHART}" xmlns:r="{NS_R}" r:id="rId1"/>'
        "</a:graphicData></a:graphic></xdr:graphicFrame><xdr:clientData/>"
        "</xdr:absoluteAnchor></xdr:wsDr>"
    )
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<chartsheet xmlns="{NS}" xmlns:r="{NS_R}"><sheetPr/>'
        '<sheetViews><sheetView zoomToFit="1" workbookViewId="0"/></sheetViews>'
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
        'footer="0.3"/><pageSetup orientation="landscape"/><drawing r:id="rId1"/></chartsheet>'
    )

    def rels(kind: str, target: str) -> str:
        return (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="{NS_PKG}"><Relationship Id="rId1" '
            f'Type="{NS_R}/{kind}" Target="{target}"/></Relationships>'
        )

    return ChartSheet(
        name,
        [
            ("xl/charts/chart1.xml", chart_xml(data, data_sheet)),
            ("xl/drawings/drawing1.xml", drawing),
            ("xl/drawings/_rels/drawing1.xml.rels", rels("chart", "../charts/chart1.xml")),
            ("xl/chartsheets/sheet1.xml", sheet),
            ("xl/chartsheets/_rels/sheet1.xml.rels", rels("drawing", "../drawings/drawing1.xml")),
        ],
    )
